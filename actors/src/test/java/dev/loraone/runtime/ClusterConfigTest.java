package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.loraone.runtime.ClusterConfig.Role;
import dev.loraone.runtime.ClusterConfig.TlsOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterConfigTest {
  private static final String PASSWORD = "node-secret";
  private static final List<String> SEEDS = List.of("127.0.0.1:25520");
  @TempDir static Path dir;
  private static Path keys;
  private static Path trust;

  @BeforeAll
  static void stores() throws Exception {
    keys = TlsStores.keyPair(dir, "node", PASSWORD);
    trust = TlsStores.trustStore(dir, "trust", PASSWORD, List.of(keys), PASSWORD);
  }

  @Test
  void theCommandLineSetsAddressSeedsAndRoleAboveTheNodeDefaults() {
    Config c =
        ClusterConfig.of(
            ClusterConfig.Role.WORKER,
            "127.0.0.1",
            25521,
            List.of("127.0.0.1:25520", " 10.0.0.2:25520"));
    assertEquals("cluster", c.getString("pekko.actor.provider"));
    assertEquals(25521, c.getInt("pekko.remote.artery.canonical.port"));
    assertEquals(
        List.of("pekko://loraone@127.0.0.1:25520", "pekko://loraone@10.0.0.2:25520"),
        c.getStringList("pekko.cluster.seed-nodes"));
    assertEquals(List.of("worker"), c.getStringList("pekko.cluster.roles"));
    assertEquals("keep-majority", c.getString("pekko.cluster.split-brain-resolver.active-strategy"));
    assertEquals(
        "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider",
        c.getString("pekko.cluster.downing-provider-class"));
    assertEquals(
        256 * 1024,
        c.getBytes("pekko.remote.artery.advanced.maximum-frame-size"),
        "tensors travel chunked, frames stay default");
    assertEquals(
        "loraone-kryo",
        c.getString(
            "pekko.actor.serialization-bindings.\"dev.loraone.protocol.wire.WireMessage\""));
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
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 0, List.of("h:99999")))
            .getMessage()
            .contains("'h:99999'"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 70000, List.of("h:1")))
            .getMessage()
            .startsWith("--port"));
    assertTrue(
        assertThrows(
                IllegalArgumentException.class,
                () -> ClusterConfig.of(ClusterConfig.Role.WORKER, "127.0.0.1", 0, List.of()))
            .getMessage()
            .startsWith("--seed-nodes"));
  }

  @Test
  void tlsIsOffUnlessEnabled() {
    Config c = ClusterConfig.of(Role.WORKER, "127.0.0.1", 0, SEEDS);
    assertFalse(c.getBoolean("loraone.cluster.tls.enabled"));
    assertEquals("tcp", c.getString("pekko.remote.artery.transport"));
  }

  @Test
  void tlsOptionsTurnOnArteryTlsTcpWithMutualAuthentication() {
    Config c =
        ClusterConfig.of(
            Role.WORKER,
            "127.0.0.1",
            0,
            SEEDS,
            new TlsOptions(keys, trust, "PW"),
            Map.of("PW", PASSWORD));
    assertTrue(c.getBoolean("loraone.cluster.tls.enabled"));
    assertEquals("tls-tcp", c.getString("pekko.remote.artery.transport"));
    assertEquals(
        "org.apache.pekko.remote.artery.tcp.ConfigSSLEngineProvider",
        c.getString("pekko.remote.artery.ssl.ssl-engine-provider"));
    Config engine = c.getConfig("pekko.remote.artery.ssl.config-ssl-engine");
    assertEquals(keys.toAbsolutePath().toString(), engine.getString("key-store"));
    assertEquals(trust.toAbsolutePath().toString(), engine.getString("trust-store"));
    for (String k : List.of("key-store-password", "key-password", "trust-store-password"))
      assertEquals(PASSWORD, engine.getString(k), k);
    assertEquals("TLSv1.3", engine.getString("protocol"));
    assertEquals(
        List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"),
        engine.getStringList("enabled-algorithms"));
    assertTrue(
        engine.getBoolean("require-mutual-authentication"),
        "a node must present a trusted certificate to be accepted");
    assertFalse(
        engine.getBoolean("hostname-verification"),
        "nodes are addressed by IP; trust comes from the trust store");
  }

  @Test
  void tlsKeysSetInTheConfigWorkWithoutOptionsAndAnEmptyKeyPasswordIsTheKeyStores() {
    Config c =
        withProperties(
            Map.of(
                "loraone.cluster.tls.enabled",
                "on",
                "loraone.cluster.tls.key-store",
                keys.toString(),
                "loraone.cluster.tls.trust-store",
                trust.toString(),
                "loraone.cluster.tls.key-store-password",
                PASSWORD,
                "loraone.cluster.tls.trust-store-password",
                PASSWORD),
            () -> ClusterConfig.of(Role.COORDINATOR, "127.0.0.1", 0, SEEDS));
    assertEquals("tls-tcp", c.getString("pekko.remote.artery.transport"));
    assertEquals(PASSWORD, c.getString("pekko.remote.artery.ssl.config-ssl-engine.key-password"));
  }

  @Test
  void missingStoresAndWrongPasswordsAreNamedBeforeTheNodeStarts() throws Exception {
    Path missing = dir.resolve("missing.p12");
    assertEquals("TLS key store " + missing + " (from --tls-key-store): no such file",
        tlsError(new TlsOptions(missing, trust, "PW"), Map.of("PW", PASSWORD)));
    assertEquals("TLS key store " + keys + ": wrong password (from --tls-password-env)",
        tlsError(new TlsOptions(keys, trust, "PW"), Map.of("PW", "not-the-password")));
    assertEquals(
        "--tls-password-env PW: the environment variable PW is not set (expected the password of the TLS key and "
            + "trust stores)",
        tlsError(new TlsOptions(keys, trust, "PW"), Map.of()));
    assertEquals(
        "TLS key store "
            + keys
            + ": no password given (expected it in LORAONE_TLS_KEY_STORE_PASSWORD, in the variable "
            + "named by --tls-password-env, or in loraone.cluster.tls.key-store-password)",
        tlsError(new TlsOptions(keys, trust, null), Map.of()));
    assertEquals(
        "loraone.cluster.tls.enabled is on but loraone.cluster.tls.trust-store is not set: give --tls-trust-store "
            + "FILE or "
            + "set the key (a PKCS12 file)",
        tlsError(new TlsOptions(keys, null, "PW"), Map.of("PW", PASSWORD)));
    assertEquals(
        "TLS key store "
            + trust
            + " (from --tls-key-store): holds no private key (expected this node's key pair, e.g. "
            + "made with keytool -genkeypair)",
        tlsError(new TlsOptions(trust, trust, "PW"), Map.of("PW", PASSWORD)));
    Path text = Files.writeString(dir.resolve("notes.txt"), "not a key store");
    assertTrue(tlsError(new TlsOptions(keys, text, "PW"), Map.of("PW", PASSWORD))
        .startsWith("TLS trust store " + text + " (from --tls-trust-store): not a PKCS12 key store ("));
  }

  @Test
  void badTlsKeysInTheConfigAreNamedWithTheirOrigin() {
    Map<String, String> on =
        Map.of(
            "loraone.cluster.tls.enabled",
            "on",
            "loraone.cluster.tls.key-store-password",
            PASSWORD,
            "loraone.cluster.tls.trust-store-password",
            PASSWORD);
    Path missing = dir.resolve("missing.p12");
    assertEquals(
        "TLS trust store "
            + missing
            + " (from loraone.cluster.tls.trust-store in system properties): no such file",
        withProperties(
            merge(on, Map.of("loraone.cluster.tls.trust-store", missing.toString())),
            () -> tlsError(new TlsOptions(keys, null, null), Map.of())));
    assertEquals(
        "TLS key store "
            + keys
            + ": wrong password (from loraone.cluster.tls.key-store-password in system properties)",
        withProperties(
            merge(on, Map.of("loraone.cluster.tls.key-store-password", "wrong-password")),
            () -> tlsError(new TlsOptions(keys, trust, null), Map.of())));
    assertEquals(
        "loraone.cluster.tls.protocol = 'SSLv3' (from loraone.cluster.tls.protocol in system properties): expected "
            + "one of "
            + "[TLSv1.3, TLSv1.2]",
        withProperties(
            merge(on, Map.of("loraone.cluster.tls.protocol", "SSLv3")),
            () -> tlsError(new TlsOptions(keys, trust, null), Map.of())));
    assertTrue(withProperties(merge(on, Map.of("loraone.cluster.tls.protocol", "TLSv1.2")),
        () -> tlsError(new TlsOptions(keys, trust, null), Map.of())).startsWith(
            "loraone.cluster.tls.enabled-algorithms = [TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384] (from"),
        "TLS 1.3 suites with protocol TLSv1.2");
  }

  private static String tlsError(TlsOptions tls, Map<String, String> env) {
    return assertThrows(
            IllegalArgumentException.class,
            () -> ClusterConfig.of(Role.WORKER, "127.0.0.1", 0, SEEDS, tls, env))
        .getMessage();
  }

  private static Map<String, String> merge(Map<String, String> a, Map<String, String> b) {
    Map<String, String> m = new java.util.HashMap<>(a);
    m.putAll(b);
    return m;
  }

  private static <T> T withProperties(Map<String, String> properties, Supplier<T> body) {
    properties.forEach(System::setProperty);
    try {
      ConfigFactory.invalidateCaches();
      return body.get();
    } finally {
      properties.keySet().forEach(System::clearProperty);
      ConfigFactory.invalidateCaches();
    }
  }
}
