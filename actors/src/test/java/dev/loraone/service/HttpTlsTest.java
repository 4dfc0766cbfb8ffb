package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.runtime.TlsStores;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** The HTTPS stores are opened before the service starts, and each problem names the file and the password's source. */
class HttpTlsTest {
  @TempDir static Path dir;
  static final String PASSWORD = "http-tls-test-password";
  static Path keys;
  static Path trust;

  @BeforeAll
  static void stores() throws Exception {
    keys = TlsStores.keyPair(dir, "service", PASSWORD, "-ext", "SAN=ip:127.0.0.1");
    trust = TlsStores.trustStore(dir, "trust", PASSWORD, List.of(keys), PASSWORD);
  }

  @Test
  void theKeyStoresPasswordComesFromTheNamedVariableThenTheClustersThenTheDefault() {
    assertNotNull(HttpTls.server(keys, "MINE", null, Map.of("MINE", PASSWORD)));
    assertNotNull(HttpTls.server(keys, null, "CLUSTER", Map.of("CLUSTER", PASSWORD)));
    assertNotNull(HttpTls.server(keys, null, null, Map.of(HttpTls.PASSWORD_ENV, PASSWORD)));
    assertMessage(() -> HttpTls.server(keys, "MINE", "CLUSTER", Map.of("CLUSTER", PASSWORD)),
        "--http-tls-key-store " + keys + ": no password: the environment variable MINE is not set");
  }

  @Test
  void aWrongPasswordOrAStoreWithoutAKeyIsNamed() throws Exception {
    assertMessage(() -> HttpTls.server(keys, null, null, Map.of(HttpTls.PASSWORD_ENV, "wrong")),
        "--http-tls-key-store " + keys + ": wrong password (from $" + HttpTls.PASSWORD_ENV + ")");
    assertMessage(() -> HttpTls.server(trust, null, null, Map.of(HttpTls.PASSWORD_ENV, PASSWORD)),
        "--http-tls-key-store " + trust + ": holds no private key");
    assertMessage(() -> HttpTls.server(dir.resolve("none.p12"), null, null, Map.of(HttpTls.PASSWORD_ENV, "x")),
        "--http-tls-key-store " + dir.resolve("none.p12") + ": no such file");
    Path text = Files.writeString(dir.resolve("text.p12"), "not a store");
    assertMessage(() -> HttpTls.client(text, Map.of()), "--trust-store " + text + ": not a PKCS12 store");
  }

  @Test
  void aTrustStoreLoadsWithItsPasswordAndWithoutOneSaysWhichVariableToSet() {
    assertMessage(() -> HttpTls.client(trust, Map.of()), "--trust-store " + trust
        + ": no certificate readable without a password: set $" + HttpTls.TRUST_PASSWORD_ENV);
    assertNotNull(HttpTls.client(trust, Map.of(HttpTls.TRUST_PASSWORD_ENV, PASSWORD)));
    assertMessage(() -> HttpTls.client(trust, Map.of(HttpTls.TRUST_PASSWORD_ENV, "wrong")),
        "--trust-store " + trust + ": wrong password (from $" + HttpTls.TRUST_PASSWORD_ENV + ")");
    assertNotNull(HttpTls.client(null, Map.of()), "no store: the JVM's default trust");
  }

  @Test
  void aFailedHandshakeNamesTheUrlAndTheTrustStore() {
    String m = HttpTls.handshakeFailed("https://127.0.0.1:8443", trust,
        new SSLHandshakeException("PKIX path building failed"));
    assertTrue(m.startsWith("TLS handshake with https://127.0.0.1:8443 failed, checked against trust store " + trust
        + ": PKIX path building failed"), m);
    assertTrue(HttpTls.handshakeFailed("https://h:1", null, new SSLHandshakeException("x"))
        .contains("the JVM's default trust store (no --trust-store)"));
  }

  private static void assertMessage(Executable call, String start) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().startsWith(start), () -> "expected '" + start + "', got: " + e.getMessage());
  }
}
