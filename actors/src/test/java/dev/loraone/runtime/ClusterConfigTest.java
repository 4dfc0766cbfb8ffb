package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.Config;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterConfigTest {
  @Test
  void theCommandLineSetsAddressSeedsAndRoleAboveTheNodeDefaults() {
    Config c = ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 25521, List.of("127.0.0.1:25520", " 10.0.0.2:25520"));
    assertEquals("cluster", c.getString("pekko.actor.provider"));
    assertEquals(25521, c.getInt("pekko.remote.artery.canonical.port"));
    assertEquals(List.of("pekko://loraone@127.0.0.1:25520", "pekko://loraone@10.0.0.2:25520"), c.getStringList("pekko.cluster.seed-nodes"));
    assertEquals(List.of("worker"), c.getStringList("pekko.cluster.roles"));
    assertEquals("keep-majority", c.getString("pekko.cluster.split-brain-resolver.active-strategy"));
    assertEquals("org.apache.pekko.cluster.sbr.SplitBrainResolverProvider", c.getString("pekko.cluster.downing-provider-class"));
    assertEquals(256 * 1024, c.getBytes("pekko.remote.artery.advanced.maximum-frame-size"), "tensors travel chunked, frames stay default");
    assertEquals("loraone-kryo", c.getString("pekko.actor.serialization-bindings.\"dev.loraone.protocol.wire.WireMessage\""));
    assertFalse(c.getBoolean("pekko.actor.allow-java-serialization"));
  }

  @Test
  void systemPropertiesOverrideTheNodeDefaults() {
    System.setProperty("pekko.cluster.split-brain-resolver.stable-after", "3s");
    try {
      com.typesafe.config.ConfigFactory.invalidateCaches();
      Config c = ClusterConfig.of(ClusterConfig.Role.COORDINATOR, "127.0.0.1", 0, List.of("127.0.0.1:25520"));
      assertEquals(3, c.getDuration("pekko.cluster.split-brain-resolver.stable-after").toSeconds());
    } finally {
      System.clearProperty("pekko.cluster.split-brain-resolver.stable-after");
      com.typesafe.config.ConfigFactory.invalidateCaches();
    }
  }

  @Test
  void badSeedsAndPortsAreNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 0, List.of("127.0.0.1")));
    assertEquals("--seed-nodes: '127.0.0.1' is not host:port (e.g. 127.0.0.1:25520)", e.getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 0, List.of("h:99999"))).getMessage().contains("'h:99999'"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 70000, List.of("h:1"))).getMessage().startsWith("--port"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 0, List.of())).getMessage().startsWith("--seed-nodes"));
  }
}
