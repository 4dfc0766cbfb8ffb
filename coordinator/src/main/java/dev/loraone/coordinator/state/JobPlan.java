package dev.loraone.coordinator.state;

/**
 * The fixed shape of one job's work, decided before any worker runs (DESIGN.md section 4).
 *
 * <pre>
 *   init shards   s = 0..initShards-1; shard s holds init micro-batches s*perShard .. (s+1)*perShard-1
 *   svd rounds    r = 0..svdRounds-1 (2*niter+2 for randomized, 1 for exact reduction)
 *   init groups   g = 0..initGroups-1 (init.memory-budget, InitGroups): the accumulation and the SVD rounds run
 *                 once per module group, in model order; a group's shard units are (g, s), its rounds (g, r)
 *   no gradient   initShards = initMicroBatches = svdRounds = 0: the init ran on the workers
 *   train step t  micro-batches t*K .. t*K+K-1 (K = microBatchesPerStep)
 *   evaluation    after step t when t % evalEvery == 0 or t == steps; evalBatches units;
 *                 with evalStepZero also at step 0, on the model as the workers opened it, before the init
 * </pre>
 * Every unit of work is addressed by these indices, so any worker can do any unit and the
 * coordinator can sum results in index order whoever produced them.
 */
public record JobPlan(int initShards, int initMicroBatches, int svdRounds, int steps, int microBatchesPerStep,
    int evalEvery, int evalBatches, int minWorkers, boolean evalStepZero, int initGroups) {

  /** A plan of one module group (no init.memory-budget). */
  public JobPlan(int initShards, int initMicroBatches, int svdRounds, int steps, int microBatchesPerStep,
      int evalEvery, int evalBatches, int minWorkers, boolean evalStepZero) {
    this(initShards, initMicroBatches, svdRounds, steps, microBatchesPerStep, evalEvery, evalBatches, minWorkers,
        evalStepZero, 1);
  }

  /** A plan without the step-0 evaluation. */
  public JobPlan(int initShards, int initMicroBatches, int svdRounds, int steps, int microBatchesPerStep,
      int evalEvery, int evalBatches, int minWorkers) {
    this(initShards, initMicroBatches, svdRounds, steps, microBatchesPerStep, evalEvery, evalBatches, minWorkers,
        false);
  }

  public JobPlan {
    if (initShards == 0) {
      require(
          initMicroBatches == 0,
          "init micro-batches",
          initMicroBatches,
          "0 without a gradient init (init.shards=0)");
      require(svdRounds == 0, "svd rounds", svdRounds, "0 without a gradient init (init.shards=0)");
    } else {
      require(initShards >= 1, "init.shards", initShards, ">= 1, or 0 without a gradient init");
      require(initMicroBatches >= initShards, "init micro-batches", initMicroBatches, ">= init.shards=" + initShards);
      require(
          initMicroBatches % initShards == 0,
          "init micro-batches",
          initMicroBatches,
          "a multiple of init.shards=" + initShards);
      require(svdRounds >= 1, "svd rounds", svdRounds, ">= 1");
    }
    require(steps >= 1, "steps", steps, ">= 1");
    require(microBatchesPerStep >= 1, "micro-batches per step", microBatchesPerStep, ">= 1");
    require(evalEvery >= 0, "eval-every", evalEvery, ">= 0");
    require(evalBatches >= 1, "eval batches", evalBatches, ">= 1");
    require(minWorkers >= 1, "min-workers", minWorkers, ">= 1");
    require(initGroups >= 1, "init groups", initGroups, ">= 1");
  }

  /**
   * A plan whose init needs no gradient (it ran on the workers): workers go straight to training.
   */
  public static JobPlan withoutGradientInit(
      int steps, int microBatchesPerStep, int evalEvery, int evalBatches, int minWorkers) {
    return new JobPlan(0, 0, 0, steps, microBatchesPerStep, evalEvery, evalBatches, minWorkers);
  }

  /** This plan, evaluating the model as opened (step 0) before the init when {@code yes}. */
  public JobPlan withStepZeroEvaluation(boolean yes) {
    return new JobPlan(initShards, initMicroBatches, svdRounds, steps, microBatchesPerStep, evalEvery, evalBatches,
        minWorkers, yes, initGroups);
  }

  /** This plan with its gradient estimate in {@code groups} module groups ({@code init.memory-budget}). */
  public JobPlan withInitGroups(int groups) {
    return new JobPlan(initShards, initMicroBatches, svdRounds, steps, microBatchesPerStep, evalEvery, evalBatches,
        minWorkers, evalStepZero, groups);
  }

  /** Whether the job starts with GradientAccumulation and SvdInit. */
  public boolean gradientInit() {
    return initShards > 0;
  }

  /** The init micro-batch indices of shard {@code s}, in summation order. */
  public int[] shardMicroBatches(int s) {
    int per = initMicroBatches / initShards;
    int[] out = new int[per];
    for (int i = 0; i < per; i++) out[i] = s * per + i;
    return out;
  }

  /** The global training micro-batch index of position {@code k} of step {@code t} (1-based step). */
  public long microBatch(int step, int k) {
    return (long) (step - 1) * microBatchesPerStep + k;
  }

  public boolean evaluatesAfter(int step) {
    return step == steps || (evalEvery > 0 && step % evalEvery == 0);
  }

  private static void require(boolean ok, String key, int value, String expected) {
    if (!ok) throw new IllegalArgumentException(key + "=" + value + " is invalid: expected " + expected);
  }
}
