package dev.loraone.cli;

import com.typesafe.config.Config;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.runtime.ClusterConfig;
import dev.loraone.runtime.DatasetFetcher;
import dev.loraone.runtime.DatasetSource;
import dev.loraone.runtime.EmbeddedJob;
import dev.loraone.runtime.LocalWorkers;
import dev.loraone.runtime.NodeMemory;
import dev.loraone.runtime.WorkerNode;
import dev.loraone.service.HttpTls;
import dev.loraone.worker.runtime.Devices;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code loraone node}: one node of a Pekko cluster on several JVMs or machines. A coordinator node
 * runs one job file and exits when it ends (exit code 0 when it finished); a worker node stays up
 * and serves every coordinator that appears in the cluster, until it is stopped (SIGTERM or Ctrl-C:
 * it leaves the cluster gracefully; its units are reassigned). A coordinator restarted on the same
 * {@code --out} resumes the job from its checkpoint, and the running workers serve it again.
 */
@Command(name = "node", description = "Run a cluster node: a job's coordinator, or a long-lived worker.",
    subcommands = NodeCommand.Leave.class)
final class NodeCommand implements Callable<Integer> {
  @Option(names = "--role", description = "coordinator | worker (required)") String role;

  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description = "address to bind and advertise (default: ${DEFAULT-VALUE})")
  String host;

  @Option(
      names = "--port",
      defaultValue = "0",
      description = "cluster port; 0 picks a free one (default: ${DEFAULT-VALUE})")
  int port;

  @Option(
      names = "--seed-nodes",
      split = ",",
      description = "host:port of nodes to join through, comma-separated (required without --discovery)")
  List<String> seeds = List.of();

  @Mixin DiscoveryOptions discovery;

  @Option(names = "--job", description = "coordinator: the job file (HOCON or JSON)") Path job;

  @Option(
      names = "--out",
      description =
          "coordinator: output folder (default: out/jobs/<job name>); a checkpoint there is resumed")
  Path out;

  @Option(
      names = "--timeout",
      defaultValue = "600",
      description = "coordinator: give up after this many minutes (default: ${DEFAULT-VALUE})")
  long timeoutMinutes;

  @Option(
      names = "--json",
      description = "coordinator: each job event as one JSON object per line on stdout")
  boolean json;

  @Option(
      names = "--id",
      description = "worker: its id, stable across restarts (default: worker-<host>-<port>)")
  String id;

  @Option(
      names = "--device",
      split = ",",
      defaultValue = "cpu",
      description =
          "worker: cpu | cuda:0,cuda:1,... one worker actor per device (default: ${DEFAULT-VALUE})")
  List<String> devices;

  @Option(
      names = "--memory",
      paramLabel = "SIZE",
      description = "worker: memory jobs may use on this node, e.g. 6GiB (default: loraone.node.memory, else auto:"
          + " 2 x the JVM's max heap, at most the machine's memory); the service places jobs by it")
  String memory;

  @Option(
      names = "--tls-key-store",
      paramLabel = "FILE",
      description =
          "TLS between nodes (turns it on): this node's PKCS12 key "
              + "store; password from LORAONE_TLS_KEY_STORE_PASSWORD")
  Path tlsKeyStore;

  @Option(
      names = "--tls-trust-store",
      paramLabel = "FILE",
      description =
          "TLS between nodes (turns it on): PKCS12 store of the "
              + "certificates peers must present; password from LORAONE_TLS_TRUST_STORE_PASSWORD")
  Path tlsTrustStore;

  @Option(
      names = "--tls-password-env",
      paramLabel = "NAME",
      description = "TLS: the environment variable holding the password " + "of both stores")
  String tlsPasswordEnv;

  @Option(
      names = "--server",
      description = "worker: the service's HTTP address, to fetch uploaded datasets (dataset:<sha>) and models"
          + " (model:<id>) from"
          + " (default: $LORAONE_SERVER; token: --token or $LORAONE_TOKEN, scope read)")
  String server;

  @Option(names = "--token", description = "worker: bearer token for --server (default: $LORAONE_TOKEN)")
  String token;

  @Option(
      names = "--trust-store",
      paramLabel = "FILE",
      description = "worker: for an https:// --server, PKCS12 store of the certificates to trust (default:"
          + " $LORAONE_TRUST_STORE, else the JVM's default trust)")
  Path trustStore;

  @Option(
      names = "--cache",
      paramLabel = "DIR",
      defaultValue = "cache",
      description = "worker: where fetched datasets and models are kept (default: ${DEFAULT-VALUE})")
  Path cache;

  @Override
  public Integer call() throws Exception {
    if (role == null)
      throw new IllegalArgumentException(
          "--role coordinator|worker is required (or `loraone node leave NODE`)");
    ClusterConfig.Role r = switch (role.toLowerCase(Locale.ROOT)) {
      case "coordinator" -> ClusterConfig.Role.COORDINATOR;
      case "worker" -> ClusterConfig.Role.WORKER;
      default -> throw new IllegalArgumentException("--role: expected coordinator or worker, got '" + role + "'");
    };
    Config config =
        ClusterConfig.of(
            r,
            host,
            port,
            seeds,
            new ClusterConfig.TlsOptions(tlsKeyStore, tlsTrustStore, tlsPasswordEnv),
            discovery.options());
    return r == ClusterConfig.Role.COORDINATOR ? coordinator(config) : worker(config);
  }

  private int coordinator(Config config) {
    if (job == null) throw new IllegalArgumentException("--job FILE is required for --role coordinator");
    JobSpec spec = JobSpec.parseFile(job);
    Path dir = out != null ? out : Path.of("out", "jobs", spec.getString("name"));
    JobEvent end = EmbeddedJob.run(config, spec, 0, LocalWorkers.factory(), dir,
        json ? JobOutput.json(System.out) : JobOutput.human(spec.getString("name"), System.err), e -> false,
        Duration.ofMinutes(timeoutMinutes));
    return JobOutput.end(end, json);
  }

  private int worker(Config config) throws Exception {
    devices = Devices.parse(devices);
    int bound = config.getInt("pekko.remote.artery.canonical.port");
    String base =
        id != null
            ? id
            : "worker-"
                + host.replace(':', '.')
                + "-"
                + (bound == 0 ? ProcessHandle.current().pid() : bound);
    ActorSystem<WorkerNode.Command> system =
        ActorSystem.create(WorkerNode.create(base, devices, memory == null ? -1 : NodeMemory.parse(memory),
            datasets()), EmbeddedJob.SYSTEM_NAME, config);
    // leaving (SIGTERM, Ctrl-C, `loraone node leave`): the running units finish and are delivered
    // first
    CoordinatedShutdown.get(system)
        .addTask(
            CoordinatedShutdown.PhaseBeforeServiceUnbind(),
            "loraone-drain-workers",
            () -> {
              System.err.println(
                  "worker node "
                      + base
                      + " drains: its running units finish and are delivered before it leaves");
              return AskPattern.<WorkerNode.Command, Done>ask(
                      system, WorkerNode.DrainAll::new, Duration.ofMinutes(5), system.scheduler())
                  .exceptionally(t -> Done.getInstance())
                  .thenApply(
                      d -> {
                        System.err.println("worker node " + base + " drained");
                        return d;
                      });
            });
    System.err.println("worker node " + base + " at " + system.address() + ", joining "
        + (seeds.isEmpty() ? "through --discovery " + discovery.discovery : seeds));
    system.getWhenTerminated().toCompletableFuture().get();
    System.err.println("worker node " + base + " stopped");
    return 0;
  }

  /** The service's datasets and models through this node's cache, or none without --server / $LORAONE_SERVER. */
  private DatasetSource datasets() throws java.io.IOException {
    String url = server != null ? server : System.getenv("LORAONE_SERVER");
    if (url == null || url.isBlank()) return DatasetSource.NONE;
    String t = token != null ? token : System.getenv("LORAONE_TOKEN");
    Path trust = trustStore != null ? trustStore
        : System.getenv("LORAONE_TRUST_STORE") == null ? null : Path.of(System.getenv("LORAONE_TRUST_STORE"));
    javax.net.ssl.SSLContext tls = url.startsWith("https://") ? HttpTls.client(trust, System.getenv()) : null;
    return new DatasetFetcher(url, t, tls, cache);
  }

  /**
   * {@code loraone node leave NODE}: asks the service the node belongs to to take worker node
   * {@code host:port} out of the cluster. The node drains (its running units finish and are
   * delivered), then leaves; the jobs it served continue on the other workers with the same result.
   */
  @Command(
      name = "leave",
      description =
          "Drain a worker node and take it out of the cluster (through the service's API).")
  static final class Leave implements Callable<Integer> {
    @Mixin ServiceClient client;

    @Parameters(
        paramLabel = "NODE",
        description = "the worker node's cluster address host:port (see GET /workers)")
    String node;

    @Override
    public Integer call() {
      client.post("/workers/" + ClusterConfig.hostPort("NODE (see GET /workers)", node) + "/leave", "", "text/plain");
      System.out.println(node + ": leaving (it drains its running work first)");
      return 0;
    }
  }
}
