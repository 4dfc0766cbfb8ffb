package dev.loraone.coordinator;

import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.core.init.InitParams;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.init.ShardedGradientInit;
import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.core.optim.OptimizerConfig;
import dev.loraone.core.optim.Schedule;
import dev.loraone.coordinator.state.JobPlan;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * A tiny deterministic "model" for coordinator tests, pure Java: two adapted modules and a 3-class
 * head, per-micro-batch init gradients and LoRA gradients as fixed functions of the micro-batch
 * index and the adapter version, and the single-process reference run (lora-core's
 * ShardedGradientInit and AdapterTrainer called directly, as the fine-tune calls them).
 */
final class Synthetic {
  static final List<String> MODULES = List.of("encoder.layer.0.attention.self.query", "encoder.layer.0.output.dense");
  static final int[][] SHAPES = {{8, 6}, {6, 10}};
  static final int CLASSES = 3;
  static final int HIDDEN = 6;
  static final List<String> LABELS = List.of("noun.act", "noun.animal", "noun.artifact");
  static final int EVAL_EXAMPLES = 40;
  static final int EXAMPLES_PER_MICRO_BATCH = 2;

  private Synthetic() {}

  /**
   * The test job: rank 2, 2 init shards of 2 micro-batches, 6 steps of 3 micro-batches, eval every
   * 3, checkpoint every 2.
   */
  static JobSpec spec(Object... overrides) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("lora.rank", 2);
    m.put("init.iters", 4);
    m.put("init.shards", 2);
    m.put("train.steps", 6);
    m.put("train.batch", 3);
    m.put("train.micro-batch", 1);
    m.put("eval.every", 3);
    m.put("eval.examples", EVAL_EXAMPLES);
    m.put("checkpoint.every", 2);
    m.put("optimizer.warmup", 2);
    m.put("optimizer.lr", 0.01);
    m.put("optimizer.lora-plus-ratio", 4);
    m.put("optimizer.weight-decay", 0.01);
    m.put("optimizer.max-grad-norm", 0.5);
    m.put("seed", 7);
    for (int i = 0; i < overrides.length; i += 2) m.put((String) overrides[i], overrides[i + 1]);
    return JobSpec.of(m);
  }

  /**
   * What every worker reports on JoinJob; {@code workerInit}: the A0/B0 of a worker-side init (and
   * whether it moved W0).
   */
  static Map<String, TensorBlob> layout(List<LoraPair> workerInit, boolean modifiesBase) {
    Map<String, TensorBlob> m = new LinkedHashMap<>();
    for (int i = 0; i < MODULES.size(); i++) {
      m.put(MODULES.get(i) + JobJoined.SHAPE, JobJoined.i64(SHAPES[i][0], SHAPES[i][1]));
      m.put(MODULES.get(i) + JobJoined.INDEX, JobJoined.i64(i));
      if (workerInit != null) {
        m.put(MODULES.get(i) + JobJoined.LORA_A, TensorMatrices.f32(workerInit.get(i).a()));
        m.put(MODULES.get(i) + JobJoined.LORA_B, TensorMatrices.f32(workerInit.get(i).b()));
      }
    }
    m.put(JobJoined.HEAD_WEIGHT, TensorMatrices.f32(headWeight()));
    m.put(JobJoined.HEAD_BIAS, TensorMatrices.f32Vector(headBias()));
    m.put(JobJoined.MODIFIES_BASE, JobJoined.i64(modifiesBase ? 1 : 0));
    m.put(JobJoined.TRAIN_EXAMPLES, JobJoined.i64(100));
    m.put(JobJoined.EVAL_EXAMPLES, JobJoined.i64(EVAL_EXAMPLES));
    m.put(JobJoined.LABELS, JobJoined.labelsBlob(LABELS));
    m.put(JobJoined.MODEL_SHA256, JobJoined.utf8("ab".repeat(32)));
    m.put(JobLayout.MODEL_ID, JobJoined.utf8("synthetic/tiny-bert"));
    return m;
  }

  /** A fixed, non-gradient A0/B0 (what a worker-side init such as PiSSA would send). */
  static List<LoraPair> workerInit(int r) {
    List<LoraPair> out = new ArrayList<>();
    for (int i = 0; i < MODULES.size(); i++) {
      DMatrixRMaj a = new DMatrixRMaj(r, SHAPES[i][1]);
      DMatrixRMaj b = new DMatrixRMaj(SHAPES[i][0], r);
      for (int k = 0; k < a.data.length; k++) a.data[k] = (float) (0.1 * Math.sin(0.9 * k + i));
      for (int k = 0; k < b.data.length; k++) b.data[k] = (float) (0.05 * Math.cos(0.4 * k - i));
      out.add(new LoraPair(a, b));
    }
    return out;
  }

  static DMatrixRMaj headWeight() {
    DMatrixRMaj w = new DMatrixRMaj(CLASSES, HIDDEN);
    for (int k = 0; k < w.data.length; k++) w.data[k] = (float) (0.02 * Math.sin(1.7 * k));
    return w;
  }

  static DMatrixRMaj headBias() {
    return new DMatrixRMaj(CLASSES, 1);
  }

  /** The full gradient of module {@code m} on init micro-batch {@code i}: {@code [out,in]}. */
  static DMatrixRMaj initGradient(int m, int i) {
    DMatrixRMaj g = new DMatrixRMaj(SHAPES[m][0], SHAPES[m][1]);
    for (int r = 0; r < g.numRows; r++) {
      for (int c = 0; c < g.numCols; c++)
        g.set(
            r,
            c,
            Math.sin(1.1 * i + 0.7 * r + 0.3 * c * (m + 1)) + 0.25 * Math.cos(0.5 * r * c + i));
    }
    return g;
  }

  /** A shard's gradient: its micro-batches summed in index order. */
  static DMatrixRMaj shardGradient(int m, List<Integer> microBatches) {
    List<DMatrixRMaj> terms = new ArrayList<>();
    for (int i : microBatches) terms.add(initGradient(m, i));
    return Matrices.sumInOrder(terms);
  }

  /** LoRA and head gradients of micro-batch {@code g} under the adapter {@code version}, by wire name. */
  static Map<String, TensorBlob> gradients(Map<String, TensorBlob> version, long g, boolean nan) {
    Map<String, TensorBlob> out = new LinkedHashMap<>();
    for (String key : version.keySet()) {
      TensorBlob v = version.get(key);
      float[] x = v.toFloats();
      float[] y = new float[x.length];
      for (int k = 0; k < x.length; k++)
        y[k] =
            (float)
                (0.05 * Math.sin(0.37 * g + 0.11 * k + key.length())
                    + 0.3 * x[k]
                    - 0.1 * x[(k + 1) % x.length]);
      if (nan && key.endsWith(JobJoined.LORA_A)) y[0] = Float.NaN;
      out.put(key, TensorBlob.ofFloats(v.shape(), y));
    }
    return out;
  }

  /** The mean loss of micro-batch {@code g} (its loss term; weight 1, as a classifier's). */
  static double loss(long g) {
    return 1.0 + 0.1 * Math.sin(g);
  }

  /** The float32 payload of an AdapterVersion, from double masters (as the coordinator sends it). */
  static Map<String, TensorBlob> payload(AdapterTrainer t) {
    Map<String, TensorBlob> out = new LinkedHashMap<>();
    for (int i = 0; i < MODULES.size(); i++) {
      out.put(
          MODULES.get(i) + JobJoined.LORA_A,
          TensorBlob.ofMatrix(
              t.pairs().get(i).a().numRows,
              t.pairs().get(i).a().numCols,
              t.pairs().get(i).a().data));
      out.put(
          MODULES.get(i) + JobJoined.LORA_B,
          TensorBlob.ofMatrix(
              t.pairs().get(i).b().numRows,
              t.pairs().get(i).b().numCols,
              t.pairs().get(i).b().data));
    }
    out.put(JobJoined.HEAD_WEIGHT, TensorBlob.ofMatrix(CLASSES, HIDDEN, t.dense().get(0).data));
    float[] b = new float[CLASSES];
    for (int k = 0; k < CLASSES; k++) b[k] = (float) t.dense().get(1).data[k];
    out.put(JobJoined.HEAD_BIAS, TensorBlob.ofFloats(new long[] {CLASSES}, b));
    return out;
  }

  /**
   * The single-process reference of a LoRA-One job over this model: the adapter versions after
   * the init (index 0) and after every step, built the way the fine-tune builds them.
   */
  static List<Map<String, TensorBlob>> reference(JobSpec spec) {
    int r = spec.getInt("lora.rank");
    int steps = spec.getInt("train.steps");
    int k = spec.getInt("train.batch") / spec.getInt("train.micro-batch");
    double gamma = spec.getDouble("init.gamma");
    ShardedGradientInit.Settings settings =
        new ShardedGradientInit.Settings(
            spec.getString("init.method"),
            new LoraScaling(spec.getDouble("lora.alpha"), r, spec.getBoolean("lora.rslora")),
            gamma == 0 ? InitParams.defaults() : InitParams.defaults().withGamma(gamma),
            spec.getString("init.mode").equals("randomized"),
            spec.getInt("init.q-factor"),
            spec.getInt("init.niter"),
            spec.getLong("seed"));
    JobPlan plan = new JobPlan(spec.getInt("init.shards"), spec.getInt("init.iters"), 1, steps, k, 0, 1, 1);
    List<LoraPair> pairs = new ArrayList<>();
    for (int m = 0; m < MODULES.size(); m++) {
      List<DMatrixRMaj> shards = new ArrayList<>();
      for (int s = 0; s < plan.initShards(); s++) {
        List<Integer> mbs = new ArrayList<>();
        for (int i : plan.shardMicroBatches(s)) mbs.add(i);
        shards.add(shardGradient(m, mbs));
      }
      InitResult init =
          ShardedGradientInit.init(
              MODULES.get(m),
              m,
              new LoraShape(SHAPES[m][0], SHAPES[m][1], r),
              shards,
              plan.initMicroBatches(),
              null,
              settings);
      pairs.add(new LoraPair(TensorMatrices.roundedToFloat(init.a()), TensorMatrices.roundedToFloat(init.b())));
    }
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
    AdapterTrainer t =
        new AdapterTrainer(
            spec.getString("optimizer.name"),
            oc,
            spec.getDouble("optimizer.max-grad-norm"),
            MODULES,
            pairs,
            List.of(headWeight(), headBias()));
    List<Map<String, TensorBlob>> versions = new ArrayList<>();
    versions.add(payload(t));
    for (int step = 1; step <= steps; step++) {
      AdapterTrainer.Accumulator acc = t.accumulate();
      for (int j = 0; j < k; j++) {
        Map<String, TensorBlob> g = gradients(versions.get(step - 1), plan.microBatch(step, j), false);
        float[][][] ab = new float[MODULES.size()][][];
        for (int m = 0; m < ab.length; m++) {
          ab[m] =
              new float[][] {
                g.get(MODULES.get(m) + JobJoined.LORA_A).toFloats(),
                g.get(MODULES.get(m) + JobJoined.LORA_B).toFloats()
              };
        }
        acc.add(ab, new float[][] {g.get(JobJoined.HEAD_WEIGHT).toFloats(), g.get(JobJoined.HEAD_BIAS).toFloats()});
      }
      acc.apply(k);
      versions.add(payload(t));
    }
    return versions;
  }
}
