package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import dev.loraone.runtime.ClusterConfig.Role;
import dev.loraone.runtime.ClusterConfig.TlsOptions;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootstrapTest {
  private static Bootstrap.Options config(List<String> contacts) {
    return new Bootstrap.Options("config", null, 7626, contacts, "loraone");
  }

  @Test
  void configDiscoveryListsTheContactPointsAndNoSeedNodes() {
    Config c = ClusterConfig.of(Role.WORKER, "127.0.0.1", 25521, List.of(), TlsOptions.NONE,
        config(List.of("127.0.0.1:7626", "[::1]:7627")));
    assertFalse(c.hasPath("pekko.cluster.seed-nodes") && !c.getStringList("pekko.cluster.seed-nodes").isEmpty());
    assertEquals(List.of(Bootstrap.Starter.class.getName()), c.getStringList("pekko.extensions"));
    assertEquals("127.0.0.1", c.getString("pekko.management.http.hostname"), "the cluster address by default");
    assertEquals(7626, c.getInt("pekko.management.http.port"));
    String boot = "pekko.management.cluster.bootstrap.";
    assertEquals("config", c.getString(boot + "contact-point-discovery.discovery-method"));
    assertEquals("loraone", c.getString(boot + "contact-point-discovery.service-name"));
    assertFalse(c.getBoolean(boot + "contact-point.filter-on-fallback-port"), "nodes on one host differ in port");
    List<? extends Config> endpoints = c.getConfigList("pekko.discovery.config.services.loraone.endpoints");
    assertEquals(List.of("127.0.0.1:7626", "::1:7627"),
        endpoints.stream().map(e -> e.getString("host") + ":" + e.getInt("port")).toList());
    assertEquals(1, c.getInt(boot + "contact-point-discovery.required-contact-point-nr"), "loraone-node.conf");
  }

  @Test
  void kubernetesDiscoveryFindsTheManagementPortByNameAndPodsByLabel() {
    Config c = ClusterConfig.of(Role.COORDINATOR, "10.1.2.3", 25520, List.of(), TlsOptions.NONE,
        new Bootstrap.Options("kubernetes-api", null, 7626, List.of(), "loraone"));
    assertEquals("kubernetes-api", c.getString("pekko.management.cluster.bootstrap.contact-point-discovery"
        + ".discovery-method"));
    assertEquals("management", c.getString("pekko.management.cluster.bootstrap.contact-point-discovery.port-name"));
    assertEquals("app.kubernetes.io/part-of=%s", c.getString("pekko.discovery.kubernetes-api.pod-label-selector"));
    assertTrue(c.getBoolean("pekko.discovery.kubernetes-api.use-raw-ip"), "contact points by pod IP");
    assertEquals("10.1.2.3", c.getString("pekko.management.http.hostname"));
  }

  @Test
  void badOptionsAreNamed() {
    assertEquals("--seed-nodes and --discovery exclude each other: with --discovery config the node finds the"
        + " cluster itself", assertThrows(IllegalArgumentException.class, () -> ClusterConfig.of(Role.WORKER,
            "127.0.0.1", 0, List.of("127.0.0.1:25520"), TlsOptions.NONE, config(List.of("127.0.0.1:7626"))))
        .getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> config(List.of())).getMessage()
        .startsWith("--discovery config needs --contact-points"));
    assertEquals("--discovery: expected one of [config, kubernetes-api], got 'dns'",
        assertThrows(IllegalArgumentException.class,
            () -> new Bootstrap.Options("dns", null, 7626, List.of(), "loraone")).getMessage());
    assertEquals("--management-port must be in [1, 65535], got 0", assertThrows(IllegalArgumentException.class,
        () -> new Bootstrap.Options("kubernetes-api", null, 0, List.of(), "loraone")).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> new Bootstrap.Options("kubernetes-api", null, 7626, List.of("127.0.0.1:7626"), "loraone"))
        .getMessage().startsWith("--contact-points is for --discovery config"));
    assertEquals("--contact-points: '127.0.0.1' is not host:port (e.g. 127.0.0.1:25520)",
        assertThrows(IllegalArgumentException.class, () -> ClusterConfig.of(Role.WORKER, "127.0.0.1", 0, List.of(),
            TlsOptions.NONE, config(List.of("127.0.0.1")))).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> new Bootstrap.Options("kubernetes-api", null, 7626, List.of(), "Lora One")).getMessage()
        .startsWith("--service-name: expected a DNS label"));
  }
}
