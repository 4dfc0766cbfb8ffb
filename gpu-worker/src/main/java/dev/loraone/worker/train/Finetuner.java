package dev.loraone.worker.train;

import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.core.optim.DenseAdamW;
import dev.loraone.core.optim.GradClip;
import dev.loraone.core.optim.OptimizerConfig;
import dev.loraone.core.optim.Schedule;
import dev.loraone.data.MicroBatchPlan;
import dev.loraone.data.TextTokenizer;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.LoraLinear;
import dev.loraone.worker.model.Owned;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * The single-process LoRA-One fine-tune of a BERT-family classifier: the reference loop that the
 * distributed pipeline must reproduce bit for bit.
 *
 * <pre>
 *   gradient estimate   G_s = sum_{i in shard s} dL_i/dW   (init micro-batches i of the first bsz*iters examples)
 *   init                A0, B0 (, offset) = ShardedGradientInit(G_0..G_S-1, W0)   per adapted module, lora-core
 *   step t              g = (1/K) sum_k g_{tK+k}          (K micro-batches, summed in index order, double)
 *                       clip(g), optimizer step on double masters, float copies into the model
 *   evaluation          every evalEvery steps and at the end
 *   export              PEFT adapter (+ head as modules_to_save); W0-modifying inits as rank 2r
 * </pre>
 * Training order: micro-batch {@code g} holds the examples {@link MicroBatchPlan#microBatch(long)}
 * of a seeded per-epoch shuffle; the gradient estimate uses the first {@code bsz*iters} examples of
 * epoch 0's order (the paper's "first examples" of the shuffled training stream). Adapter dropout
 * of micro-batch {@code g} is seeded by {@code (seed, g)}.
 */
public final class Finetuner implements AutoCloseable {

  /** Progress callbacks (for bars and logs); all default to no-ops. */
  public interface Listener {
    default void phase(String phase, String detail) {}

    default void step(StepReport report) {}

    default void evaluated(EvalReport report) {}
  }

  public record StepReport(int step, int steps, double loss, double accuracy, double lr, double gradNorm, double seconds) {}

  public record EvalReport(int step, double loss, double accuracy, int examples) {}

  public record Result(FinetuneConfig config, TaskData task, PeftAdapter adapter, List<StepReport> steps,
      List<EvalReport> evals, double initSeconds, double trainSeconds) {
    public EvalReport finalEval() {
      return evals.get(evals.size() - 1);
    }
  }

  private final FinetuneConfig cfg;
  private final Listener listener;
  private BertStepper stepper;
  private BertSource source;

  public Finetuner(FinetuneConfig cfg, Listener listener) {
    this.cfg = cfg;
    this.listener = listener == null ? new Listener() {} : listener;
  }

  /** Runs the job and returns the trained adapter; {@link #model()} then holds the trained model until {@link #close()}. */
  public Result run() throws IOException {
    if (stepper != null) throw new IllegalStateException("a Finetuner runs once");
    listener.phase("load", cfg.model() + " on " + cfg.task());
    TaskData task = TaskData.load(cfg.task(), cfg.evalFile(), cfg.maxPerClass(), cfg.seed(), cfg.onBadRecord());
    listener.phase("data", task.summary());
    source = BertSource.resolve(cfg.model());
    LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), cfg.dropout(), cfg.seed(), cfg.targets());
    BertLoraModel model = BertLoraModel.fromPretrained(source.config(), lora,
        new BertLoraModel.Head.Classification(task.labels().size()), source.weights());
    checkTargets(cfg, model);
    stepper = new BertStepper(model);
    try (TextTokenizer tok = TextTokenizer.fromJson(source.openTokenizer(), cfg.maxLength())) {
      Batches batches = new Batches(tok, task);
      MicroBatchPlan plan = new MicroBatchPlan(task.train().size(), cfg.microBatch(), cfg.seed());

      long t0 = System.nanoTime();
      if (cfg.headWarmup() > 0) warmUpHead(model, batches, plan, task.labels().size());
      Map<String, LoraPair> initPairs = initialise(stepper, batches, plan);
      double initSeconds = (System.nanoTime() - t0) / 1e9;

      AdapterState start = AdapterState.fromModel(model);
      OptimizerConfig oc = OptimizerConfig.defaults(cfg.lr()).withLoraPlusRatio(cfg.loraPlusRatio())
          .withWeightDecay(cfg.weightDecay()).withLambda(cfg.lambda())
          .withSchedule(Schedule.forName(cfg.schedule(), Math.min(cfg.warmup(), cfg.steps()), cfg.steps()));
      AdapterTrainer trainer = new AdapterTrainer(cfg.optimizer(), oc, cfg.maxGradNorm(), start.modules(), start.pairList(),
          start.headList());
      AdapterState state = AdapterState.view(trainer.modules(), trainer.pairs(), start.headNames(), trainer.dense());

      List<StepReport> steps = new ArrayList<>();
      List<EvalReport> evals = new ArrayList<>();
      listener.phase("train", cfg.steps() + " steps of " + cfg.batch() + " examples (" + cfg.microBatchesPerStep()
          + " micro-batches of " + cfg.microBatch() + "), " + cfg.init() + " + " + cfg.optimizer());
      long t1 = System.nanoTime();
      for (int s = 0; s < cfg.steps(); s++) {
        long ts = System.nanoTime();
        AdapterTrainer.Accumulator acc = trainer.accumulate();
        double lossSum = 0;
        int correct = 0;
        int examples = 0;
        for (int k = 0; k < cfg.microBatchesPerStep(); k++) {
          long index = (long) s * cfg.microBatchesPerStep() + k;
          BertStepper.LoraGradients g = stepper.loraGradients(batches.of(index, plan.microBatch(index)), DropoutSeeds.of(cfg.seed(), index));
          acc.add(state.adapterGradients(g.adapters()), state.headGradients(g.head()));
          lossSum += g.loss();
          correct += g.correct();
          examples += g.examples();
        }
        if (!Double.isFinite(lossSum)) {
          throw new AdapterTrainer.DivergedException("step " + (s + 1) + ": loss is " + lossSum
              + "; stopping before the update, the adapters keep step " + s + "'s values (try a lower --lr)");
        }
        AdapterTrainer.StepInfo info = acc.apply(cfg.microBatchesPerStep());
        state.writeTo(model);
        StepReport r = new StepReport(s + 1, cfg.steps(), lossSum / cfg.microBatchesPerStep(), correct / (double) examples,
            info.lr(), info.gradNorm(), (System.nanoTime() - ts) / 1e9);
        steps.add(r);
        listener.step(r);
        if (s + 1 == cfg.steps() || (cfg.evalEvery() > 0 && (s + 1) % cfg.evalEvery() == 0)) {
          EvalReport e = evaluate(stepper, batches, s + 1);
          evals.add(e);
          listener.evaluated(e);
        }
      }
      double trainSeconds = (System.nanoTime() - t1) / 1e9;
      PeftAdapter adapter = state.toPeft(new PeftAdapter.Config(cfg.rank(), cfg.alpha(), cfg.rslora(),
          lora.targets(), "SEQ_CLS", source.id(), cfg.dropout()));
      if (initPairs != null) {
        adapter = PeftAdapter.subtractMutatedInit(adapter, new AdapterState(initPairs, Map.of()).toPeft(adapter.config()).modules());
      }
      return new Result(cfg, task, adapter, steps, evals, initSeconds, trainSeconds);
    }
  }

  /** The trained model (adapters unmerged), for export; valid after {@link #run()} until {@link #close()}. */
  public BertLoraModel model() {
    if (stepper == null) throw new IllegalStateException("run() first");
    return stepper.model();
  }

  /** Where the base model came from (for export: its tokenizer); valid after {@link #run()}. */
  public BertSource source() {
    if (source == null) throw new IllegalStateException("run() first");
    return source;
  }

  @Override
  public void close() {
    if (stepper != null) stepper.close();
  }

  /**
   * The optional head warm-up ({@link FinetuneConfig#headWarmup()}): trains the classifier alone on
   * a second, adapter-free copy of the pretrained encoder, so backward stops at the head, for
   * {@code headWarmup} steps over the training stream's first micro-batches (AdamW, constant lr,
   * the run's clipping), then copies the head into {@code model}.
   */
  private void warmUpHead(BertLoraModel model, Batches batches, MicroBatchPlan plan, int numLabels) {
    listener.phase("head-warmup", cfg.headWarmup() + " head-only steps at lr " + cfg.headWarmupLrOrLr());
    List<String> names = List.of("classifier.weight", "classifier.bias");
    BertLoraModel probe = BertLoraModel.fromPretrained(source.config(),
        LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), 0.0, cfg.seed(), "none"),
        new BertLoraModel.Head.Classification(numLabels), source.weights());
    try (BertStepper probeStepper = new BertStepper(probe)) {
      List<DMatrixRMaj> head = new ArrayList<>();
      for (String n : names) head.add(AdapterState.matrix(1, (int) model.namedParameters().get(n).getArray().size(),
          model.namedParameters().get(n).getArray().toFloatArray()));
      DenseAdamW opt = new DenseAdamW(OptimizerConfig.defaults(cfg.headWarmupLrOrLr()));
      double loss = Double.NaN;
      for (int s = 0; s < cfg.headWarmup(); s++) {
        for (int i = 0; i < names.size(); i++) Owned.write(probe.namedParameters().get(names.get(i)).getArray(), AdapterState.floats(head.get(i)));
        List<DMatrixRMaj> grads = new ArrayList<>();
        for (DMatrixRMaj h : head) grads.add(new DMatrixRMaj(h.numRows, h.numCols));
        loss = 0;
        for (int k = 0; k < cfg.microBatchesPerStep(); k++) {
          long index = (long) s * cfg.microBatchesPerStep() + k;
          BertStepper.LoraGradients g = probeStepper.loraGradients(batches.of(index, plan.microBatch(index)), 0);
          loss += g.loss() / cfg.microBatchesPerStep();
          for (int i = 0; i < names.size(); i++) {
            float[] v = g.head().get(names.get(i));
            for (int j = 0; j < v.length; j++) grads.get(i).data[j] += v[j];
          }
        }
        for (DMatrixRMaj g : grads) org.ejml.dense.row.CommonOps_DDRM.scale(1.0 / cfg.microBatchesPerStep(), g);
        GradClip.clipGlobalNorm(List.of(), grads, cfg.maxGradNorm());
        opt.step(head, grads);
      }
      listener.phase("head-warmup", String.format("done, last step's training loss %.4f", loss));
      for (int i = 0; i < names.size(); i++) Owned.write(model.namedParameters().get(names.get(i)).getArray(), AdapterState.floats(head.get(i)));
    }
  }

  /**
   * Gradient estimate (if the method needs one) as canonical init shards, then the per-module init
   * ({@link AdapterInit}). Returns the init pairs when the method modified W0 (needed to export a
   * plain-LoRA adapter), else null.
   */
  private Map<String, LoraPair> initialise(BertStepper stepper, Batches batches, MicroBatchPlan plan) {
    BertLoraModel model = stepper.model();
    if (cfg.headOnly()) return null;
    Map<String, List<DMatrixRMaj>> shards = null;
    if (cfg.needsGradient()) {
      listener.phase("gradient", "one-step full gradient over " + cfg.initIters() + " x " + cfg.initBatch() + " examples in "
          + cfg.initShards() + " shards");
      shards = estimateGradient(stepper, batches, plan);
    }
    listener.phase("init", cfg.init() + " (" + (cfg.needsGradient() ? cfg.initMode() + " SVD" : "no gradient") + ") on "
        + model.adaptedModules().size() + " modules");
    return AdapterInit.apply(model, shards, cfg.initIters(), cfg);
  }

  /** Init micro-batch {@code i} holds examples {@code order[i*bsz .. (i+1)*bsz)} of epoch 0's order. */
  private Map<String, List<DMatrixRMaj>> estimateGradient(BertStepper stepper, Batches batches, MicroBatchPlan plan) {
    int[] order = plan.permutation(0);
    int n = cfg.initIters() * cfg.initBatch();
    if (order.length < n) {
      throw new IllegalArgumentException("the gradient estimate needs " + n + " training examples (--init-iters x --init-batch) but "
          + cfg.task() + " has " + order.length);
    }
    GradientShards shards = new GradientShards(cfg.initShards(), cfg.initIters());
    Map<String, int[]> shapes = AdapterInit.shapes(stepper.model());
    for (int i = 0; i < cfg.initIters(); i++) {
      int[] idx = java.util.Arrays.copyOfRange(order, i * cfg.initBatch(), (i + 1) * cfg.initBatch());
      shards.add(i, stepper.fullGradients(batches.of(-1 - i, idx)).weights(), shapes);
    }
    return shards.sums();
  }

  private EvalReport evaluate(BertStepper stepper, Batches batches, int step) {
    int n = Math.min(cfg.evalExamples(), batches.task.eval().size());
    double loss = 0;
    int correct = 0;
    int size = 32;
    for (int from = 0; from < n; from += size) {
      int[] idx = new int[Math.min(size, n - from)];
      for (int i = 0; i < idx.length; i++) idx[i] = batches.task.evalExample(from + i, n);
      BertStepper.Evaluation e = stepper.evaluate(batches.ofEval(idx));
      loss += e.lossSum();
      correct += e.correct();
    }
    return new EvalReport(step, loss / n, correct / (double) n, n);
  }

  /** Rejects target patterns that match no module and ranks too large for a module, naming it. */
  static void checkTargets(FinetuneConfig cfg, BertLoraModel model) {
    if (cfg.headOnly()) return;
    for (String p : model.loraConfig().targets()) {
      if (!p.equals(LoraConfig.ALL_LINEAR) && model.adaptedModules().stream().noneMatch(m -> m.equals(p) || m.endsWith("." + p))) {
        java.util.Set<String> kinds = new java.util.TreeSet<>();
        model.linearModules().forEach(m -> kinds.add(m.replaceAll("^encoder\\.layer\\.\\d+\\.", "")));
        throw new IllegalArgumentException("--targets (job key lora.targets): unknown target module '" + p + "' in " + cfg.model()
            + "; its Linear modules are " + kinds + " in every encoder.layer.N (a suffix like query or output.dense"
            + " matches them; all-linear takes all)");
      }
    }
    for (String m : model.adaptedModules()) {
      LoraLinear lin = model.linear(m);
      int max = Math.min(lin.inFeatures(), lin.outFeatures());
      if (cfg.rank() > max || (cfg.init().equals("lora-ga") && 2 * cfg.rank() > max)) {
        throw new IllegalArgumentException("--rank " + cfg.rank() + " (job key lora.rank) is too large for " + m + " (" + lin.outFeatures() + " x "
            + lin.inFeatures() + "): expected <= " + (cfg.init().equals("lora-ga") ? max / 2 + " for lora-ga" : max));
      }
    }
  }
}
