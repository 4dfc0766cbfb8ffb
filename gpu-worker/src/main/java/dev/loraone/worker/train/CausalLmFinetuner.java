package dev.loraone.worker.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.core.optim.OptimizerConfig;
import dev.loraone.core.optim.Schedule;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;
import dev.loraone.data.Example;
import dev.loraone.data.MicroBatchPlan;
import dev.loraone.data.TextTokenizer;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.LoraLinear;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * The single-process LoRA-One fine-tune of a Llama-family checkpoint on prompt/completion pairs:
 * the causal-LM counterpart of {@link Finetuner}, with the same phases and determinism contract.
 *
 * <pre>
 *   gradient estimate   G = (1/iters) sum_i dL_i/dW, L_i the mean token loss of batch i
 *                       (batches of initBatch from the start of epoch 0's shuffled order, reference 2.2)
 *   init                A0, B0 = init(W0, G shards) per adapted module ({@link AdapterInit})
 *   step t              g = sum_k dLsum_{tK+k} / sum_k tokens_{tK+k}   (index order, double)
 *                       clip(g), lora-core optimizer on double masters, float copies into the model
 *   evaluation          mean token loss and perplexity exp(loss): after init (step 0), every
 *                       evalEvery steps and at the end
 *   export              PEFT adapter, task_type CAUSAL_LM, keys base_model.model.model.layers.N...
 * </pre>
 *
 * The config is a {@link FinetuneConfig} whose {@code model} is a checkpoint folder ({@link
 * #isLlamaFolder}) and whose {@code task} is a prompt/completion file; {@code maxPerClass}
 * is unused. Prompt tokens carry no loss ({@link CausalLmEncoder}); BOS and EOS come from
 * config.json. Adapter dropout of micro-batch {@code g} is seeded by {@code (seed, g)}.
 */
public final class CausalLmFinetuner implements AutoCloseable {

  /** Progress callbacks (for bars and logs); all default to no-ops. */
  public interface Listener {
    default void phase(String phase, String detail) {}

    default void step(StepReport report) {}

    default void evaluated(EvalReport report) {}
  }

  public record StepReport(int step, int steps, double loss, int tokens, double lr, double gradNorm, double seconds) {}

  /** Mean token loss over the first eval examples, and its perplexity {@code exp(loss)}. */
  public record EvalReport(int step, double loss, double perplexity, int tokens, int examples) {}

  public record Result(FinetuneConfig config, CausalLmTask task, PeftAdapter adapter, List<StepReport> steps,
      List<EvalReport> evals, double initSeconds, double trainSeconds) {
    public EvalReport finalEval() {
      return evals.get(evals.size() - 1);
    }
  }

  private final FinetuneConfig cfg;
  private final Listener listener;
  private LlamaStepper stepper;

  public CausalLmFinetuner(FinetuneConfig cfg, Listener listener) {
    this.cfg = cfg;
    this.listener = listener == null ? new Listener() {} : listener;
  }

  /**
   * Whether {@code model} names a Llama-family Hugging Face folder: a config.json whose {@code
   * model_type} is {@code llama} or {@code mistral} (a BERT folder or a built-in name is not).
   */
  public static boolean isLlamaFolder(String model) {
    try {
      Path config = Path.of(model).resolve("config.json");
      if (!Files.isRegularFile(config)) return false;
      String type = new ObjectMapper().readTree(config.toFile()).path("model_type").asText();
      return type.equals("llama") || type.equals("mistral");
    } catch (IOException | java.nio.file.InvalidPathException e) {
      return false; // not readable as a Llama folder; the BERT path reports what is wrong with it
    }
  }

  /** Runs the job; {@link #model()} then holds the trained model (adapters unmerged) until {@link #close()}. */
  public Result run() throws IOException {
    if (stepper != null) throw new IllegalStateException("a CausalLmFinetuner runs once");
    if (cfg.headOnly()) {
      throw new IllegalArgumentException("--targets " + cfg.targets() + ": a causal LM has no task head to train alone;"
          + " name the modules to adapt (e.g. q_proj,v_proj or all-linear)");
    }
    listener.phase("load", cfg.model() + " on " + cfg.task());
    CausalLmTask task = CausalLmTask.load(cfg.task(), cfg.evalFile(), cfg.onBadRecord());
    listener.phase("data", task.summary());
    LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), cfg.dropout(), cfg.seed(), cfg.targets());
    Path tokenizerJson = load(lora);
    LlamaConfig config = stepper.model().config();
    if (cfg.maxLength() > config.maxPositions()) {
      throw new IllegalArgumentException("--max-length " + cfg.maxLength() + " exceeds the model's max_position_embeddings "
          + config.maxPositions());
    }
    try (TextTokenizer tok = TextTokenizer.fromPath(tokenizerJson, cfg.maxLength())) {
      OptionalLong eos = config.eosTokenIds().isEmpty() ? OptionalLong.empty() : OptionalLong.of(config.eosTokenIds().get(0));
      CausalLmEncoder encoder = new CausalLmEncoder(tok, config.bosTokenId(), eos);
      MicroBatchPlan plan = new MicroBatchPlan(task.train().size(), cfg.microBatch(), cfg.seed());

      long t0 = System.nanoTime();
      Map<String, List<DMatrixRMaj>> grads = cfg.needsGradient() ? estimateGradient(encoder, task, plan) : null;
      listener.phase("init", cfg.init() + " on " + stepper.model().adaptedModules().size() + " modules");
      Map<String, LoraPair> initPairs = AdapterInit.apply(stepper.model(), grads, cfg.initIters(), cfg);
      double initSeconds = (System.nanoTime() - t0) / 1e9;

      AdapterState start = AdapterState.fromAdapters(stepper.model());
      OptimizerConfig oc = OptimizerConfig.defaults(cfg.lr()).withLoraPlusRatio(cfg.loraPlusRatio())
          .withWeightDecay(cfg.weightDecay()).withLambda(cfg.lambda())
          .withSchedule(Schedule.forName(cfg.schedule(), Math.min(cfg.warmup(), cfg.steps()), cfg.steps()));
      AdapterTrainer trainer = new AdapterTrainer(cfg.optimizer(), oc, cfg.maxGradNorm(), start.modules(), start.pairList(), List.of());
      AdapterState state = AdapterState.view(trainer.modules(), trainer.pairs(), List.of(), List.of());
      List<StepReport> steps = new ArrayList<>();
      List<EvalReport> evals = new ArrayList<>();
      evals.add(evaluate(encoder, task, 0));
      listener.evaluated(evals.get(0));
      listener.phase("train", cfg.steps() + " steps of " + cfg.batch() + " examples (" + cfg.microBatchesPerStep()
          + " micro-batches of " + cfg.microBatch() + "), " + cfg.init() + " + " + cfg.optimizer());
      long t1 = System.nanoTime();
      for (int s = 0; s < cfg.steps(); s++) {
        long ts = System.nanoTime();
        AdapterTrainer.Accumulator acc = trainer.accumulate();
        double lossSum = 0;
        int tokens = 0;
        for (int k = 0; k < cfg.microBatchesPerStep(); k++) {
          long index = (long) s * cfg.microBatchesPerStep() + k;
          LlamaStepper.LoraGradients g =
              stepper.loraGradients(encode(encoder, task.train(), plan.microBatch(index)), DropoutSeeds.of(cfg.seed(), index));
          acc.add(state.adapterGradients(g.adapters()), new float[0][]);
          lossSum += g.lossSum();
          tokens += g.tokens();
        }
        if (!Double.isFinite(lossSum)) {
          throw new AdapterTrainer.DivergedException("step " + (s + 1) + ": loss is " + lossSum
              + "; stopping before the update, the adapters keep step " + s + "'s values (try a lower --lr)");
        }
        // gradients of summed token losses / tokens of the step: independent of how the step is split
        AdapterTrainer.StepInfo info = acc.apply(Math.max(tokens, 1));
        state.writeTo(stepper.model());
        StepReport r = new StepReport(s + 1, cfg.steps(), lossSum / Math.max(tokens, 1), tokens, info.lr(), info.gradNorm(),
            (System.nanoTime() - ts) / 1e9);
        steps.add(r);
        listener.step(r);
        if (s + 1 == cfg.steps() || (cfg.evalEvery() > 0 && (s + 1) % cfg.evalEvery() == 0)) {
          EvalReport e = evaluate(encoder, task, s + 1);
          evals.add(e);
          listener.evaluated(e);
        }
      }
      double trainSeconds = (System.nanoTime() - t1) / 1e9;
      PeftAdapter adapter = state.toPeft(new PeftAdapter.Config(cfg.rank(), cfg.alpha(), cfg.rslora(),
          targetModules(stepper.model()), "CAUSAL_LM", cfg.model(), cfg.dropout()));
      if (initPairs != null) {
        adapter = PeftAdapter.subtractMutatedInit(adapter, new AdapterState(initPairs, Map.of()).toPeft(adapter.config()).modules());
      }
      return new Result(cfg, task, adapter, steps, evals, initSeconds, trainSeconds);
    }
  }

  /** The trained model (adapters unmerged), for export and generation; valid after {@link #run()} until {@link #close()}. */
  public LlamaLoraModel model() {
    if (stepper == null) throw new IllegalStateException("run() first");
    return stepper.model();
  }

  @Override
  public void close() {
    if (stepper != null) stepper.close();
  }

  /**
   * Loads the checkpoint into a new stepper and returns its tokenizer.json; the heap copy of the
   * weights is released once the model holds them.
   */
  private Path load(LoraConfig lora) throws IOException {
    LlamaCheckpoint checkpoint = LlamaCheckpoint.load(Path.of(cfg.model()));
    Path tokenizerJson = checkpoint.tokenizerJson().orElseThrow(() -> new IllegalArgumentException(
        "--model " + cfg.model() + " has no tokenizer.json; causal-LM fine-tuning tokenises with the checkpoint's own"));
    LlamaLoraModel model = LlamaLoraModel.fromCheckpoint(checkpoint, lora);
    checkTargets(model);
    stepper = new LlamaStepper(model);
    return tokenizerJson;
  }

  /**
   * LoRA-One's one-step estimate as canonical init shards: init micro-batch i (examples
   * {@code order[i*bsz .. (i+1)*bsz)} of epoch 0) contributes its mean-token-loss gradient to shard
   * {@code i / (iters/shards)}; G is the mean over micro-batches.
   */
  private Map<String, List<DMatrixRMaj>> estimateGradient(CausalLmEncoder encoder, CausalLmTask task, MicroBatchPlan plan) {
    listener.phase("gradient", "one-step full gradient over " + cfg.initIters() + " x " + cfg.initBatch() + " examples in "
        + cfg.initShards() + " shards");
    int[] order = plan.permutation(0);
    int n = cfg.initIters() * cfg.initBatch();
    if (order.length < n) {
      throw new IllegalArgumentException("the gradient estimate needs " + n + " training examples (--init-iters x --init-batch) but "
          + cfg.task() + " has " + order.length);
    }
    GradientShards shards = new GradientShards(cfg.initShards(), cfg.initIters());
    Map<String, int[]> shapes = AdapterInit.shapes(stepper.model());
    for (int i = 0; i < cfg.initIters(); i++) {
      int[] idx = Arrays.copyOfRange(order, i * cfg.initBatch(), (i + 1) * cfg.initBatch());
      LlamaStepper.FullGradients fg = stepper.fullGradients(encode(encoder, task.train(), idx));
      float perToken = 1f / Math.max(fg.tokens(), 1);
      Map<String, float[]> scaled = new LinkedHashMap<>();
      fg.weights().forEach((m, v) -> {
        float[] w = new float[v.length];
        for (int k = 0; k < v.length; k++) w[k] = v[k] * perToken;
        scaled.put(m, w);
      });
      shards.add(i, scaled, shapes);
    }
    return shards.sums();
  }

  private EvalReport evaluate(CausalLmEncoder encoder, CausalLmTask task, int step) {
    int n = Math.min(cfg.evalExamples(), task.eval().size());
    double lossSum = 0;
    int tokens = 0;
    for (int from = 0; from < n; from += cfg.microBatch()) {
      int[] idx = new int[Math.min(cfg.microBatch(), n - from)];
      for (int i = 0; i < idx.length; i++) idx[i] = from + i;
      LlamaStepper.Evaluation e = stepper.evaluate(encode(encoder, task.eval(), idx));
      lossSum += e.lossSum();
      tokens += e.tokens();
    }
    double loss = lossSum / Math.max(tokens, 1);
    return new EvalReport(step, loss, Math.exp(loss), tokens, n);
  }

  private static CausalLmBatch encode(CausalLmEncoder encoder, List<Example.Generation> from, int[] idx) {
    List<Example.Generation> rows = new ArrayList<>(idx.length);
    for (int i : idx) rows.add(from.get(i));
    return encoder.encodeExamples(rows);
  }

  /** PEFT's resolved {@code target_modules}: the distinct module suffixes ({@code q_proj, v_proj}), sorted. */
  static List<String> targetModules(LlamaLoraModel model) {
    Set<String> names = new TreeSet<>();
    model.adaptedModules().forEach(m -> names.add(m.substring(m.lastIndexOf('.') + 1)));
    return List.copyOf(names);
  }

  private void checkTargets(LlamaLoraModel model) {
    List<String> adapted = model.adaptedModules();
    for (String p : model.loraConfig().targets()) {
      if (!p.equals(LoraConfig.ALL_LINEAR) && adapted.stream().noneMatch(m -> m.equals(p) || m.endsWith("." + p))) {
        throw new IllegalArgumentException("--targets: unknown target module '" + p + "' in " + cfg.model()
            + "; its Linear modules are [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj] in every"
            + " model.layers.N (and lm_head when untied); all-linear takes all but lm_head");
      }
    }
    for (String m : adapted) {
      LoraLinear lin = model.linear(m);
      int max = Math.min(lin.inFeatures(), lin.outFeatures());
      if (cfg.rank() > max || (cfg.init().equals("lora-ga") && 2 * cfg.rank() > max)) {
        throw new IllegalArgumentException("--rank " + cfg.rank() + " is too large for " + m + " (" + lin.outFeatures()
            + " x " + lin.inFeatures() + "): expected <= " + (cfg.init().equals("lora-ga") ? max / 2 + " for lora-ga" : max));
      }
    }
  }
}
