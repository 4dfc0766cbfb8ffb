package dev.loraone.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import dev.loraone.protocol.transport.TransferInbox;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.transport.TransferSettings;
import dev.loraone.runtime.ClusterConfig;
import dev.loraone.runtime.EmbeddedJob;
import dev.loraone.runtime.WorkerNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Leave;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.http.javadsl.ServerBinding;

/**
 * {@code loraone serve}: a long-lived coordinator node. It accepts jobs over HTTP ({@link HttpApi}),
 * queues and runs them ({@link JobManager}) with the workers of the cluster (worker nodes join
 * through this node's cluster port) and, optionally, its own local workers; job state lives in
 * {@link JobStore} under the data folder, so a restart resumes where the last run stopped.
 *
 * <p>Security: with tokens ({@link Tokens}) every request but the page's files and {@code /health}
 * needs one with the right scope, and a service that listens beyond loopback refuses to start without
 * any. With a key store ({@code --http-tls-key-store}, {@link HttpTls}) the HTTP port speaks HTTPS only.
 */
public final class Service implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** {@code --max-upload}'s default: 1 GiB. */
  public static final long DEFAULT_MAX_UPLOAD = 1L << 30;
  /** {@code --max-model-upload}'s default: 64 GiB, a 7B-parameter checkpoint in float32 with room. */
  public static final long DEFAULT_MAX_MODEL_UPLOAD = 64L << 30;

  /**
   * @param host HTTP bind address (loopback by default)
   * @param port HTTP port; 0 picks a free one
   * @param localWorkers worker actors in this JVM (0: only cluster workers serve jobs)
   * @param tokens who may read, submit and administer ({@link Tokens#none()}: anyone; loopback only)
   * @param clusterPort this node's cluster port; 0 picks a free one
   * @param seeds nodes to join through; empty: this node starts its own cluster
   * @param maxBody largest accepted request body in bytes
   * @param tls TLS between nodes ({@code --tls-*}), or {@link ClusterConfig.TlsOptions#NONE}
   * @param https HTTPS on the HTTP port ({@code --http-tls-*}), or {@link Https#NONE}
   * @param maxUpload largest dataset upload in bytes ({@code --max-upload}, {@link DatasetRoutes})
   */
  public record Settings(
      String host,
      int port,
      Path data,
      int maxConcurrent,
      int localWorkers,
      Tokens tokens,
      String clusterHost,
      int clusterPort,
      List<String> seeds,
      long maxBody,
      ClusterConfig.TlsOptions tls,
      List<String> devices,
      PathRoots roots,
      Https https,
      long maxUpload,
      long maxModelUpload) {
    /** Settings whose local workers run on the CPU and whose HTTP jobs read built-in models and tasks only. */
    public Settings(
        String host,
        int port,
        Path data,
        int maxConcurrent,
        int localWorkers,
        String token,
        String clusterHost,
        int clusterPort,
        List<String> seeds,
        long maxBody,
        ClusterConfig.TlsOptions tls) {
      this(host, port, data, maxConcurrent, localWorkers, tokens(token), clusterHost, clusterPort, seeds, maxBody,
          tls, Collections.nCopies(Math.max(localWorkers, 0), "cpu"), PathRoots.none(), Https.NONE, DEFAULT_MAX_UPLOAD,
          DEFAULT_MAX_MODEL_UPLOAD);
    }

    private static Tokens tokens(String token) {
      try {
        return Tokens.of(token, null);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e); // no file is read
      }
    }

    public Settings {
      if (maxConcurrent < 1) throw new IllegalArgumentException("--max-concurrent must be >= 1, got " + maxConcurrent);
      if (localWorkers < 0) throw new IllegalArgumentException("--workers must be >= 0, got " + localWorkers);
      devices = List.copyOf(devices);
      if (devices.size() != localWorkers) {
        throw new IllegalArgumentException(
            "--device lists " + devices.size() + " devices for " + localWorkers + " local workers");
      }
      if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in [0, 65535], got " + port);
      if (tls == null) tls = ClusterConfig.TlsOptions.NONE;
      if (roots == null) roots = PathRoots.none();
      if (maxBody < 1) throw new IllegalArgumentException("max body must be >= 1 byte, got " + maxBody);
      if (maxUpload < 1) throw new IllegalArgumentException("--max-upload must be >= 1 byte, got " + maxUpload);
      if (maxModelUpload < 1) {
        throw new IllegalArgumentException("--max-model-upload must be >= 1 byte, got " + maxModelUpload);
      }
      if (tokens == null) tokens = Tokens.none();
      if (https == null) https = Https.NONE;
    }
  }

  /**
   * HTTPS on the HTTP port: the PKCS12 key store ({@code --http-tls-key-store}; null: plain HTTP) and the
   * variable holding its password ({@code --http-tls-password-env}; null: see {@link HttpTls}).
   */
  public record Https(Path keyStore, String passwordEnv) {
    public static final Https NONE = new Https(null, null);
  }

  private final ActorSystem<Void> system;
  private final ServerBinding binding;
  private final Settings settings;

  private Service(ActorSystem<Void> system, ServerBinding binding, Settings settings) {
    this.system = system;
    this.binding = binding;
    this.settings = settings;
  }

  public static Service start(Settings s) throws IOException {
    return start(s, null);
  }

  /**
   * As {@link #start(Settings)}; with {@code boot} (not null; {@code s.seeds()} empty) the node joins or
   * starts its cluster through discovery and Cluster Bootstrap, and its management port serves
   * {@code /ready} (member Up and HTTP bound) and {@code /alive}.
   */
  public static Service start(Settings s, dev.loraone.runtime.Bootstrap.Options boot) throws IOException {
    if (!isLoopback(s.host()) && !s.tokens().required()) {
      throw new IllegalArgumentException(
          "--host "
              + s.host()
              + " is not a loopback address: give --token (or set LORAONE_TOKEN) or --token-file so that "
              + "only holders of a token can read, submit or cancel jobs");
    }
    javax.net.ssl.SSLContext https = s.https().keyStore() == null ? null
        : HttpTls.server(s.https().keyStore(), s.https().passwordEnv(), s.tls().passwordEnv(), System.getenv());
    JobStore store = new JobStore(s.data());
    DatasetStore datasets = new DatasetStore(s.data());
    ModelStore models = new ModelStore(s.data());
    int clusterPort = s.clusterPort() != 0 ? s.clusterPort() : freePort();
    List<String> seeds = s.seeds().isEmpty() && boot == null ? List.of(s.clusterHost() + ":" + clusterPort) : s.seeds();
    Config config = ClusterConfig.of(ClusterConfig.Role.COORDINATOR, s.clusterHost(), clusterPort, seeds, s.tls(), boot)
        .withFallback(com.typesafe.config.ConfigFactory.parseMap(
            java.util.Map.of(HttpReadiness.KEY, HttpReadiness.class.getName())));
    CompletableFuture<ActorRef<JobManager.Command>> manager = new CompletableFuture<>();
    ServiceMetrics[] metrics = new ServiceMetrics[1];
    Behavior<Void> guardian =
        Behaviors.setup(
            ctx -> {
              ActorRef<TransferMessage> inbox =
                  ctx.spawn(
                      TransferInbox.create(TransferSettings.of(ctx.getSystem())),
                      TransferInbox.NAME);
              ActorSystem<Void> sys = ctx.getSystem();
              metrics[0] = new ServiceMetrics(() -> liveWorkers(sys) + s.localWorkers());
              try {
                manager.complete(
                    ctx.spawn(
                        JobManager.create(store, s.maxConcurrent(), inbox, metrics[0], models::local), "jobs"));
              } catch (RuntimeException e) {
                manager.completeExceptionally(e);
              }
              if (s.localWorkers() > 0) {
                ctx.spawn(WorkerNode.create("local", s.devices(), -1, new dev.loraone.runtime.DatasetSource() {
                  @Override
                  public Path local(String sha) throws IOException {
                    return datasets.local(sha);
                  }

                  @Override
                  public Path model(String id) throws IOException {
                    return models.folder(id);
                  }
                }), "local-workers");
              }
              return Behaviors.empty();
            });
    ActorSystem<Void> system = ActorSystem.create(guardian, EmbeddedJob.SYSTEM_NAME, config);
    try {
      ActorRef<JobManager.Command> jobs = manager.get(60, TimeUnit.SECONDS);
      CoordinatedShutdown.get(system)
          .addTask(
              CoordinatedShutdown.PhaseBeforeServiceUnbind(),
              "loraone-jobs-checkpoint",
              () ->
                  AskPattern.<JobManager.Command, Done>ask(
                          jobs,
                          JobManager.ShutDown::new,
                          Duration.ofSeconds(90),
                          system.scheduler())
                      .exceptionally(t -> Done.getInstance()));
      HttpApi api = new HttpApi(system, jobs, store, metrics[0], workers(system), s.tokens(), s.maxBody(),
          s.roots(), datasets, models, s.maxUpload(), s.maxModelUpload());
      ServerBuilder server = Http.get(system).newServerAt(s.host(), s.port());
      if (https != null) server = server.enableHttps(ConnectionContext.httpsServer(https));
      ServerBinding binding = server.bind(api.routes()).toCompletableFuture().get(30, TimeUnit.SECONDS);
      binding.addToCoordinatedShutdown(Duration.ofSeconds(10), system);
      org.apache.pekko.actor.ActorSystem classic = org.apache.pekko.actor.typed.javadsl.Adapter.toClassic(system);
      HttpReadiness.set(classic, true);
      // not ready from the first moment of a shutdown, while the running jobs checkpoint
      CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "loraone-unready", () -> {
        HttpReadiness.set(classic, false);
        return CompletableFuture.completedFuture(Done.getInstance());
      });
      return new Service(system, binding, s);
    } catch (java.util.concurrent.ExecutionException e) {
      system.terminate();
      Throwable c = e.getCause();
      throw new IOException(
          "loraone serve: could not start on " + s.host() + ":" + s.port() + ": " + c.getMessage(),
          c);
    } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
      system.terminate();
      throw new IOException("loraone serve: did not start within 60 s", e);
    }
  }

  /** The HTTP address, e.g. {@code http://127.0.0.1:8080}, or {@code https://...} with a key store. */
  public String url() {
    String h = binding.localAddress().getAddress().getHostAddress();
    if (h.contains(":")) h = "[" + h + "]";
    return (settings.https().keyStore() != null ? "https://" : "http://") + h + ":" + binding.localAddress().getPort();
  }

  public Address clusterAddress() {
    return system.address();
  }

  public Settings settings() {
    return settings;
  }

  public CompletionStage<Done> whenTerminated() {
    return system.getWhenTerminated();
  }

  /** Stops like SIGTERM: running jobs checkpoint and stay RUNNING in the store; the next start resumes them. */
  @Override
  public void close() {
    CoordinatedShutdown.get(system).run(CoordinatedShutdown.unknownReason());
    try {
      system.getWhenTerminated().toCompletableFuture().get(120, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // the jobs' state is on disk already
    }
  }

  static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("--host " + host + ": unknown host");
    }
  }

  private static int liveWorkers(ActorSystem<?> system) {
    int n = 0;
    for (Member m : Cluster.get(system).state().getMembers()) {
      if (m.status() == MemberStatus.up() && m.hasRole("worker")) n++;
    }
    return n;
  }

  private static HttpApi.Workers workers(ActorSystem<?> system) {
    return new HttpApi.Workers() {
      @Override
      public ArrayNode list() {
        ArrayNode a = JSON.createArrayNode();
        for (Member m : Cluster.get(system).state().getMembers()) {
          ObjectNode o = a.addObject();
          o.put("address", m.address().toString());
          o.put("node", m.address().host().getOrElse(() -> "") + ":" + m.address().port().getOrElse(() -> 0));
          o.put("status", m.status().toString());
          ArrayNode roles = o.putArray("roles");
          List<String> sorted = new ArrayList<>(m.getRoles());
          Collections.sort(sorted);
          sorted.stream().filter(r -> !r.startsWith("dc-")).forEach(roles::add);
        }
        return a;
      }

      @Override
      public boolean leave(String hostPort) {
        for (Member m : Cluster.get(system).state().getMembers()) {
          String hp = m.address().host().getOrElse(() -> "") + ":" + m.address().port().getOrElse(() -> 0);
          if (hp.equals(hostPort) && m.hasRole("worker")) {
            Cluster.get(system).manager().tell(Leave.create(m.address()));
            return true;
          }
        }
        return false;
      }
    };
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
