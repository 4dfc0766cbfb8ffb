package dev.loraone.coordinator;

import dev.loraone.coordinator.state.JobPlan;
import dev.loraone.core.init.InitParams;
import dev.loraone.core.init.InitGroups;
import dev.loraone.core.init.InitMethod;
import dev.loraone.core.init.LoraOneInit;
import dev.loraone.core.init.ShardedGradientInit;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.optim.OptimizerConfig;
import dev.loraone.core.optim.Schedule;
import dev.loraone.core.svd.RandomizedSvdRounds;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * What a job file means to the coordinator: the work plan, the init settings, the optimizer and the
 * adapter config, built from {@link JobSpec} exactly as the single-process fine-tune builds them
 * ({@code FinetuneConfig.fromJob} and {@code LocalRun} in gpu-worker), so both run the same
 * arithmetic:
 *
 * <pre>
 *   init       ShardedGradientInit.Settings(method, LoraScaling(alpha, r, rslora), gamma (0 = method default),
 *                                           init.mode == randomized, q-factor, niter, seed)
 *   optimizer  OptimizerConfig.defaults(lr).withLoraPlusRatio.withWeightDecay.withLambda
 *                .withSchedule(Schedule.forName(schedule, min(warmup, steps), steps)); clipping by AdapterTrainer
 *   plan       init.shards x init.iters, 2*niter+2 SVD rounds (1 in exact mode), train.batch / train.micro-batch
 *              micro-batches per step, eval every eval.every steps and at the end
 * </pre>
 */
record JobSetup(
    String specSha256,
    String method,
    ShardedGradientInit.Settings initSettings,
    double stableGamma,
    int initShards,
    int initIters,
    int steps,
    int microBatchesPerStep,
    int evalEvery,
    int minWorkers,
    int checkpointEvery,
    String optimizer,
    OptimizerConfig optimizerConfig,
    double maxGradNorm,
    int rank,
    double alpha,
    boolean rslora,
    double dropout,
    List<String> targets,
    String model,
    long initMemoryBudget) {

  /**
   * The target list as the worker's {@code LoraConfig.of} reads {@code lora.targets}: {@code none}
   * keeps all-linear at rank 0.
   */
  static List<String> targets(String spec) {
    String t = spec.trim().toLowerCase(Locale.ROOT);
    if (t.isEmpty() || t.equals("none")) return List.of("all-linear");
    return Arrays.stream(t.split(",")).map(String::trim).toList();
  }

  static JobSetup of(JobSpec spec) {
    String method = spec.getString("init.method");
    int steps = spec.getInt("train.steps");
    double gamma = spec.getDouble("init.gamma");
    InitParams params = gamma == 0 ? InitParams.defaults() : InitParams.defaults().withGamma(gamma);
    int rank = spec.getInt("lora.rank");
    double alpha = spec.getDouble("lora.alpha");
    boolean rslora = spec.getBoolean("lora.rslora");
    ShardedGradientInit.Settings init =
        new ShardedGradientInit.Settings(
            method,
            new LoraScaling(alpha, rank, rslora),
            params,
            InitMethod.of(method).randomizedSvd()
                && spec.getString("init.mode").equals("randomized"),
            spec.getInt("init.q-factor"),
            spec.getInt("init.niter"),
            spec.getLong("seed"));
    OptimizerConfig oc =
        OptimizerConfig.defaults(spec.getDouble("optimizer.lr"))
            .withLoraPlusRatio(spec.getDouble("optimizer.lora-plus-ratio"))
            .withWeightDecay(spec.getDouble("optimizer.weight-decay"))
            .withLambda(spec.getDouble("optimizer.lambda"))
            .withSchedule(
                Schedule.forName(
                    spec.getString("optimizer.schedule"),
                    Math.min(spec.getInt("optimizer.warmup"), steps),
                    steps));
    return new JobSetup(
        sha256(spec.renderIdentity()), // a checkpoint resumes under another memory budget etc.
        method,
        init,
        params.gammaOr(LoraOneInit.DEFAULT_STABLE_GAMMA),
        spec.getInt("init.shards"),
        spec.getInt("init.iters"),
        steps,
        spec.getInt("train.batch") / spec.getInt("train.micro-batch"),
        spec.getInt("eval.every"),
        spec.getInt("workers.min"),
        spec.getInt("checkpoint.every"),
        spec.getString("optimizer.name"),
        oc,
        spec.getDouble("optimizer.max-grad-norm"),
        rank,
        alpha,
        rslora,
        spec.getDouble("lora.dropout"),
        targets(spec.getString("lora.targets")),
        spec.getString("model"),
        spec.getBytes("init.memory-budget"));
  }



  /**
   * Whether the coordinator runs the init from the workers' gradient shards (LoRA-One); the others
   * run on the workers.
   */
  boolean needsGradient() {
    return InitMethod.of(method).initOnCoordinator();
  }

  boolean randomized() {
    return initSettings.randomized();
  }

  /** {@code 2*niter + 2} Halko rounds, or 1 round that returns each shard's G itself (exact mode). */
  int svdRounds() {
    return randomized() ? RandomizedSvdRounds.plannedRounds(initSettings.niter()) : 1;
  }

  /** The work plan once the first layout told the number of eval batches and whether the coordinator runs the init. */
  JobPlan plan(boolean gradientInit, int evalBatches) {
    return plan(gradientInit, evalBatches, List.of());
  }

  /**
   * {@link #plan(boolean, int)} with the gradient estimate cut into the module groups of {@code shapes}
   * ({@code [out, in]} in model order) under {@code init.memory-budget}, as every engine cuts them.
   */
  JobPlan plan(boolean gradientInit, int evalBatches, List<int[]> shapes) {
    int eval = Math.max(1, evalBatches);
    return gradientInit
        ? new JobPlan(initShards, initIters, svdRounds(), steps, microBatchesPerStep, evalEvery, eval, minWorkers)
            .withInitGroups(initGroups(shapes).size())
        : JobPlan.withoutGradientInit(steps, microBatchesPerStep, evalEvery, eval, minWorkers);
  }

  /**
   * The module groups of the gradient estimate ({@code init.memory-budget}) over the layout's
   * {@code [out, in]} shapes in model order: the groups every engine cuts from the same layout.
   */
  List<InitGroups.Group> initGroups(List<int[]> shapes) {
    return InitGroups.plan(shapes, Math.max(1, initShards), initMemoryBudget);
  }

  /** Checkpoint after {@code step}: every {@code checkpoint.every} steps and after the last (a phase end). */
  boolean checkpointsAfter(int step) {
    return step == steps || (checkpointEvery > 0 && step % checkpointEvery == 0);
  }

  /** {@code adapter_config.json} as the local run writes it, with the task's PEFT task type. */
  PeftAdapter.Config peftConfig(String baseModel, String taskType, List<String> modules) {
    return new PeftAdapter.Config(
        rank,
        alpha,
        rslora,
        PeftAdapter.targetModules(modules),
        TaskMetrics.peftTaskType(taskType),
        baseModel,
        dropout);
  }

  static String sha256(String text) {
    return sha256(text.getBytes(StandardCharsets.UTF_8));
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
