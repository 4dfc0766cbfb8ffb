package dev.loraone.runtime;

import static dev.loraone.runtime.NodeProcess.event;
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.runtime.NodeProcess.Extra;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS with mutual authentication between {@code loraone node} JVMs on 127.0.0.1 (README "TLS between
 * nodes"): a coordinator and a worker whose certificates are in the shared trust store form a
 * cluster and run a small MiniLM job to its end, while a rogue worker whose own certificate is not
 * there (though it trusts the cluster's) fails its TLS handshakes, never joins and never serves the
 * job; a node given a wrong store password refuses to start and names the store.
 */
class ClusterTlsIT {
  @TempDir static Path dir;
  private static final String PASSWORD = "cluster-" + UUID.randomUUID();

  /** Store passwords as users pass them: in the environment, not on the command line. */
  private static final Map<String, String> ENV =
      Map.of(
          "LORAONE_TLS_KEY_STORE_PASSWORD", PASSWORD, "LORAONE_TLS_TRUST_STORE_PASSWORD", PASSWORD);

  /** A few steps: enough that the job needs the worker, little enough to finish in seconds. */
  static final JobSpec spec =
      JobSpec.of(
          Map.ofEntries(
              Map.entry("name", "tls"),
              Map.entry("seed", 3),
              Map.entry("lora.rank", 2),
              Map.entry("lora.targets", "query,value"),
              Map.entry("init.method", "lora"),
              Map.entry("optimizer.name", "adamw"),
              Map.entry("optimizer.warmup", 0),
              Map.entry("train.steps", 3),
              Map.entry("train.batch", 4),
              Map.entry("train.micro-batch", 4),
              Map.entry("train.max-length", 16),
              Map.entry("eval.every", 0),
              Map.entry("eval.examples", 8),
              Map.entry("data.max-per-class", 1),
              Map.entry("checkpoint.every", 0),
              Map.entry("workers.min", 1),
              Map.entry("workers.wait-seconds", 120)));

  static final Duration JOB = Duration.ofMinutes(3);
  private static Path coordinatorKeys;
  private static Path workerKeys;
  private static Path rogueKeys;
  private static Path trust;

  @BeforeAll
  static void stores() throws Exception {
    coordinatorKeys = TlsStores.keyPair(dir, "coordinator", PASSWORD);
    workerKeys = TlsStores.keyPair(dir, "worker", PASSWORD);
    rogueKeys = TlsStores.keyPair(dir, "rogue", PASSWORD);
    trust = TlsStores.trustStore(dir, "trust", PASSWORD, List.of(coordinatorKeys, workerKeys), PASSWORD);
  }

  private static List<String> tls(Path keyStore, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of("--tls-key-store", keyStore.toString(), "--tls-trust-store", trust.toString()));
    args.addAll(List.of(more));
    return args;
  }

  private static boolean servedBy(JsonNode e, String worker) {
    if (!event("WorkersChanged").test(e)) return false;
    for (JsonNode w : e.path("workers")) if (w.asText().equals(worker)) return true;
    return false;
  }

  @Test
  void trustedNodesRunAJobAndARogueNodeNeverJoins() throws Exception {
    Path jobFile = Files.writeString(dir.resolve("tls.conf"), spec.render());
    int port = NodeProcess.freePort();
    List<Integer> seeds = List.of(port);
    try (NodeProcess coordinator =
            NodeProcess.coordinator(
                dir,
                port,
                seeds,
                jobFile,
                dir.resolve("out"),
                new Extra(tls(coordinatorKeys), ENV));
        // the rogue trusts the cluster and has its password from --tls-password-env; only its
        // certificate is not trusted
        NodeProcess rogue =
            NodeProcess.worker(
                dir,
                "rogue",
                NodeProcess.freePort(),
                seeds,
                new Extra(
                    tls(rogueKeys, "--tls-password-env", "ROGUE_PASSWORD"),
                    Map.of("ROGUE_PASSWORD", PASSWORD)));
        NodeProcess worker =
            NodeProcess.worker(
                dir, "w1", NodeProcess.freePort(), seeds, new Extra(tls(workerKeys), ENV))) {
      JsonNode end = coordinator.end(JOB);
      assertEquals("Finished", end.path("event").asText(), coordinator::describe);
      assertTrue(
          coordinator.events().stream().anyMatch(e -> servedBy(e, "w1")),
          () -> "w1 served the job; " + coordinator.describe());

      String refused = rogue.awaitLog("SSLHandshakeException", Duration.ofSeconds(30));
      assertTrue(
          refused.contains("bad_certificate"),
          () -> "the coordinator refused the rogue's certificate: " + refused);
      rogue.awaitLog("Couldn't join seed nodes", Duration.ofSeconds(30));
      assertTrue(rogue.isAlive(), rogue::describe);
      assertTrue(coordinator.events().stream().noneMatch(e -> servedBy(e, "rogue")),
          () -> "the rogue never served the job; " + coordinator.describe());
    }
  }

  @Test
  void aNodeWithAWrongStorePasswordRefusesToStartNamingTheStore() throws Exception {
    int port = NodeProcess.freePort();
    try (NodeProcess node =
        NodeProcess.worker(
            dir,
            "wrong-password",
            port,
            List.of(port),
            new Extra(
                tls(workerKeys),
                Map.of(
                    "LORAONE_TLS_KEY_STORE_PASSWORD",
                    "not-" + PASSWORD,
                    "LORAONE_TLS_TRUST_STORE_PASSWORD",
                    PASSWORD)))) {
      assertEquals(2, node.exitCode(Duration.ofSeconds(60)), node::describe);
      node.awaitLog(
          "error: TLS key store "
              + workerKeys
              + ": wrong password (from LORAONE_TLS_KEY_STORE_PASSWORD)",
          Duration.ZERO);
    }
  }
}
