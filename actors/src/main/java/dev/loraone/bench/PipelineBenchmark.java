package dev.loraone.bench;

import com.typesafe.config.ConfigFactory;
import dev.loraone.data.stream.Prefetch;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.core.metrics.Subspaces;
import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.runtime.ClusterConfig;
import dev.loraone.runtime.EmbeddedJob;
import dev.loraone.runtime.LocalWorkers;
import dev.loraone.worker.actor.WorkerActor;
import dev.loraone.worker.actor.WorkerSettings;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LocalRun;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.ejml.data.DMatrixRMaj;

/**
 * {@code loraone bench pipeline}: what the actor pipeline costs, side by side in one run on real
 * MiniLM and WordNet.
 *
 * <pre>
 *   overhead   median step time, embedded coordinator + 1 worker actor / single-process loraone finetune   (target <=
 *       1.05)
 *   causal LM  overhead and tokens/s of a causal-LM job on a random SmolLM-shaped Llama ({@link CausalLmOverhead})
 *   prefetch   median step time of the embedded job with units encoded ahead (loraone.worker.prefetch) and
 *              without (prefetch = 0), and whether both train the same adapter bit for bit
 *   init       randomized rounds (q = q-factor * r, niter) vs exact reduction of G: upload per layer and shard,
 *              init wall time, top-r subspace similarity of the distributed init vs the exact one, final accuracy
 *   cluster    coordinator in this JVM + 1, 2, 3 worker JVMs on 127.0.0.1: median step time, bytes per step
 * </pre>
 *
 * Upload sizes follow the protocol's round shapes: randomized sends {@code (niter + 1) * q * (out +
 * in)} floats per layer and shard, exact {@code out * in}; per step, every micro-batch's LoRA
 * gradients go up and every worker gets the new adapter version.
 */
public final class PipelineBenchmark {
  private PipelineBenchmark() {}

  /** {@code causalLm}: also time a causal-LM job ({@link CausalLmOverhead}). */
  public record Settings(int steps, int rank, int workersMax, boolean cluster, boolean causalLm, long seed) {}

  /** {@code ratio}: embedded over the faster of the two single-process runs (the conservative side). */
  public record Overhead(double singleProcessFirstSeconds, double singleProcessSecondSeconds, double embeddedSeconds,
      double ratio, Prefetching prefetch) {}

  /**
   * The embedded job's median step with {@code ahead} units encoded ahead of compute (the mean of
   * the two runs before and after the one without) and without prefetch; {@code ratio} = with / without.
   */
  public record Prefetching(int ahead, double withSeconds, double withoutSeconds, double ratio, boolean sameAdapter) {
    /** One human line, as {@code bench pipeline} prints it. */
    public String line() {
      return String.format("prefetch: median step %.3f s with %d unit(s) encoded ahead / %.3f s without (prefetch = 0)"
          + " = %.3f; same adapter: %s", withSeconds, ahead, withoutSeconds, ratio, sameAdapter);
    }
  }

  public record LayerUpload(String shape, long randomizedBytes, long exactBytes, double ratio) {}

  public record InitRun(String mode, double initSeconds, double finalAccuracy, String adapterSha256) {}

  public record InitComparison(
      List<InitRun> runs,
      Map<String, Double> similarityB,
      Map<String, Double> similarityA,
      double minSimilarity,
      List<LayerUpload> uploads) {}

  /**
   * One loopback-cluster job. {@code initHeapPeakMiB} / {@code initHeapRetainedMiB}: the
   * coordinator JVM's heap growth over the init (gradient accumulation + SVD), see {@link
   * HeapWatch}; this JVM holds no model in the cluster runs, so it is the coordinator's memory for
   * that init mode.
   */
  public record ClusterRun(
      int workers,
      String initMode,
      double medianStepSeconds,
      long bytesPerStep,
      String adapterSha256,
      double initSeconds,
      double initHeapPeakMiB,
      double initHeapRetainedMiB) {}

  /** {@code causalLm}: null when not run. */
  public record Report(JobSummary job, Overhead overhead, CausalLmOverhead.Result causalLm, InitComparison init,
      List<ClusterRun> cluster) {}

  public record JobSummary(
      String model,
      String targets,
      int rank,
      int steps,
      int batch,
      int microBatch,
      int maxLength,
      int initExamples,
      int initShards,
      int qFactor,
      int niter) {}

  static JobSpec spec(Settings s, String name, String mode) {
    return spec(s, name, mode, 1);
  }

  static JobSpec spec(Settings s, String name, String mode, int workersMin) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("workers.min", workersMin);
    m.put("name", name);
    m.put("seed", s.seed());
    m.put("lora.rank", s.rank());
    m.put("lora.targets", "all-linear");
    m.put("init.method", "lora-one");
    m.put("init.mode", mode);
    m.put("init.batch", 8);
    m.put("init.iters", 8);
    m.put("init.shards", 4);
    m.put("optimizer.lr", 5e-4);
    m.put("optimizer.warmup", 2);
    m.put("train.steps", s.steps());
    m.put("train.batch", 16);
    m.put("train.micro-batch", 8);
    m.put("train.max-length", 64);
    m.put("eval.every", 0);
    m.put("eval.examples", 256);
    m.put("data.max-per-class", 40);
    m.put("checkpoint.every", 0);
    return JobSpec.of(m);
  }

  public static Report run(Settings s, Path work, PrintStream log) throws IOException, InterruptedException {
    JobSpec randomized = spec(s, "bench-randomized", "randomized");
    JobSpec r = randomized;
    JobSummary summary =
        new JobSummary(
            r.getString("model"),
            r.getString("lora.targets"),
            r.getInt("lora.rank"),
            r.getInt("train.steps"),
            r.getInt("train.batch"),
            r.getInt("train.micro-batch"),
            r.getInt("train.max-length"),
            r.getInt("init.batch") * r.getInt("init.iters"),
            r.getInt("init.shards"),
            r.getInt("init.q-factor"),
            r.getInt("init.niter"));

    // single, embedded, single: the first DJL work of a JVM runs slower for longer than the skipped warm-up steps
    log.println("bench pipeline: single-process reference (loraone finetune, same settings), first of two ...");
    List<Double> first = singleProcess(randomized);
    log.println("bench pipeline: embedded coordinator + 1 worker, randomized init ...");
    Job rand = job(EmbeddedJobRunner.local(1), randomized, work.resolve("randomized"));
    log.println("bench pipeline: single-process reference again ...");
    List<Double> second = singleProcess(randomized);
    log.println("bench pipeline: embedded coordinator + 1 worker, randomized init, prefetch off ...");
    Job unfetched = job(EmbeddedJobRunner.withoutPrefetch(), randomized, work.resolve("randomized-no-prefetch"));
    log.println("bench pipeline: embedded coordinator + 1 worker, exact init ...");
    Job exact = job(EmbeddedJobRunner.local(1), spec(s, "bench-exact", "exact"), work.resolve("exact"));
    double single = Math.min(median(first), median(second));
    double with = (median(rand.steps) + median(exact.steps)) / 2; // the runs before and after the one without
    int ahead = WorkerSettings.fromConfig(ConfigFactory.load()).prefetch().ahead();
    double without = median(unfetched.steps);
    Prefetching prefetch = new Prefetching(ahead, with, without, with / without, rand.sha.equals(unfetched.sha));
    log.println("bench pipeline: " + prefetch.line());
    Overhead overhead =
        new Overhead(median(first), median(second), median(rand.steps), median(rand.steps) / single, prefetch);

    Map<String, Double> simB = new TreeMap<>();
    Map<String, Double> simA = new TreeMap<>();
    Map<String, TensorBlob> r0 = SafeTensors.read(rand.init).tensors();
    Map<String, TensorBlob> e0 = SafeTensors.read(exact.init).tensors();
    double min = 1;
    List<String> modules = rand.modules;
    for (int i = 0; i < modules.size(); i++) {
      double b =
          Subspaces.similarity(
              matrix(r0.get("pair." + i + ".B"), false), matrix(e0.get("pair." + i + ".B"), false));
      double a =
          Subspaces.similarity(
              matrix(r0.get("pair." + i + ".A"), true), matrix(e0.get("pair." + i + ".A"), true));
      simB.put(modules.get(i), b);
      simA.put(modules.get(i), a);
      min = Math.min(min, Math.min(a, b));
    }
    int q = summary.qFactor() * s.rank();
    List<LayerUpload> uploads = new ArrayList<>();
    for (long[] shape :
        new long[][] {
          {384, 384}, {1536, 384}, {384, 1536}, {4096, 4096}, {4096, 11008}, {11008, 4096}
        }) {
      long rb = 4L * (summary.niter() + 1) * q * (shape[0] + shape[1]);
      long eb = 4L * shape[0] * shape[1];
      uploads.add(new LayerUpload(shape[0] + "x" + shape[1], rb, eb, (double) rb / eb));
    }
    InitComparison init =
        new InitComparison(
            List.of(
                new InitRun("randomized", rand.initSeconds, rand.accuracy, rand.sha),
                new InitRun("exact", exact.initSeconds, exact.accuracy, exact.sha)),
            simB,
            simA,
            min,
            uploads);

    CausalLmOverhead.Result causalLm = null;
    if (s.causalLm()) {
      causalLm = CausalLmOverhead.run(CausalLmOverhead.Settings.defaults(s.steps(), s.rank(), s.seed()),
          work.resolve("causal-lm"), log);
    }

    List<ClusterRun> cluster = new ArrayList<>();
    if (s.cluster()) {
      for (int w = 1; w <= s.workersMax(); w++) {
        log.println("bench pipeline: loopback cluster, coordinator + " + w + " worker JVM(s) ...");
        cluster.add(clusterRun(s, w, "randomized", rand.adapterFloats, summary, work));
      }
      log.println("bench pipeline: loopback cluster, coordinator + 1 worker JVM, exact init ...");
      cluster.add(clusterRun(s, 1, "exact", rand.adapterFloats, summary, work));
    }
    return new Report(summary, overhead, causalLm, init, cluster);
  }

  private static ClusterRun clusterRun(
      Settings s, int w, String mode, long adapterFloats, JobSummary summary, Path work)
      throws IOException, InterruptedException {
    Job c =
        clusterJob(
            spec(s, "bench-cluster-" + mode + "-" + w, mode, w),
            w,
            work.resolve("cluster-" + mode + "-" + w));
    return new ClusterRun(
        w,
        mode,
        median(c.steps),
        stepBytes(adapterFloats, summary.batch() / summary.microBatch(), w),
        c.sha,
        c.initSeconds,
        c.initHeap.peakMiB(),
        c.initHeap.retainedMiB());
  }

  private static List<Double> singleProcess(JobSpec spec) throws IOException {
    List<Double> steps = new ArrayList<>();
    try (LocalRun f = LocalRun.open(FinetuneConfig.fromJob(spec), "bench")) {
      f.run(e -> {
        if (e instanceof JobEvent.StepDone d) steps.add(d.seconds());
      });
    }
    return steps;
  }

  /** F32 gradients of every micro-batch up, the new F32 adapter version down to every worker. */
  static long stepBytes(long adapterFloats, int microBatches, int workers) {
    return 4L * adapterFloats * (microBatches + workers);
  }

  // ---- running jobs ----

  private record Job(
      List<Double> steps,
      double initSeconds,
      HeapWatch.Reading initHeap,
      double accuracy,
      String sha,
      Path init,
      List<String> modules,
      long adapterFloats) {}

  /** How a bench job gets its workers. */
  private interface EmbeddedJobRunner {
    JobEvent run(JobSpec spec, Path out, java.util.function.Consumer<JobEvent> events);

    static EmbeddedJobRunner local(int workers) {
      return (spec, out, events) ->
          EmbeddedJob.run(
              spec, workers, LocalWorkers.factory(), out, events, Duration.ofMinutes(60));
    }

    /** One local worker that encodes each unit on the DJL thread right before its compute. */
    static EmbeddedJobRunner withoutPrefetch() {
      WorkerSettings off = WorkerSettings.fromConfig(ConfigFactory.load()).withPrefetch(Prefetch.OFF);
      EmbeddedJob.WorkerFactory factory = (id, coordinator, inbox) ->
          WorkerActor.create(id, "cpu", Map.of(), coordinator.actor(), inbox, off);
      return (spec, out, events) -> EmbeddedJob.run(spec, 1, factory, out, events, Duration.ofMinutes(60));
    }
  }

  private static Job job(EmbeddedJobRunner runner, JobSpec spec, Path out) throws IOException {
    List<Double> steps = new ArrayList<>();
    long[] initStart = {0};
    long[] initEnd = {0};
    Path initCopy = out.resolveSibling(out.getFileName() + "-init.safetensors");
    Files.createDirectories(out.getParent());
    HeapWatch heap = new HeapWatch();
    JobEvent end = runner.run(spec, out, e -> {
      if (e instanceof JobEvent.PhaseChanged p && p.phase() == dev.loraone.protocol.job.Phase.GRADIENT_ACCUMULATION) {
        heap.start();
        initStart[0] = System.nanoTime();
      } else if (e instanceof JobEvent.Checkpointed c && c.step() == 0) {
        initEnd[0] = System.nanoTime();
        heap.stop();
        try { // the init's state file is replaced by the final one: keep a copy for the comparison
          Files.copy(out.resolve("checkpoint").resolve(String.format("state-%08d.safetensors", 0)), initCopy,
              StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException ex) {
          throw new java.io.UncheckedIOException(ex);
        }
      } else if (e instanceof JobEvent.StepDone d) {
        steps.add(d.seconds());
      }
    });
    HeapWatch.Reading initHeap = heap.stop();
    if (!(end instanceof JobEvent.Finished f))
      throw new IllegalStateException("bench job " + spec.getString("name") + " failed: " + end);
    dev.loraone.protocol.io.PeftAdapter adapter = dev.loraone.protocol.io.PeftAdapter.read(f.adapterDir());
    long floats = 0;
    for (var pair : adapter.modules().values()) floats += pair.a().numel() + pair.b().numel();
    for (TensorBlob t : adapter.savedModules().values()) floats += t.numel();
    return new Job(
        steps,
        (initEnd[0] - initStart[0]) / 1e9,
        initHeap,
        f.finalEval().accuracy(),
        f.adapterSha256(),
        initCopy,
        moduleOrder(out),
        floats);
  }

  /** The checkpoint's module order (pair.i is the i-th module). */
  private static List<String> moduleOrder(Path out) throws IOException {
    var json =
        new com.fasterxml.jackson.databind.ObjectMapper()
            .readTree(out.resolve("checkpoint").resolve("checkpoint.json").toFile());
    List<String> m = new ArrayList<>();
    json.path("modules").forEach(n -> m.add(n.asText()));
    return m;
  }

  private static Job clusterJob(JobSpec spec, int workers, Path out) throws IOException, InterruptedException {
    int port = freePort();
    Path jar = Path.of(PipelineBenchmark.class.getProtectionDomain().getCodeSource().getLocation().getPath());
    if (!jar.toString().endsWith(".jar"))
      throw new IllegalStateException(
          "bench pipeline's cluster part runs from the packaged loraone.jar");
    List<Process> procs = new ArrayList<>();
    Files.createDirectories(out);
    try {
      for (int w = 0; w < workers; w++) {
        List<String> cmd =
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1536m",
                "-Dai.djl.offline=true",
                "-DDJL_CACHE_DIR=" + System.getProperty("DJL_CACHE_DIR", ""),
                "-jar",
                jar.toString(),
                "node",
                "--role",
                "worker",
                "--id",
                "bench-w" + (w + 1),
                "--seed-nodes",
                "127.0.0.1:" + port);
        procs.add(
            new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(out.resolve("worker-" + (w + 1) + ".log").toFile())
                .start());
      }
      return job(
          (sp, o, ev) ->
              EmbeddedJob.run(
                  ClusterConfig.of(
                      ClusterConfig.Role.COORDINATOR,
                      "127.0.0.1",
                      port,
                      List.of("127.0.0.1:" + port)),
                  sp,
                  0,
                  LocalWorkers.factory(),
                  o,
                  ev,
                  e -> false,
                  Duration.ofMinutes(60)),
          spec,
          out.resolve("job"));
    } finally {
      for (Process p : procs) {
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
      }
    }
  }

  // ---- helpers ----

  /** B:[out,r] as is (columns span the left subspace); A:[r,in] transposed to [in,r]. */
  static DMatrixRMaj matrix(TensorBlob t, boolean transpose) {
    int rows = (int) t.shape()[0];
    int cols = (int) t.shape()[1];
    DoubleBuffer d = t.buffer().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
    double[] v = new double[rows * cols];
    d.get(v);
    DMatrixRMaj m = new DMatrixRMaj(rows, cols, true, v);
    if (!transpose) return m;
    DMatrixRMaj tr = new DMatrixRMaj(cols, rows);
    org.ejml.dense.row.CommonOps_DDRM.transpose(m, tr);
    return tr;
  }

  static double median(List<Double> xs) {
    if (xs.isEmpty()) return Double.NaN;
    double[] v = xs.stream().skip(warmup(xs.size())).mapToDouble(Double::doubleValue).sorted().toArray();
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /** How many of a run's first steps are warm-up, left out of its figures: 2, but never all of them. */
  static int warmup(int steps) {
    return Math.max(0, Math.min(2, steps - 1));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
