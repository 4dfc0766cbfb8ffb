package dev.loraone.worker.train;

import dev.loraone.core.init.InitMethod;
import dev.loraone.core.init.InitParams;
import dev.loraone.core.init.LoraInitializers;
import dev.loraone.core.init.ShardedGradientInit;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.optim.Optimizers;
import dev.loraone.core.optim.Schedule;
import dev.loraone.data.OnBadRecord;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.worker.model.ModelFamily;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Everything that determines a fine-tuning run. Two runs with equal configs produce bit-identical
 * adapters (the determinism contract of DESIGN.md section 4).
 *
 * @param model {@code minilm}, {@code bge-small} or an HF folder (not yet supported for BERT)
 * @param task {@code wordnet-supersense}, {@code wordnet-supersense-all} or a JSONL/CSV/TSV file
 * @param init {@code lora-one | lora | gaussian | pissa | lora-ga}
 * @param optimizer {@code adamw | scaled-adamw | scaled-gd}
 * @param targets LoRA target modules: name patterns ({@code query,key,value,dense}) or {@code all-linear}
 * @param batch examples per optimizer step; a multiple of {@code microBatch}
 * @param microBatch examples per micro-batch: the unit of work and of the index-ordered sums
 * @param initBatch, initIters LoRA-One's one-step gradient: {@code initIters} micro-batches of
 *     {@code initBatch} examples, averaged (reference 2.2: bsz 8 x iters 8 reach the paper's accuracy)
 * @param gamma {@code stable_gamma} of LoRA-One (128) or LoRA-GA (16); NaN for the method default
 * @param maxPerClass cap per class and split for the built-in WordNet task
 * @param evalExamples evaluate on at most this many eval examples (the first ones)
 * @param evalEvery evaluate every N steps (0: only at the end)
 * @param initShards canonical init shards: the init micro-batches are summed per shard, shards in
 *     order, so a distributed run with the same value gives the same bits on any number of workers
 * @param initMode {@code randomized} (Halko rounds over shard products; LoRA-One) or {@code exact}
 * @param qFactor, niter randomized SVD: {@code q = qFactor * r}, power iterations
 * @param headWarmup head-only steps before the gradient estimate and init (0: none, the default):
 *     the classifier trains on the frozen pretrained encoder without adapters (AdamW at constant
 *     {@code headWarmupLr}, the run's batch and clipping, the training stream's first micro-batches),
 *     then the main run starts from that head with a fresh optimizer and its usual step count.
 *     Linear probing before fine-tuning, as in LP-FT (Kumar et al. 2022): with a random head, the
 *     one-step encoder gradient that LoRA-One factorises points along the random head's rows
 * @param headWarmupLr learning rate of the head warm-up; NaN means {@code lr}
 * @param taskType {@code task.type}: {@code auto} (the model family's default task), {@code classification},
 *     {@code causal-lm} or {@code embedding}; {@link #resolvedTaskType()} says which task runs
 * @param scale embedding: the similarity scale of the in-batch-negatives loss ({@code task.scale}, 20)
 * @param corpus embedding: extra documents to retrieve from in evaluation ({@code task.corpus}), or null
 * @param headInit classification: the head's start ({@code head.init}): {@code labels} ({@link LabelHead}: each
 *     class's row the model's unit sentence embedding of its label text, scaled, bias 0; step 0 is zero-shot),
 *     {@code random} (normal(0, 0.02), bias 0) or {@code warmup} (random, then {@code headWarmup > 0} head-only
 *     steps). A warm-up ({@code headWarmup > 0}) also follows a {@code labels} or {@code random} head
 * @param headTemperature {@code head.temperature}: a labels head's logits are about this times the cosine
 * @param labels {@code task.labels}: a {@code label<TAB>description} file for the labels head, or null
 * @param activationCheckpointing {@code train.activation-checkpointing}: Llama-family training forwards keep
 *     only each decoder layer's input and the backward recomputes the layers ({@code CheckpointedPass}); the
 *     gradients, and so the adapter, are the same bits, with less memory and one more forward of time
 * @param bucketByLength {@code train.bucket-by-length} resolved: a step's examples are regrouped into its
 *     micro-batches by token length ({@code auto}: for causal LM), so short examples are not padded to long ones
 * @param initMemoryBudget {@code init.memory-budget} in bytes (0: unbounded): the gradient estimate runs in
 *     passes over {@code InitGroups} of modules whose float64 shard sums fit it; the same init bits for any value
 */
public record FinetuneConfig(
    String model, String task, Path evalFile, String init, String optimizer, int rank, double alpha, boolean rslora,
    String targets, double dropout, double lr, double loraPlusRatio, double weightDecay, double lambda,
    String schedule, int warmup, double maxGradNorm, int steps, int batch, int microBatch, int initBatch, int initIters,
    double gamma, int maxLength, int maxPerClass, int evalExamples, int evalEvery, long seed, OnBadRecord onBadRecord,
    int initShards, String initMode, int qFactor, int niter, int headWarmup, double headWarmupLr, String taskType,
    double scale, Path corpus, String headInit, double headTemperature, Path labels,
    boolean activationCheckpointing, boolean bucketByLength, long initMemoryBudget) {

  /** {@code task.scale}'s default: sentence-transformers' MultipleNegativesRankingLoss scale. */
  public static final double DEFAULT_SCALE = 20;

  /** {@code head.init}'s values. */
  public static final List<String> HEAD_INITS = List.of("labels", "random", "warmup");

  /**
   * {@code head.init}'s default, as JobKeys' (whose doc gives the measurement behind it): a labels head,
   * since a random one leaves LoRA-One factorising a random projection of the task's gradient.
   */
  public static final String DEFAULT_HEAD_INIT = "labels";

  /** {@code head.temperature}'s default: logits of about 20 x cosine, as {@code task.scale}. */
  public static final double DEFAULT_TEMPERATURE = 20;

  /** Head-only steps of {@code head.init = warmup} when {@code head.warmup-steps} is 0. */
  public static final int DEFAULT_WARMUP_STEPS = 50;

  public static FinetuneConfig defaults() {
    return new FinetuneConfig("minilm", TaskData.WORDNET, null, "lora-one", "adamw", 8, 16, true, "all-linear", 0.0,
        5e-4, 1.0, 0.0, 1e-6, "linear", 10, 1.0, 100, 16, 8, 8, 8, Double.NaN, 64, 200, 512, 50, 0, OnBadRecord.FAIL,
        4, "randomized", 4, 2, 0, Double.NaN, "auto", DEFAULT_SCALE, null, DEFAULT_HEAD_INIT, DEFAULT_TEMPERATURE,
        null, false, false, 0);
  }

  /**
   * The config a job file describes ({@code protocol.job.JobKeys}): every key that shapes the
   * computation maps to one component; {@code init.gamma = 0} means the method's default (NaN here).
   * {@code name}, {@code checkpoint.every} and {@code workers.min} are the coordinator's alone;
   * {@code head.warmup-lr = 0} means {@code optimizer.lr}; {@code head.init = warmup} with
   * {@code head.warmup-steps = 0} means {@value #DEFAULT_WARMUP_STEPS} steps. {@code
   * train.activation-checkpointing} is refused for a model outside the Llama family.
   */
  public static FinetuneConfig fromJob(JobSpec job) {
    checkTaskType(job.getString("task.type"), job.getString("model"));
    boolean checkpointing = job.getBoolean("train.activation-checkpointing");
    if (checkpointing && ModelFamily.detect(job.getString("model")) != ModelFamily.LLAMA) {
      throw new IllegalArgumentException("'job.train.activation-checkpointing' = true is implemented for"
          + " Llama-family models only, not 'job.model' = " + job.getString("model"));
    }
    String evalFile = job.getString("task.eval");
    String corpus = job.getString("task.corpus");
    double gamma = job.getDouble("init.gamma");
    String headInit = job.getString("head.init");
    int headWarmup = job.getInt("head.warmup-steps");
    String labels = job.getString("task.labels");
    return new FinetuneConfig(
        job.getString("model"),
        job.getString("task.train"),
        evalFile == null ? null : Path.of(evalFile),
        job.getString("init.method"),
        job.getString("optimizer.name"),
        job.getInt("lora.rank"),
        job.getDouble("lora.alpha"),
        job.getBoolean("lora.rslora"),
        job.getString("lora.targets"),
        job.getDouble("lora.dropout"),
        job.getDouble("optimizer.lr"),
        job.getDouble("optimizer.lora-plus-ratio"),
        job.getDouble("optimizer.weight-decay"),
        job.getDouble("optimizer.lambda"),
        job.getString("optimizer.schedule"),
        job.getInt("optimizer.warmup"),
        job.getDouble("optimizer.max-grad-norm"),
        job.getInt("train.steps"),
        job.getInt("train.batch"),
        job.getInt("train.micro-batch"),
        job.getInt("init.batch"),
        job.getInt("init.iters"),
        gamma == 0 ? Double.NaN : gamma,
        job.getInt("train.max-length"),
        job.getInt("data.max-per-class"),
        job.getInt("eval.examples"),
        job.getInt("eval.every"),
        job.getLong("seed"),
        OnBadRecord.valueOf(job.getString("data.on-bad-record").toUpperCase(Locale.ROOT)),
        job.getInt("init.shards"),
        InitMethod.of(job.getString("init.method")).randomizedSvd()
            ? job.getString("init.mode")
            : "exact",
        job.getInt("init.q-factor"),
        job.getInt("init.niter"),
        headInit.equals("warmup") && headWarmup == 0 ? DEFAULT_WARMUP_STEPS : headWarmup,
        job.getDouble("head.warmup-lr") == 0 ? Double.NaN : job.getDouble("head.warmup-lr"),
        job.getString("task.type"),
        job.getDouble("task.scale"),
        corpus == null ? null : Path.of(corpus),
        headInit,
        job.getDouble("head.temperature"),
        labels == null ? null : Path.of(labels),
        checkpointing,
        bucketByLength(job.getString("train.bucket-by-length"), ModelFamily.detect(job.getString("model"))
            .resolve(job.getString("task.type"))),
        job.getBytes("init.memory-budget"));
  }

  /**
   * {@code train.bucket-by-length} for {@code task}: {@code auto} buckets causal-LM steps, whose rows vary
   * most in length; an embedding job's micro-batches are its in-batch negatives' pools, which
   * bucketing would change, so {@code true} is refused there.
   */
  static boolean bucketByLength(String value, String task) {
    if (value.equals("auto")) return task.equals(TaskMetrics.CAUSAL_LM);
    boolean on = value.equals("true");
    if (on && task.equals(TaskMetrics.EMBEDDING)) {
      throw new IllegalArgumentException("'job.train.bucket-by-length' = true: an embedding job's micro-batch is"
          + " the pool of its in-batch negatives, which regrouping by length would change; use auto or false");
    }
    return on;
  }

  /**
   * Checks {@code task.type} against the model's family ({@link ModelFamily#taskTypes()}): {@code auto}
   * takes the family's default task; another value must be one the family trains.
   */
  public static void checkTaskType(String taskType, String model) {
    if (taskType == null || taskType.equals("auto")) return;
    ModelFamily family = ModelFamily.detect(model);
    if (!family.taskTypes().contains(taskType)) {
      String trains = String.join(" or ", family.taskTypes());
      throw new IllegalArgumentException(
          "'job.task.type' = "
              + taskType
              + " is not what 'job.model' = "
              + model
              + " trains: a "
              + family
              + "-family model trains "
              + trains
              + " (use task.type = "
              + String.join(", ", family.taskTypes())
              + " or auto, or a "
              + (taskType.equals("causal-lm") ? "Llama-family folder" : "BERT-family model")
              + ")");
    }
  }

  /** A config without a head warm-up (the signature before {@code headWarmup} existed). */
  public FinetuneConfig(String model, String task, Path evalFile, String init, String optimizer, int rank,
      double alpha, boolean rslora, String targets, double dropout, double lr, double loraPlusRatio,
      double weightDecay, double lambda, String schedule, int warmup, double maxGradNorm, int steps, int batch,
      int microBatch, int initBatch, int initIters, double gamma, int maxLength, int maxPerClass, int evalExamples,
      int evalEvery, long seed, OnBadRecord onBadRecord, int initShards, String initMode, int qFactor, int niter) {
    this(model, task, evalFile, init, optimizer, rank, alpha, rslora, targets, dropout, lr, loraPlusRatio,
        weightDecay, lambda, schedule, warmup, maxGradNorm, steps, batch, microBatch, initBatch, initIters, gamma,
        maxLength, maxPerClass, evalExamples, evalEvery, seed, onBadRecord, initShards, initMode, qFactor, niter, 0,
        Double.NaN, "auto", DEFAULT_SCALE, null, DEFAULT_HEAD_INIT, DEFAULT_TEMPERATURE, null, false, false, 0);
  }

  /**
   * A config with the init gradient in one shard, randomized SVD at the defaults (q = 4r, niter =
   * 2).
   */
  public FinetuneConfig(String model, String task, Path evalFile, String init, String optimizer, int rank,
      double alpha, boolean rslora, String targets, double dropout, double lr, double loraPlusRatio,
      double weightDecay, double lambda, String schedule, int warmup, double maxGradNorm, int steps, int batch,
      int microBatch, int initBatch, int initIters, double gamma, int maxLength, int maxPerClass, int evalExamples,
      int evalEvery, long seed, OnBadRecord onBadRecord) {
    this(model, task, evalFile, init, optimizer, rank, alpha, rslora, targets, dropout, lr, loraPlusRatio,
        weightDecay, lambda, schedule, warmup, maxGradNorm, steps, batch, microBatch, initBatch, initIters, gamma,
        maxLength, maxPerClass, evalExamples, evalEvery, seed, onBadRecord, 1, InitMethod.of(init).defaultMode(), 4, 2);
  }

  /** The init settings of lora-core's {@link ShardedGradientInit}. */
  public ShardedGradientInit.Settings initSettings() {
    InitParams params = Double.isNaN(gamma) ? InitParams.defaults() : InitParams.defaults().withGamma(gamma);
    return new ShardedGradientInit.Settings(
        init,
        new LoraScaling(alpha, rank, rslora),
        params,
        initMode.equals("randomized"),
        qFactor,
        niter,
        seed);
  }

  public FinetuneConfig {
    require(rank >= 1, "lora.rank", rank, ">= 1");
    require(alpha > 0 && Double.isFinite(alpha), "lora.alpha", alpha, "finite and > 0");
    require(dropout >= 0 && dropout < 1, "lora.dropout", dropout, "in [0, 1)");
    require(lr > 0 && Double.isFinite(lr), "optimizer.lr", lr, "finite and > 0");
    require(loraPlusRatio > 0, "optimizer.lora-plus-ratio", loraPlusRatio, "> 0");
    require(weightDecay >= 0, "optimizer.weight-decay", weightDecay, ">= 0");
    require(lambda > 0, "optimizer.lambda", lambda, "> 0 (the preconditioner's ridge)");
    require(warmup >= 0, "optimizer.warmup", warmup, ">= 0");
    require(maxGradNorm > 0, "optimizer.max-grad-norm", maxGradNorm, "> 0 (Infinity disables clipping)");
    require(steps >= 1, "train.steps", steps, ">= 1");
    require(microBatch >= 1, "train.micro-batch", microBatch, ">= 1");
    require(
        batch >= microBatch && batch % microBatch == 0,
        "train.batch",
        batch,
        "a positive multiple of 'job.train.micro-batch' = " + microBatch);
    require(initBatch >= 1, "init.batch", initBatch, ">= 1");
    require(initIters >= 1, "init.iters", initIters, ">= 1");
    require(Double.isNaN(gamma) || gamma > 0, "init.gamma", gamma, "> 0");
    require(maxLength >= 2, "train.max-length", maxLength, ">= 2");
    require(maxPerClass >= 1, "data.max-per-class", maxPerClass, ">= 1");
    require(evalExamples >= 1, "eval.examples", evalExamples, ">= 1");
    require(evalEvery >= 0, "eval.every", evalEvery, ">= 0");
    require(seed >= 0, "seed", seed, ">= 0");
    require(headWarmup >= 0, "head.warmup-steps", headWarmup, ">= 0");
    require(List.of("auto", "classification", "causal-lm", "embedding").contains(taskType), "task.type", taskType,
        "auto, classification, causal-lm or embedding");
    require(scale > 0 && Double.isFinite(scale), "task.scale", scale, "finite and > 0");
    require(HEAD_INITS.contains(headInit), "head.init", headInit, "labels, random or warmup");
    require(!headInit.equals("warmup") || headWarmup > 0, "head.warmup-steps", headWarmup,
        "> 0 for 'job.head.init' = warmup (a warm-up of 0 steps is head.init = random)");
    require(headTemperature > 0 && Double.isFinite(headTemperature), "head.temperature", headTemperature,
        "finite and > 0");
    require(
        Double.isNaN(headWarmupLr) || (headWarmupLr > 0 && Double.isFinite(headWarmupLr)),
        "head.warmup-lr",
        headWarmupLr,
        "finite and > 0");
    require(
        initShards >= 1 && initIters % initShards == 0,
        "init.shards",
        initShards,
        "a divisor of 'job.init.iters' = " + initIters);
    require(initMode.equals("randomized") || initMode.equals("exact"), "init.mode", initMode, "randomized or exact");
    if (!LoraInitializers.names().contains(init)) {
      throw new IllegalArgumentException("'job.init.method' = " + init + " is not one of " + InitMethod.names());
    }
    InitMethod method = InitMethod.of(init);
    require(!initMode.equals("randomized") || !method.needsGradient() || method.randomizedSvd(), "init.mode", initMode,
        "exact for " + init + " (its SVD has no randomized rounds)");
    require(qFactor >= 1, "init.q-factor", qFactor, ">= 1");
    require(initMemoryBudget >= 0, "init.memory-budget", initMemoryBudget, ">= 0 bytes");
    require(niter >= 0, "init.niter", niter, ">= 0");
    if (!Optimizers.names().contains(optimizer)) {
      throw new IllegalArgumentException(
          "'job.optimizer.name' = " + optimizer + " is not one of " + Optimizers.names());
    }
    if (!Schedule.names().contains(schedule)) {
      throw new IllegalArgumentException(
          "'job.optimizer.schedule' = " + schedule + " is not one of " + Schedule.names());
    }
  }

  /** This config with the components the public withers change; everything else as it is. */
  private FinetuneConfig with(int headWarmup, double headWarmupLr, String taskType, String headInit,
      double headTemperature, Path labels, boolean activationCheckpointing, long initMemoryBudget) {
    return new FinetuneConfig(model, task, evalFile, init, optimizer, rank, alpha, rslora, targets, dropout, lr,
        loraPlusRatio, weightDecay, lambda, schedule, warmup, maxGradNorm, steps, batch, microBatch, initBatch,
        initIters, gamma, maxLength, maxPerClass, evalExamples, evalEvery, seed, onBadRecord, initShards, initMode,
        qFactor, niter, headWarmup, headWarmupLr, taskType, scale, corpus, headInit, headTemperature, labels,
        activationCheckpointing, bucketByLength, initMemoryBudget);
  }

  /** This config with {@code steps} head-only warm-up steps at {@code lr} (NaN: the main lr) before the init. */
  public FinetuneConfig withHeadWarmup(int steps, double lr) {
    return with(steps, lr, taskType, headInit, headTemperature, labels, activationCheckpointing, initMemoryBudget);
  }

  /** The head warm-up's learning rate: {@code headWarmupLr}, or {@code lr} when NaN. */
  public double headWarmupLrOrLr() {
    return Double.isNaN(headWarmupLr) ? lr : headWarmupLr;
  }

  /** The task that runs: {@code task.type}, or the model family's default task for {@code auto}. */
  public String resolvedTaskType() {
    return ModelFamily.detect(model).resolve(taskType);
  }

  /** This config training {@code taskType} ({@code auto | classification | causal-lm | embedding}). */
  public FinetuneConfig withTaskType(String taskType) {
    return with(headWarmup, headWarmupLr, taskType, headInit, headTemperature, labels, activationCheckpointing,
        initMemoryBudget);
  }

  /** This config with {@code train.activation-checkpointing} on or off (the same adapter bits either way). */
  public FinetuneConfig withActivationCheckpointing(boolean on) {
    return with(headWarmup, headWarmupLr, taskType, headInit, headTemperature, labels, on, initMemoryBudget);
  }

  /**
   * This config with the head starting as {@code headInit} ({@code labels | random | warmup}), labels
   * heads at {@code temperature}, described by {@code labels} (null: the label texts).
   */
  public FinetuneConfig withHeadInit(String headInit, double temperature, Path labels) {
    return with(headWarmup, headWarmupLr, taskType, headInit, temperature, labels, activationCheckpointing,
        initMemoryBudget);
  }

  /** This config with {@code init.memory-budget} = {@code bytes} (0: unbounded; the same init bits either way). */
  public FinetuneConfig withInitMemoryBudget(long bytes) {
    return with(headWarmup, headWarmupLr, taskType, headInit, headTemperature, labels, activationCheckpointing,
        bytes);
  }

  /** Whether the classification head starts from label embeddings ({@code head.init = labels}). */
  public boolean labelsHead() {
    return headInit.equals("labels");
  }

  /** Micro-batches per optimizer step. */
  public int microBatchesPerStep() {
    return batch / microBatch;
  }

  /** {@code --targets none}: no adapters, only the classification head trains (a linear probe baseline). */
  public boolean headOnly() {
    return targets.isBlank() || targets.trim().equalsIgnoreCase("none");
  }

  /** Whether the init needs the one-step full gradient. */
  public boolean needsGradient() {
    return InitMethod.of(init).needsGradient();
  }

  /** Fails naming the job key, its value and what was expected. */
  private static void require(boolean ok, String key, Object value, String expected) {
    if (!ok) throw new IllegalArgumentException("'job." + key + "' = " + value + " is invalid: expected " + expected);
  }

}
