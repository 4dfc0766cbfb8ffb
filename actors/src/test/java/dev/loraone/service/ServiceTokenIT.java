package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The token rules of {@code loraone serve} (each test its own JVM): with {@code --token}, every
 * request but {@code GET /health} needs {@code Authorization: Bearer <token>}, a wrong one is
 * refused; a service on a non-loopback address refuses to start without a token.
 */
class ServiceTokenIT {
  @TempDir Path dir;

  @Test
  void mutatingRequestsNeedTheToken() throws Exception {
    String token = "0123456789abcdef-test-token";
    try (ServiceProcess secured = ServiceProcess.start(dir, dir.resolve("data-token"), ServiceProcess.freePort(),
        List.of("--workers", "0", "--token", token))) {
      ServiceProcess.Response none = secured.post("/jobs", ServiceProcess.tinyJob("tok", 2, false));
      assertEquals(401, none.status(), none.body()::toString);
      assertTrue(none.body().path("error").asText().contains("Authorization: Bearer"), none.body()::toString);
      secured.token = "0123456789abcdef-wrong-token";
      ServiceProcess.Response wrong = secured.post("/jobs", ServiceProcess.tinyJob("tok", 2, false));
      assertEquals(401, wrong.status(), wrong.body()::toString);
      assertEquals("wrong bearer token", wrong.body().path("error").asText());
      secured.token = token;
      ServiceProcess.Response ok = secured.post("/jobs", ServiceProcess.tinyJob("tok", 2, false));
      assertEquals(201, ok.status(), ok.body()::toString);
      String id = ok.body().path("id").asText();
      secured.token = null;
      assertEquals(401, secured.get("/jobs/" + id).status(), "with tokens, reads need one too");
      assertEquals(200, secured.get("/health").status(), "but /health is open");
      assertEquals(401, secured.post("/jobs/" + id + "/cancel", "").status(), "cancel without the token");
      secured.token = token;
      assertEquals(202, secured.post("/jobs/" + id + "/cancel", "").status(), "cancel with the token");
      assertEquals("CANCELLED", secured.awaitEnd(id, Duration.ofSeconds(60)).path("state").asText());
    }
  }

  @Test
  void aServiceBeyondLoopbackWithoutATokenRefusesToStart() throws Exception {
    List<String> cmd =
        ServiceProcess.java(
            List.of(),
            List.of(
                "serve",
                "--host",
                "0.0.0.0",
                "--port",
                "0",
                "--cluster-port",
                "0",
                "--data",
                dir.resolve("data-open").toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove("LORAONE_TOKEN");
    Process p = pb.start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "it exits");
    assertNotEquals(0, p.exitValue(), out);
    assertTrue(
        out.contains("--host 0.0.0.0 is not a loopback address") && out.contains("--token"),
        () -> "the message: " + out);
    assertFalse(out.contains("http://"), () -> "it never listened: " + out);
  }
}
