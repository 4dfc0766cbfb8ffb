package dev.loraone.worker.train;

import ai.djl.Device;
import dev.loraone.worker.runtime.Devices;
import dev.loraone.core.init.InitGroups;
import dev.loraone.core.init.InitMethod;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.data.MicroBatchPlan;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.SketchSide;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.AdaptedModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The DJL work of one job on one worker, for any task and model family ({@link Workload}),
 * addressed the way the coordinator hands it out. The single-process {@link LocalRun} drives the
 * same engine, so every result is bit-identical on both paths for the same address: the same model,
 * data, tokenizer, {@link MicroBatchPlan}, batch indices, dropout seeds and double arithmetic.
 *
 * <pre>
 *   open             model + data; inits without a gradient (lora, gaussian, pissa) run here,
 *                    PiSSA's W0 offset applied to this copy of the model
 *   computeShard s   G_s = sum_{i in shard s, in the given order} dL_i/dW / w_i, per adapted module  [out,in] double
 *                    init micro-batch i = examples order[i*bsz .. (i+1)*bsz) of epoch 0's order
 *   computeShard g,s the same for module group g's modules only (init.memory-budget, {@link #initGroups});
 *                    the sums of other groups are dropped first (InitEstimate)
 *   sketch           RIGHT: G_s X   X:[in,q]  -> [out,q]      LEFT: G_s^T Q   Q:[out,q] -> [in,q]   (F64)
 *   setAdapters      A:[r,in], B:[out,r], head (classifier.weight:[C,H], classifier.bias:[C]) as float copies of the
 *       masters
 *   gradients g      LoRA (+ head) gradients of training micro-batch g, its loss term and weight; dropout seeded by
 *       (seed, g)
 *   evaluate b       eval examples [32b, min(n, 32b+32)) of the first n = eval.examples
 *   exportOnnx       merged model.onnx + tokenizer.json, each with its SHA-256
 * </pre>
 *
 * Tensor keys: {@code <module>.lora_A}, {@code <module>.lora_B} and the workload's head names, for
 * adapters in and gradients out alike.
 *
 * <p>Each unit is an {@code encode*} call (tokenisation and batch arrays: no DJL, thread-safe) and
 * a compute taking its {@link Encoded} input; the one-argument forms do both. Apart from the encode
 * calls the engine is not thread-safe, and DJL allows one open gradient collector per JVM: every
 * engine of a JVM must be called from one thread at a time (the worker actor runs them all on the
 * single thread of {@code loraone.djl-dispatcher}, encoding ahead on another; a {@link #sketch} is
 * plain Java and may run on another thread, one call at a time with the engine's others). Imports no
 * Pekko, so it is tested without actors.
 */
public final class WorkerEngine implements AutoCloseable {
  /**
   * LoRA gradients of one training micro-batch's loss term ({@link Workload.TrainUnit}).
   *
   * @param grads F32 by {@code <module>.lora_A} [r,in], {@code <module>.lora_B} [out,r] and the head's names
   */
  public record Gradients(double lossSum, double weight, int examples, Map<String, Double> metrics,
      Map<String, TensorBlob> grads) {}

  private final FinetuneConfig cfg;
  private final Workload work;
  private final MicroBatchPlan plan;
  private EngineLayout layout;
  private final String deviceKind;
  private Map<String, LoraPair> initPairs;
  private final InitEstimate estimate = new InitEstimate();
  private final ModelAdapters slots;
  private final LengthBuckets buckets;

  private WorkerEngine(FinetuneConfig cfg, Workload work, Map<String, LoraPair> initPairs, boolean initRanHere,
      String modelHash, String deviceKind) {
    this.cfg = cfg;
    this.work = work;
    this.deviceKind = deviceKind;
    this.plan = new MicroBatchPlan(work.trainSize(), cfg.microBatch(), cfg.seed());
    this.buckets = cfg.bucketByLength() && cfg.microBatchesPerStep() > 1
        ? new LengthBuckets(plan, cfg.microBatchesPerStep(), work::trainLength) : null;
    this.initPairs = initPairs;
    this.layout = describe(initRanHere, modelHash);
    this.slots = new ModelAdapters(work.model(), cfg.rank(), layout);
  }

  /** Opens the job a spec describes on the CPU ({@link #open(FinetuneConfig, String)}). */
  public static WorkerEngine open(JobSpec spec) throws IOException {
    return open(FinetuneConfig.fromJob(spec), "cpu");
  }

  /** Opens the job a spec describes with its model on {@code device} ({@code cpu}, {@code cuda:K}). */
  public static WorkerEngine open(JobSpec spec, String device) throws IOException {
    return open(FinetuneConfig.fromJob(spec), device);
  }

  /** Opens a job on the CPU ({@link #open(FinetuneConfig, String)}). */
  public static WorkerEngine open(FinetuneConfig cfg) throws IOException {
    return open(cfg, "cpu");
  }

  /**
   * Loads the job's model and data, the model on {@code device} (its activations and gradients stay
   * there; adapters, gradients and metrics cross to the host for the wire), and runs the inits every
   * worker runs itself. Blocking: seconds. The layout records the device kind: bits are identical only
   * across workers of one kind, so the coordinator refuses a worker of another kind for the job.
   */
  public static WorkerEngine open(FinetuneConfig cfg, String device) throws IOException {
    Device placement = Devices.djl(device);
    FinetuneConfig.checkTaskType(cfg.taskType(), cfg.model());
    Workload work = switch (cfg.resolvedTaskType()) {
      case TaskMetrics.CAUSAL_LM -> CausalLmWorkload.open(cfg, placement);
      case TaskMetrics.EMBEDDING -> EmbeddingWorkload.open(cfg, placement);
      default -> ClassificationWorkload.open(cfg, placement);
    };
    try {
      String hash = work.modelHash();
      if (cfg.needsGradient() && !cfg.headOnly() && work.trainSize() < cfg.initIters() * cfg.initBatch()) {
        throw new IllegalArgumentException("the gradient estimate needs " + cfg.initIters() * cfg.initBatch()
            + " training examples ('job.init.iters' x 'job.init.batch') but " + cfg.task()
            + " has " + work.trainSize());
      }
      WorkerEngine engine = new WorkerEngine(cfg, work, null, false, hash, Devices.kind(device));
      try {
        engine.initialiseHere(hash);
      } catch (RuntimeException e) {
        engine.estimate.release();
        throw e;
      }
      return engine;
    } catch (RuntimeException e) {
      work.close();
      throw e;
    }
  }

  /**
   * What every worker does the same way when it opens a job, so that its bits never travel: the
   * head warm-up ({@link HeadWarmup}, before any init, on the base model: every B is zero), then the
   * init unless the coordinator runs it ({@link InitMethod#initOnCoordinator()}): seeded inits and
   * PiSSA from this copy of W0, LoRA-GA from every init shard summed here. The layout then holds the
   * warmed head and the init factors.
   */
  private void initialiseHere(String modelHash) {
    if (cfg.headWarmup() > 0) HeadWarmup.run(this, cfg);
    InitMethod method = InitMethod.of(cfg.init());
    boolean here = !cfg.headOnly() && !method.initOnCoordinator();
    if (here && method.needsGradient()) {
      AdapterInit.Pending pending = new AdapterInit.Pending();
      for (InitGroups.Group g : initGroups()) { // one pass per module group (init.memory-budget)
        InitEstimate.Pass pass = InitEstimate.pass(layout.modules(), g);
        for (int s = 0; s < cfg.initShards(); s++) computeShard(pass, s, shardMicroBatches(s));
        initGroup(pass, g, pending);
      }
      writeInit(pending);
    } else if (here) {
      initPairs = AdapterInit.apply(work.model(), null, cfg.initIters(), cfg);
    }
    layout = describe(here, modelHash); // the warmed head and the init factors
    slots.reset(layout);
  }

  private EngineLayout describe(boolean initRanHere, String modelHash) {
    return EngineLayout.of(work, cfg, initRanHere, initPairs != null, evalExamples(), modelHash, deviceKind);
  }

  public EngineLayout layout() {
    return layout;
  }

  public FinetuneConfig config() {
    return cfg;
  }

  /** Class names in id order (empty for tasks without classes). */
  public List<String> labels() {
    return layout.labels();
  }

  /** The task type: {@code classification}, {@code causal-lm} or {@code embedding}. */
  public String taskType() {
    return work.taskType();
  }

  /** The init factors when the init modified W0 (PiSSA, LoRA-GA), for a plain-LoRA export; null otherwise. */
  public Map<String, LoraPair> initPairs() {
    return initPairs;
  }

  /** Evaluation examples used: {@code min(eval.examples, eval set)}. */
  public int evalExamples() {
    return Math.min(cfg.evalExamples(), work.evalSize());
  }

  public int evalBatches() {
    return (evalExamples() + JobJoined.EVAL_BATCH - 1) / JobJoined.EVAL_BATCH;
  }

  /** Init micro-batches of shard {@code s}: {@code [s*per, (s+1)*per)} with {@code per = init.iters / init.shards}. */
  public int[] shardMicroBatches(int shard) {
    int per = cfg.initIters() / cfg.initShards();
    int[] out = new int[per];
    for (int i = 0; i < per; i++) out[i] = shard * per + i;
    return out;
  }

  /**
   * The module groups of the gradient estimate ({@code init.memory-budget}, {@link InitGroups}): one
   * group of every module when the budget is 0. The coordinator cuts the same groups from the layout.
   */
  public List<InitGroups.Group> initGroups() {
    return withBudget(cfg.initMemoryBudget());
  }

  /** The groups {@link #initGroups} would cut under {@code budget} bytes. */
  List<InitGroups.Group> withBudget(long budget) {
    return InitEstimate.groups(layout.modules(), cfg.initShards(), budget);
  }

  /**
   * Sums the full gradients of every adapted module over init micro-batches {@code microBatches},
   * in this order, and keeps the sum as shard {@code shard} (one pass of every module, as group 0).
   * Idempotent: a shard already held for the same micro-batches is not recomputed. Runs on the
   * untrained model: adapters set since the job opened are replaced by the initial ones first.
   *
   * @return the sum of the micro-batches' mean losses
   */
  public double computeShard(int shard, int[] microBatches) {
    return computeShard(allModules(), shard, microBatches);
  }

  /** {@link #computeShard(int, int[])} on micro-batches encoded ahead ({@link #encodeShard}). */
  public double computeShard(int shard, int[] microBatches, Encoded encoded) {
    return computeShard(allModules(), shard, microBatches, encoded);
  }

  /**
   * {@link #computeShard(int, int[])} of module group {@code group} only: the sums of {@code modules}
   * (model order), the other modules' weights taking no gradient; the sums held of any other group are
   * dropped first. Each module's sum is the same bits as in the all-module pass.
   */
  public double computeShard(int group, List<String> modules, int shard, int[] microBatches, Encoded encoded) {
    return computeShard(new InitEstimate.Pass(group, modules), shard, microBatches, encoded);
  }

  double computeShard(InitEstimate.Pass pass, int shard, int[] microBatches) {
    Double held = estimate.held(pass, shard, microBatches);
    if (held != null) return held;
    return computeShard(pass, shard, microBatches, encodeShard(microBatches));
  }

  private double computeShard(InitEstimate.Pass pass, int shard, int[] microBatches, Encoded encoded) {
    Double held = estimate.held(pass, shard, microBatches);
    if (held != null) return held;
    requireGradientInit();
    List<Workload.Input> inputs = encoded.of(shardAddress(microBatches));
    restoreInitial(); // the estimate is of the untrained model: B = 0, the initial head
    return estimate.compute(work, pass, shard, microBatches, layout.modules(), inputs);
  }

  private InitEstimate.Pass allModules() {
    return InitEstimate.pass(layout.modules(), new InitGroups.Group(0, 0, layout.modules().size()));
  }

  /**
   * The init micro-batches {@code microBatches} encoded for {@link #computeShard(int, int[], Encoded)}.
   * Thread-safe: may run on any thread, beside the engine's DJL work.
   */
  public Encoded encodeShard(int[] microBatches) {
    requireGradientInit();
    int[] order = plan.permutation(0);
    int bsz = cfg.initBatch();
    List<Workload.Input> inputs = new ArrayList<>(microBatches.length);
    for (int i : microBatches) {
      if (i < 0 || i >= cfg.initIters()) {
        throw new IllegalArgumentException(
            "init micro-batch " + i + " is not in [0, init.iters=" + cfg.initIters() + ")");
      }
      inputs.add(work.encodeInit(i, Arrays.copyOfRange(order, i * bsz, (i + 1) * bsz)));
    }
    return new Encoded(shardAddress(microBatches), inputs);
  }

  private void requireGradientInit() {
    if (!cfg.needsGradient() || cfg.headOnly()) {
      throw new IllegalStateException(
          "init.method = " + cfg.init() + " needs no gradient estimate; it ran when the job opened");
    }
  }

  private static String shardAddress(int[] microBatches) {
    return "init micro-batches " + Arrays.toString(microBatches);
  }

  /**
   * Replaces the head's values before training (a head warm-up): in the model and in the initial
   * state the gradient estimate runs on.
   */
  void warmHead(Map<String, float[]> head) {
    slots.warmHead(head);
  }

  /** Whether init shard {@code shard} is held (of whichever group). */
  public boolean holdsShard(int shard) {
    return estimate.holds(shard);
  }

  /** The module group whose shard sums are held, or -1. */
  public int heldGroup() {
    return estimate.heldGroup();
  }

  /** Drops the init shard sums (tens of MB each) once the init is done. */
  public void releaseShards() {
    estimate.release();
  }

  /**
   * The init of one module group from every shard held here, in one process (the {@link LocalRun}
   * path): per module {@code ShardedGradientInit.init} over the shard sums in shard order, into
   * {@code pending} (written into the model by {@link #writeInit} once every group is done). The
   * shards are released.
   */
  void initGroup(InitEstimate.Pass pass, InitGroups.Group g, AdapterInit.Pending pending) {
    AdapterInit.computeGroup(work.model(), g.from(), g.to(), estimate.byModule(pass, cfg.initShards()),
        cfg.initIters(), cfg, pending);
    estimate.release();
  }

  /** Writes the factors of every group into the model (and moves W0 for LoRA-GA); the init pairs or null. */
  Map<String, LoraPair> writeInit(AdapterInit.Pending pending) {
    initPairs = AdapterInit.write(work.model(), pending, cfg);
    return initPairs;
  }

  /**
   * One shard's product for one randomized-SVD round: exactly
   * {@code SvdRequest.applyTo(MatrixOperator.of(G_s))}, as the single-process init computes it.
   *
   * @param operand F64 {@code X:[in,q]} (RIGHT) or {@code Q:[out,q]} (LEFT)
   * @return F64 {@code [out,q]} (RIGHT) or {@code [in,q]} (LEFT)
   */
  public TensorBlob sketch(int shard, String module, SketchSide side, TensorBlob operand) {
    return estimate.sketch(-1, shard, module, side, operand);
  }

  /** {@link #sketch(int, String, SketchSide, TensorBlob)} of a shard held for module group {@code group}. */
  public TensorBlob sketch(int group, int shard, String module, SketchSide side, TensorBlob operand) {
    return estimate.sketch(group, shard, module, side, operand);
  }

  /**
   * Puts the adapters and head the job opened with back into the model (a no-op while nothing was
   * set since): the model of the gradient estimate and of the step-0 evaluation.
   */
  public void restoreInitial() {
    slots.restoreInitial();
  }

  /**
   * Writes the adapters and head into the model (float32).
   *
   * @param values {@code <module>.lora_A} [r,in], {@code <module>.lora_B} [out,r] and the head's tensors;
   *     F32 (F64 is rounded to float, as the masters are)
   */
  public void setAdapters(long step, Map<String, TensorBlob> values) {
    slots.set(step, values);
  }

  /** The adapters in the model, as last set; empty before {@link #setAdapters}. */
  public Map<String, TensorBlob> adapters() {
    return slots.adapters();
  }

  /** The step of the adapters in the model; -1 before {@link #setAdapters}. */
  public long adapterStep() {
    return slots.step();
  }

  /** Training micro-batch {@code microBatch} encoded for {@link #gradients(long, Encoded)}. Thread-safe. */
  public Encoded encodeGradients(long microBatch) {
    return new Encoded(trainAddress(microBatch), List.of(work.encodeTrain(microBatch, trainExamples(microBatch))));
  }

  /** The examples of training micro-batch {@code microBatch} ({@link LengthBuckets} when bucketing). */
  int[] trainExamples(long microBatch) {
    return buckets == null ? plan.microBatch(microBatch) : buckets.microBatch(microBatch);
  }

  /** The task's workload (tests: its token lengths). */
  Workload work() {
    return work;
  }

  /** The raw unit of training micro-batch {@code microBatch} under the adapters in the model (float arrays). */
  Workload.TrainUnit trainUnit(long microBatch) {
    return trainUnit(microBatch, encodeGradients(microBatch));
  }

  private Workload.TrainUnit trainUnit(long microBatch, Encoded encoded) {
    Workload.Input in = encoded.of(trainAddress(microBatch)).get(0);
    return work.loraGradients(in, DropoutSeeds.of(cfg.seed(), microBatch));
  }

  private static String trainAddress(long microBatch) {
    return "training micro-batch " + microBatch;
  }

  /** LoRA (and head) gradients of training micro-batch {@code microBatch} under the adapters in the model. */
  public Gradients gradients(long microBatch) {
    return gradients(microBatch, encodeGradients(microBatch));
  }

  /** {@link #gradients(long)} of a micro-batch encoded ahead ({@link #encodeGradients}). */
  public Gradients gradients(long microBatch, Encoded encoded) {
    Workload.TrainUnit g = trainUnit(microBatch, encoded);
    Map<String, TensorBlob> out = new LinkedHashMap<>();
    int r = cfg.rank();
    for (EngineLayout.ModuleShape m : layout.modules()) {
      float[][] ab = g.adapters().get(m.name());
      out.put(m.name() + JobJoined.LORA_A, TensorBlob.ofFloats(new long[] {r, m.in()}, ab[0]));
      out.put(m.name() + JobJoined.LORA_B, TensorBlob.ofFloats(new long[] {m.out(), r}, ab[1]));
    }
    layout.head().forEach((h, t) -> out.put(h, TensorBlob.ofFloats(t.shape(), g.head().get(h))));
    return new Gradients(g.lossSum(), g.weight(), g.examples(), g.metrics(), out);
  }

  /** Evaluation batch {@code batch}: examples {@code [32 batch, min(n, 32 batch + 32))} of the first n. */
  public Workload.EvalUnit evaluate(int batch) {
    return evaluate(batch, encodeEvaluation(batch));
  }

  /** Evaluation batch {@code batch} encoded for {@link #evaluate(int, Encoded)}. Thread-safe. */
  public Encoded encodeEvaluation(int batch) {
    int n = evalExamples();
    long from = (long) batch * JobJoined.EVAL_BATCH;
    if (batch < 0 || from >= n) {
      throw new IllegalArgumentException("evaluation batch " + batch + " is not in [0, " + evalBatches() + ")");
    }
    int[] idx = new int[(int) Math.min(JobJoined.EVAL_BATCH, n - from)];
    for (int i = 0; i < idx.length; i++) idx[i] = work.evalExample((int) from + i, n);
    return new Encoded(evalAddress(batch), List.of(work.encodeEval(idx)));
  }

  /** {@link #evaluate(int)} of a batch encoded ahead ({@link #encodeEvaluation}). */
  public Workload.EvalUnit evaluate(int batch, Encoded encoded) {
    return work.evaluate(encoded.of(evalAddress(batch)).get(0));
  }

  private static String evalAddress(int batch) {
    return "evaluation batch " + batch;
  }

  /**
   * Writes the merged model with {@code finalAdapters} to {@code dir}.
   *
   * @return each written file's name under {@code dir} and its SHA-256 (hex)
   */
  public Map<String, String> exportOnnx(
      Path dir, Map<String, TensorBlob> finalAdapters, List<String> labels) throws IOException {
    if (!finalAdapters.equals(slots.adapters())) slots.set(ModelAdapters.NO_STEP, finalAdapters); // no announced step
    OnnxExport export = work.exportOnnx(dir, labels);
    List<Path> files = new ArrayList<>(List.of(export.model()));
    export.externalData().ifPresent(files::add);
    for (String side : List.of(Artifacts.TOKENIZER_FILE, LlamaArtifacts.CONFIG_FILE)) { // copied beside the model
      Path f = dir.resolve(side);
      if (side.equals(Artifacts.TOKENIZER_FILE) || work instanceof CausalLmWorkload) files.add(f);
    }
    Map<String, String> out = new TreeMap<>();
    for (Path f : files) out.put(f.getFileName().toString(), Digests.file(f)); // all written directly under dir
    return out;
  }

  /** SHA-256 of this engine's model id and base weights, computed when it opened. */
  public String modelHash() {
    return layout.modelHash();
  }

  @Override
  public void close() {
    estimate.release();
    work.close();
  }

  /** The model under training (adapters unmerged), for export, generation and tests. */
  public AdaptedModel model() {
    return work.model();
  }

  MicroBatchPlan plan() {
    return plan;
  }
}
