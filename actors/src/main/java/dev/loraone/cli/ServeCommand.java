package dev.loraone.cli;

import dev.loraone.service.Service;
import java.nio.file.Path;
import dev.loraone.worker.runtime.Devices;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import dev.loraone.runtime.NodeMemory;
import picocli.CommandLine.Option;

/**
 * {@code loraone serve}: the long-running service. Jobs come in over HTTP ({@code loraone submit},
 * the web page at {@code /}, or any HTTP client); worker nodes join through {@code --cluster-port}.
 * SIGTERM or Ctrl-C checkpoints the running jobs; the next start on the same {@code --data} resumes
 * them.
 */
@Command(
    name = "serve",
    description =
        "Run the job service: HTTP API and web page, a job queue, a coordinator node for worker nodes.")
final class ServeCommand implements Callable<Integer> {
  @Option(
      names = "--host",
      defaultValue = "127.0.0.1",
      description =
          "HTTP bind address (default: ${DEFAULT-VALUE}); beyond loopback a --token or --token-file is required")
  String host;

  @Option(
      names = "--port",
      defaultValue = "8080",
      description = "HTTP port, 0 picks a free one (default: ${DEFAULT-VALUE})")
  int port;

  @Option(
      names = "--data",
      defaultValue = "out/service",
      description = "job store folder (default: ${DEFAULT-VALUE})")
  Path data;

  @Option(
      names = "--max-concurrent",
      defaultValue = "1",
      description = "jobs running at once; the rest wait in the queue (default: ${DEFAULT-VALUE})")
  int maxConcurrent;

  @Option(
      names = "--workers",
      defaultValue = "1",
      description =
          "worker actors in this JVM; 0 = cluster worker nodes only (default: ${DEFAULT-VALUE})")
  int workers;

  @Option(names = "--device", split = ",", description = "devices of the local workers, one worker actor each: cpu |"
      + " cuda:0,cuda:1,... (default: --workers on the CPU)") List<String> devices;

  @Option(
      names = "--token",
      description = "bearer token with every scope, named operator (default: $LORAONE_TOKEN)")
  String token;

  @Option(
      names = "--token-file",
      paramLabel = "FILE",
      description = "bearer tokens, one a line: TOKEN SCOPE[,SCOPE] [NAME]; scopes read < submit < admin")
  Path tokenFile;

  @Option(
      names = "--http-tls-key-store",
      paramLabel = "FILE",
      description = "serve HTTPS only, with this PKCS12 key store (password: $"
          + dev.loraone.service.HttpTls.PASSWORD_ENV + ", or see --http-tls-password-env)")
  Path httpsKeyStore;

  @Option(
      names = "--http-tls-password-env",
      paramLabel = "NAME",
      description = "the environment variable holding --http-tls-key-store's password"
          + " (default: --tls-password-env's, else $" + dev.loraone.service.HttpTls.PASSWORD_ENV + ")")
  String httpsPasswordEnv;

  @Option(
      names = "--cluster-host",
      defaultValue = "127.0.0.1",
      description = "cluster address to bind and advertise (default: ${DEFAULT-VALUE})")
  String clusterHost;

  @Option(
      names = "--cluster-port",
      defaultValue = "25520",
      description = "cluster port worker nodes join through, 0 = free (default: ${DEFAULT-VALUE})")
  int clusterPort;

  @Option(
      names = "--seed-nodes",
      split = ",",
      description = "host:port of nodes to join (default: none, this node starts the cluster)")
  List<String> seeds = List.of();

  @picocli.CommandLine.Mixin DiscoveryOptions discovery;

  @Option(
      names = "--tls-key-store",
      paramLabel = "FILE",
      description = "TLS between nodes (see `loraone node --help`)")
  Path tlsKeyStore;

  @Option(
      names = "--tls-trust-store",
      paramLabel = "FILE",
      description = "TLS between nodes: trusted peer certificates")
  Path tlsTrustStore;

  @Option(
      names = "--tls-password-env",
      paramLabel = "NAME",
      description = "TLS: the environment variable holding the stores' password")
  String tlsPasswordEnv;

  @Option(
      names = "--data-root",
      paramLabel = "DIR",
      description = "a folder whose files HTTP jobs may name as task, task.eval, task.corpus, task.labels"
          + " (repeatable; default: none, HTTP jobs use built-in tasks and uploaded datasets only)")
  List<Path> dataRoots = List.of();

  @Option(
      names = "--model-root",
      paramLabel = "DIR",
      description = "a folder whose HF model folders HTTP jobs may name as model (repeatable; default: none,"
          + " built-in and uploaded models only)")
  List<Path> modelRoots = List.of();

  @Option(
      names = "--memory",
      paramLabel = "SIZE",
      description = "memory the local workers may use, e.g. 6GiB (default auto: 2 x the JVM's max heap, at most the"
          + " machine's memory); jobs are placed by it")
  String memory;

  @Option(
      names = "--max-body",
      defaultValue = "1048576",
      description = "largest request body in bytes (default: ${DEFAULT-VALUE})")
  long maxBody;

  @Option(
      names = "--max-upload",
      defaultValue = "1073741824",
      description = "largest dataset upload (POST /datasets) in bytes (default: ${DEFAULT-VALUE})")
  long maxUpload;

  @Option(
      names = "--max-model-upload",
      defaultValue = "68719476736",
      description = "largest model upload (POST /models), zipped and unpacked, in bytes (default: ${DEFAULT-VALUE})")
  long maxModelUpload;

  @Override
  public Integer call() throws Exception {
    String t = token != null ? token : System.getenv("LORAONE_TOKEN");
    List<String> local =
        devices != null
            ? Devices.parse(devices)
            : java.util.Collections.nCopies(Math.max(workers, 0), "cpu");
    workers = devices != null ? local.size() : workers;
    if (memory != null) {
      System.setProperty(NodeMemory.KEY, String.valueOf(NodeMemory.parse(memory)));
      com.typesafe.config.ConfigFactory.invalidateCaches();
    }
    Service s =
        Service.start(
            new Service.Settings(
                host,
                port,
                data,
                maxConcurrent,
                workers,
                dev.loraone.service.Tokens.of(t, tokenFile),
                clusterHost,
                clusterPort,
                seeds,
                maxBody,
                new dev.loraone.runtime.ClusterConfig.TlsOptions(
                    tlsKeyStore, tlsTrustStore, tlsPasswordEnv),
                local,
                new dev.loraone.service.PathRoots(dataRoots, modelRoots),
                new Service.Https(httpsKeyStore, httpsPasswordEnv),
                maxUpload,
                maxModelUpload),
            discovery.options());
    System.err.println(
        "loraone service at "
            + s.url()
            + " (jobs in "
            + data.toAbsolutePath()
            + ", cluster "
            + s.clusterAddress()
            + ", "
            + workers
            + " local worker(s), "
            + maxConcurrent
            + " job(s) at once"
            + (s.settings().tokens().required() ? ", " + s.settings().tokens().size() + " token(s) required" : "")
            + ")");
    System.out.println(s.url());
    System.out.flush();
    s.whenTerminated().toCompletableFuture().get();
    System.err.println("loraone service stopped");
    return 0;
  }
}
