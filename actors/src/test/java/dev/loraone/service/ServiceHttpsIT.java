package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.runtime.TlsStores;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code loraone serve} over HTTPS with scoped tokens, as README "HTTPS and tokens" sets it up: a
 * PKCS12 key store made with keytool (its password in the environment), a token file with a read, two
 * submit and an admin token. A job submitted with {@code loraone submit --trust-store} runs to its end
 * and names its submitter; plain HTTP to the same port gets no answer; no token is 401, a token
 * without the scope 403, and only admin cancels another's job.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServiceHttpsIT {
  @TempDir static Path dir;
  static final String PASSWORD = "https-it-" + System.nanoTime();
  static final String READER = "reader-0123456789abcdef";
  static final String ALICE = "alice-0123456789abcdef";
  static final String BOB = "bob-0123456789abcdef00";
  static final String ROOT = "root-0123456789abcdef";
  static final Duration JOB = Duration.ofMinutes(2);
  static Path trust;
  static ServiceProcess service;

  @BeforeAll
  static void start() throws Exception {
    Path keys = TlsStores.keyPair(dir, "service", PASSWORD, "-ext", "SAN=ip:127.0.0.1,dns:localhost");
    trust = TlsStores.trustStore(dir, "trust", PASSWORD, List.of(keys), PASSWORD);
    Path tokens = Files.writeString(dir.resolve("tokens.txt"), String.join("\n",
        "# token  scopes  name",
        READER + "  read    dashboard",
        ALICE + "  submit  alice",
        BOB + "  submit  bob",
        ROOT + "  admin   root") + "\n");
    service = ServiceProcess.start(dir, dir.resolve("data"), ServiceProcess.freePort(),
        List.of("--workers", "1", "--http-tls-key-store", keys.toString(), "--token-file", tokens.toString()),
        Map.of(HttpTls.PASSWORD_ENV, PASSWORD));
    service.trusting(HttpTls.client(trust, Map.of(HttpTls.TRUST_PASSWORD_ENV, PASSWORD)));
  }

  @AfterAll
  static void stop() throws Exception {
    if (service != null) service.close();
  }

  @Test
  @Order(1)
  void theServicePrintsAnHttpsUrlAndPlainHttpToItsPortGetsNoAnswer() throws Exception {
    assertTrue(service.url.startsWith("https://127.0.0.1:"), service.url);
    service.token = null;
    assertEquals(200, service.get("/health").status(), service::describe);
    String plain = service.url.replace("https://", "http://");
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpRequest r = HttpRequest.newBuilder(URI.create(plain + "/health")).timeout(Duration.ofSeconds(10)).build();
    try {
      HttpResponse<String> res = http.send(r, HttpResponse.BodyHandlers.ofString());
      fail("plain HTTP got an answer: " + res.statusCode() + " " + res.body());
    } catch (IOException expected) {
      // the TLS server closes a connection that does not start with a handshake
    }
    assertTrue(service.alive(), service::describe);
  }

  @Test
  @Order(2)
  void noTokenIs401AndAReadTokenCannotSubmit() throws Exception {
    service.token = null;
    ServiceProcess.Response none = service.get("/jobs");
    assertEquals(401, none.status(), none.body()::toString);
    assertTrue(none.body().path("error").asText().contains("Authorization: Bearer"), none.body()::toString);
    assertEquals(401, service.getText("/metrics").status(), "metrics are a read");
    service.token = READER;
    assertEquals(200, service.get("/jobs").status());
    ServiceProcess.Response post = service.post("/jobs", ServiceProcess.tinyJob("denied", 2, false));
    assertEquals(403, post.status(), post.body()::toString);
    assertEquals("submitting a job needs a token with scope 'submit'; token 'dashboard' has read",
        post.body().path("error").asText());
    String unknown = "0".repeat(64);
    ServiceProcess.Response delete = service.delete("/datasets/" + unknown);
    assertEquals(403, delete.status(), delete.body()::toString);
    assertEquals("deleting dataset " + unknown + " needs a token with scope 'admin'; token 'dashboard' has read",
        delete.body().path("error").asText());
  }

  @Test
  @Order(3)
  void aJobSubmittedWithTheCliOverHttpsRunsToItsEndAndNamesItsSubmitter() throws Exception {
    Path job = Files.writeString(dir.resolve("https.conf"), ServiceProcess.tinyJob("https", 2, false));
    Cli submit = cli("submit", "--server", service.url, "--trust-store", trust.toString(), "--token", ALICE,
        job.toString());
    assertEquals(0, submit.exit(), submit::why);
    String id = submit.output().lines().filter(l -> l.startsWith("https-")).findFirst()
        .orElseThrow(() -> new AssertionError("no job id in: " + submit.output()));
    service.token = READER;
    JsonNode end = service.awaitEnd(id, JOB);
    assertEquals("SUCCEEDED", end.path("state").asText(), end::toString);
    assertEquals("alice", end.path("submittedBy").asText(), end::toString);
    Cli status = cli("status", "--server", service.url, "--trust-store", trust.toString(), "--token", READER, id);
    assertEquals(0, status.exit(), status::why);
    assertTrue(status.output().contains("by       alice"), status::why);
  }

  @Test
  @Order(4)
  void aClientWithoutTheTrustStoreNamesTheUrlAndTheTrustItUsed() throws Exception {
    Cli status = cli("status", "--server", service.url, "--token", READER);
    assertEquals(2, status.exit(), status::why);
    assertTrue(status.output().contains("TLS handshake with " + service.url + " failed, checked against the JVM's"
        + " default trust store (no --trust-store)"), status::why);
  }

  @Test
  @Order(5)
  void onlyAdminCancelsAnothersJobAndASubmitterCancelsItsOwn() throws Exception {
    service.token = ALICE;
    String running = submitted(service.post("/jobs", ServiceProcess.tinyJob("long", 300, false)));
    String queued = submitted(service.post("/jobs", ServiceProcess.tinyJob("queued", 2, false)));
    service.token = BOB;
    ServiceProcess.Response bob = service.post("/jobs/" + running + "/cancel", "");
    assertEquals(403, bob.status(), bob.body()::toString);
    assertEquals("cancelling job " + running + ", submitted by 'alice', needs a token with scope 'admin'; token 'bob'"
        + " has read,submit", bob.body().path("error").asText());
    service.token = READER;
    assertEquals(403, service.post("/jobs/" + queued + "/cancel", "").status(), "read cannot cancel");
    service.token = ALICE;
    assertEquals(202, service.post("/jobs/" + queued + "/cancel", "").status(), "alice cancels her own job");
    service.token = ROOT;
    ServiceProcess.Response root = service.post("/jobs/" + running + "/cancel", "");
    assertEquals(202, root.status(), root.body()::toString);
    assertEquals("CANCELLED", service.awaitEnd(running, JOB).path("state").asText());
    assertEquals("CANCELLED", service.awaitEnd(queued, JOB).path("state").asText());
  }

  private static String submitted(ServiceProcess.Response r) {
    assertEquals(201, r.status(), r.body()::toString);
    assertEquals("alice", r.body().path("submittedBy").asText(), r.body()::toString);
    return r.body().path("id").asText();
  }

  /** A CLI run's exit code and output; {@link #why()} adds the service's log for failure messages. */
  record Cli(int exit, String output) {
    String why() {
      return output + "\n" + service.describe();
    }
  }

  /** {@code loraone <args>} from the packaged jar, the trust store's password in its environment. */
  static Cli cli(String... args) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(ServiceProcess.java(List.of(), new ArrayList<>(List.of(args))))
        .redirectErrorStream(true);
    pb.environment().put(HttpTls.TRUST_PASSWORD_ENV, PASSWORD);
    pb.environment().remove("LORAONE_TOKEN");
    pb.environment().remove("LORAONE_TRUST_STORE");
    Process p = pb.start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(JOB.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("loraone " + String.join(" ", args) + " did not end: " + service.describe());
    }
    return new Cli(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }
}
