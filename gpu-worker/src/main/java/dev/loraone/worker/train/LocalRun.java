package dev.loraone.worker.train;

import dev.loraone.core.init.InitGroups;
import dev.loraone.core.init.InitMethod;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.core.optim.OptimizerConfig;
import dev.loraone.core.optim.Schedule;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.Phase;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.worker.runtime.RuntimeInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.ejml.data.DMatrixRMaj;

/**
 * A job in one process: the reference loop the distributed pipeline must reproduce bit for bit,
 * driving the same {@link WorkerEngine} as the worker actors, for every task and model family,
 * and reporting in the coordinator's vocabulary ({@link JobEvent}).
 *
 * <pre>
 *   gradient estimate   per module group g (init.memory-budget; one group when 0): computeShard(g, s) for s in
 *                       0..S-1 (init micro-batches [s*I/S, (s+1)*I/S)), then the group's init, its sums released
 *   init                A0, B0 (, W0 offset) = ShardedGradientInit per module over the shard sums in shard order,
 *                       written into the model once every group is done
 *   step t              g = sum_k dL_{tK+k} / sum_k w_{tK+k}   (K micro-batches in index order, double)
 *                       clip(g), lora-core optimizer on double masters, float copies into the model
 *   evaluation          batches of 32 of the first eval.examples, every eval.every steps and at the end;
 *                       also at step 0, before the init, for embeddings (zero-shot retrieval) and for
 *                       classification heads that start knowing the task (head.init = labels: zero-shot
 *                       accuracy; a warm-up: the linear probe's), as the cluster path does (EngineLayout.evalStepZero)
 *   export              PEFT adapter (+ head as modules_to_save); W0-modifying inits as rank 2r
 * </pre>
 * The optional head warm-up ({@link HeadWarmup}) and the inits that every worker runs itself happen
 * when the engine opens, on both paths alike.
 */
public final class LocalRun implements AutoCloseable {

  /** What a finished run leaves: the adapter in PEFT form and the events it reported. */
  public record Result(FinetuneConfig config, String taskType, List<String> labels, PeftAdapter adapter,
      List<JobEvent.StepDone> steps, List<JobEvent.Evaluated> evals, double initSeconds, double trainSeconds) {
    public JobEvent.Evaluated finalEval() {
      return evals.get(evals.size() - 1);
    }
  }

  private final FinetuneConfig cfg;
  private final WorkerEngine engine;
  private final JobId job;

  private LocalRun(FinetuneConfig cfg, WorkerEngine engine, JobId job) {
    this.cfg = cfg;
    this.engine = engine;
    this.job = job;
  }

  /** Loads the model and data ({@link WorkerEngine#open(FinetuneConfig)}). */
  public static LocalRun open(FinetuneConfig cfg, String name) throws IOException {
    return new LocalRun(cfg, WorkerEngine.open(cfg), new JobId(name));
  }

  /** The engine, whose model holds the trained adapters after {@link #run}: for export and generation. */
  public WorkerEngine engine() {
    return engine;
  }

  /** Runs the job; events go to {@code events} as they happen (never null; use {@code e -> {}}). */
  public Result run(Consumer<JobEvent> events) {
    String task = engine.taskType();
    List<JobEvent.Evaluated> evals = new ArrayList<>();
    if (engine.layout().evalStepZero()) { // zero-shot, before a gradient-based init moves the model
      String what = TaskMetrics.CLASSIFICATION.equals(task) && cfg.headWarmup() > 0 ? "the warmed head" : "zero-shot";
      events.accept(new JobEvent.PhaseChanged(job, Phase.EVALUATION, what + " (step 0), " + engine.evalBatches()
          + " batches"));
      JobEvent.Evaluated zero = evaluate(0);
      evals.add(zero);
      events.accept(zero);
    }
    long t0 = System.nanoTime();
    Map<String, LoraPair> initPairs = initialise(events);
    double initSeconds = (System.nanoTime() - t0) / 1e9;

    List<String> headNames = List.copyOf(engine.layout().head().keySet());
    AdapterState start = AdapterState.fromModel(engine.model(), headNames);
    OptimizerConfig oc = OptimizerConfig.defaults(cfg.lr()).withLoraPlusRatio(cfg.loraPlusRatio())
        .withWeightDecay(cfg.weightDecay()).withLambda(cfg.lambda())
        .withSchedule(Schedule.forName(cfg.schedule(), Math.min(cfg.warmup(), cfg.steps()), cfg.steps()));
    AdapterTrainer trainer =
        new AdapterTrainer(
            cfg.optimizer(),
            oc,
            cfg.maxGradNorm(),
            start.modules(),
            start.pairList(),
            start.headList());
    AdapterState state = AdapterState.view(trainer.modules(), trainer.pairs(), headNames, trainer.dense());

    List<JobEvent.StepDone> steps = new ArrayList<>();
    events.accept(
        new JobEvent.PhaseChanged(
            job,
            Phase.TRAINING,
            cfg.steps()
                + " steps of "
                + cfg.batch()
                + " examples ("
                + cfg.microBatchesPerStep()
                + " micro-batches of "
                + cfg.microBatch()
                + "), "
                + cfg.init()
                + " + "
                + cfg.optimizer()));
    long t1 = System.nanoTime();
    for (int s = 0; s < cfg.steps(); s++) {
      long ts = System.nanoTime();
      AdapterTrainer.Accumulator acc = trainer.accumulate();
      double lossSum = 0;
      double weight = 0;
      int examples = 0;
      Map<String, Double> sums = new TreeMap<>();
      for (int k = 0; k < cfg.microBatchesPerStep(); k++) {
        Workload.TrainUnit g = engine.trainUnit((long) s * cfg.microBatchesPerStep() + k);
        acc.add(state.adapterGradients(g.adapters()), state.headGradients(g.head()));
        lossSum += g.lossSum();
        weight += g.weight();
        examples += g.examples();
        g.metrics().forEach((key, v) -> sums.merge(key, v, Double::sum));
      }
      if (!Double.isFinite(lossSum)) {
        throw new AdapterTrainer.DivergedException(
            "step "
                + (s + 1)
                + ": loss is "
                + lossSum
                + "; stopping before the update, the adapters keep step "
                + s
                + "'s values (try a lower 'job.optimizer.lr')");
      }
      double divisor = Math.max(1, weight);
      AdapterTrainer.StepInfo info = acc.apply(divisor);
      engine.setAdapters(s + 1, adapters(state));
      double loss = lossSum / divisor;
      JobEvent.StepDone done =
          new JobEvent.StepDone(
              job,
              s + 1,
              cfg.steps(),
              loss,
              TaskMetrics.summarise(task, loss, examples, sums),
              info.lr(),
              info.gradNorm(),
              (System.nanoTime() - ts) / 1e9);
      steps.add(done);
      events.accept(done);
      if (s + 1 == cfg.steps() || (cfg.evalEvery() > 0 && (s + 1) % cfg.evalEvery() == 0)) {
        events.accept(new JobEvent.PhaseChanged(job, Phase.EVALUATION, "after step " + (s + 1) + ", "
            + engine.evalBatches() + " batches"));
        JobEvent.Evaluated e = evaluate(s + 1);
        evals.add(e);
        events.accept(e);
      }
    }
    double trainSeconds = (System.nanoTime() - t1) / 1e9;
    PeftAdapter adapter =
        state.toPeft(
            new PeftAdapter.Config(
                cfg.rank(),
                cfg.alpha(),
                cfg.rslora(),
                PeftAdapter.targetModules(engine.model().adaptedModules()),
                TaskMetrics.peftTaskType(task),
                engine.layout().modelId(),
                cfg.dropout()));
    if (initPairs != null) {
      adapter =
          PeftAdapter.subtractMutatedInit(
              adapter, new AdapterState(initPairs, Map.of()).toPeft(adapter.config()).modules());
    }
    return new Result(cfg, task, engine.labels(), adapter, steps, evals, initSeconds, trainSeconds);
  }

  /**
   * The float32 copies of the masters (each double rounded, as the coordinator's), keyed as {@link
   * WorkerEngine#setAdapters} takes them.
   */
  private Map<String, TensorBlob> adapters(AdapterState state) {
    Map<String, TensorBlob> out = new LinkedHashMap<>();
    for (String m : state.modules()) {
      out.put(m + JobJoined.LORA_A, AdapterState.blob(state.pair(m).a()));
      out.put(m + JobJoined.LORA_B, AdapterState.blob(state.pair(m).b()));
    }
    List<DMatrixRMaj> head = state.headList();
    List<String> names = state.headNames();
    for (int i = 0; i < names.size(); i++) {
      out.put(
          names.get(i),
          TensorBlob.ofFloats(
              engine.layout().head().get(names.get(i)).shape(), AdapterState.floats(head.get(i))));
    }
    return out;
  }

  /**
   * Gradient estimate (if the method needs one) as canonical init shards, then the per-module init.
   * Returns the init pairs when the method modified W0 (a plain-LoRA export needs them), else null.
   */
  private Map<String, LoraPair> initialise(Consumer<JobEvent> events) {
    if (cfg.headOnly()) return null;
    InitMethod method = InitMethod.of(cfg.init());
    if (!method.initOnCoordinator()) { // as on each worker of a cluster job: it ran when the engine opened
      events.accept(new JobEvent.PhaseChanged(job, Phase.SVD_INIT, cfg.init() + (method.needsGradient()
          ? " (exact SVD of the gradient over every init shard)" : " (no gradient)") + ", run when the model loaded"));
      return engine.initPairs();
    }
    // before any gradient: a group whose sums cannot fit in this machine's memory fails now, naming the budget
    InitEstimate.requireMemory(engine.layout().modules(), engine.initGroups(), cfg.initShards(),
        RuntimeInfo.physicalMemory());
    events.accept(
        new JobEvent.PhaseChanged(
            job,
            Phase.GRADIENT_ACCUMULATION,
            "one-step full gradient over "
                + cfg.initIters()
                + " x "
                + cfg.initBatch()
                + " examples in "
                + cfg.initShards()
                + " shards"
                + (engine.initGroups().size() == 1 ? ""
                    : ", " + groupDetail(engine.initGroups().get(0), engine.initGroups().size()))));
    List<InitGroups.Group> groups = engine.initGroups();
    AdapterInit.Pending pending = new AdapterInit.Pending();
    for (InitGroups.Group g : groups) { // one pass over the init batch per module group (init.memory-budget)
      InitEstimate.Pass pass = InitEstimate.pass(engine.layout().modules(), g);
      if (g.index() > 0) {
        events.accept(new JobEvent.PhaseChanged(job, Phase.GRADIENT_ACCUMULATION, groupDetail(g, groups.size())));
      }
      for (int s = 0; s < cfg.initShards(); s++) engine.computeShard(pass, s, engine.shardMicroBatches(s));
      events.accept(new JobEvent.PhaseChanged(job, Phase.SVD_INIT, cfg.init() + " (" + cfg.initMode() + " SVD) on "
          + (groups.size() == 1 ? engine.layout().modules().size() + " modules" : groupDetail(g, groups.size()))));
      engine.initGroup(pass, g, pending);
    }
    return engine.writeInit(pending);
  }

  /** "module group k of n: modules a..b" (1-based, model order), for the phase events. */
  static String groupDetail(InitGroups.Group g, int groups) {
    return "module group " + (g.index() + 1) + " of " + groups + ": modules " + (g.from() + 1) + ".." + g.to();
  }


  /** An evaluation of the model as it is now, reported as after {@code step} (0: zero-shot, before any init). */
  public JobEvent.Evaluated evaluate(int step) {
    double lossSum = 0;
    double weight = 0;
    int examples = 0;
    Map<String, Double> sums = new TreeMap<>();
    for (int b = 0; b < engine.evalBatches(); b++) {
      Workload.EvalUnit e = engine.evaluate(b);
      lossSum += e.lossSum();
      weight += e.weight();
      examples += e.examples();
      e.sums().forEach((k, v) -> sums.merge(k, v, Double::sum));
    }
    double loss = lossSum / Math.max(1, weight);
    return new JobEvent.Evaluated(
        job, step, loss, TaskMetrics.summarise(engine.taskType(), loss, examples, sums), examples);
  }

  @Override
  public void close() {
    engine.close();
  }
}
