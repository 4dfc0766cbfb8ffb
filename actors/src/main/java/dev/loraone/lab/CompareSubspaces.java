package dev.loraone.lab;

import dev.loraone.core.init.InitContext;
import dev.loraone.core.init.InitParams;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.init.LoraOneInit;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.core.metrics.Subspaces;
import dev.loraone.core.svd.SvdMethod;
import dev.loraone.data.Example;
import dev.loraone.data.MicroBatchPlan;
import dev.loraone.data.TextTokenizer;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.LoraLinear;
import dev.loraone.worker.train.BertSource;
import dev.loraone.worker.train.BertStepper;
import dev.loraone.worker.train.ClassificationBatch;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.TaskData;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * How much two LoRA-One inits agree when their one-step gradients come from two disjoint batches
 * of N training examples: the data-noise floor of the init (INIT-SVD-FINDINGS.md measured 0.42 for
 * the top-8 subspaces at N = 64).
 *
 * <pre>
 *   order      epoch-0 training order of the run's seed (the order the gradient estimate uses)
 *   batch 1    order[0, N)          batch 2    order[M, M+N)   M = the largest N, so they never overlap
 *   G_i        mean over micro-batches of initBatch examples of dL/dW, at the run's (random) head
 *   init_i     LoRA-One(G_i): B0:[out,r] spans the top-r left singular vectors of -G_i, A0:[r,in] the right ones
 *   simU       ||Q(B0_1)^T Q(B0_2)||_F^2 / r       simV  the same for A0^T
 *   cosDeltaW  <B0_1 A0_1, B0_2 A0_2>_F / (||B0_1 A0_1||_F ||B0_2 A0_2||_F)   (r x r products only)
 * </pre>
 * Both batches grow by prefixes, so one pass over 2M examples serves every N. The SVD is
 * randomized with q = 4r and 4 power iterations (worst top-8 error 0.17% on these gradients,
 * INIT-SVD-FINDINGS.md), so the numbers measure data noise, not SVD error.
 */
final class CompareSubspaces {
  private CompareSubspaces() {}

  /**
   * One row per size in {@code sizes} (ascending), for the model, task, rank, seed and init batch
   * of {@code cfg}.
   */
  static List<CompareResults.SubspaceRow> run(FinetuneConfig cfg, int[] sizes, Consumer<String> log)
      throws IOException {
    int[] ns = Arrays.stream(sizes).sorted().toArray();
    int max = ns[ns.length - 1];
    TaskData task = TaskData.load(cfg.task(), cfg.evalFile(), cfg.maxPerClass(), cfg.seed(), cfg.onBadRecord());
    if (task.train().size() < 2 * max) {
      throw new IllegalArgumentException("--subspace-sizes: two disjoint batches of " + max + " need " + 2 * max
          + " training examples; the task has " + task.train().size());
    }
    BertSource source = BertSource.resolve(cfg.model());
    LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), 0.0, cfg.seed(), cfg.targets());
    BertLoraModel model = BertLoraModel.fromPretrained(source.config(), lora,
        new BertLoraModel.Head.Classification(task.labels().size()), source.weights());
    int[] order = new MicroBatchPlan(task.train().size(), cfg.microBatch(), cfg.seed()).permutation(0);
    List<CompareResults.SubspaceRow> rows = new ArrayList<>();
    try (BertStepper stepper = new BertStepper(model);
        TextTokenizer tok = TextTokenizer.fromJson(source.openTokenizer(), cfg.maxLength())) {
      Accumulator first = new Accumulator(model);
      Accumulator second = new Accumulator(model);
      int done = 0;
      for (int n : ns) {
        for (int from = done; from < n; from += cfg.initBatch()) {
          int to = Math.min(n, from + cfg.initBatch());
          first.add(stepper.fullGradients(batch(tok, task, Arrays.copyOfRange(order, from, to))).weights());
          second.add(
              stepper
                  .fullGradients(batch(tok, task, Arrays.copyOfRange(order, max + from, max + to)))
                  .weights());
        }
        done = n;
        rows.add(compare(n, cfg, model, first, second));
        log.accept(
            String.format(
                "subspaces: N=%d simU %.3f simV %.3f cos(dW) %.3f",
                n,
                rows.get(rows.size() - 1).simU(),
                rows.get(rows.size() - 1).simV(),
                rows.get(rows.size() - 1).cosDeltaW()));
      }
    }
    return rows;
  }

  private static CompareResults.SubspaceRow compare(int n, FinetuneConfig cfg, BertLoraModel model, Accumulator g1,
      Accumulator g2) {
    LoraScaling scaling = new LoraScaling(cfg.alpha(), cfg.rank(), cfg.rslora());
    InitParams params = InitParams.defaults().withSvd(SvdMethod.randomized(4 * cfg.rank(), 4, cfg.seed()));
    if (!Double.isNaN(cfg.gamma())) params = params.withGamma(cfg.gamma());
    Map<String, List<double[]>> byType = new TreeMap<>();
    double su = 0;
    double sv = 0;
    double sc = 0;
    double min = 1;
    List<String> modules = model.adaptedModules();
    for (String m : modules) {
      LoraLinear lin = model.linear(m);
      LoraShape shape = new LoraShape(lin.outFeatures(), lin.inFeatures(), cfg.rank());
      InitResult a = new LoraOneInit().init(new InitContext(m, shape, null, g1.mean(m), scaling, cfg.seed(), params));
      InitResult b = new LoraOneInit().init(new InitContext(m, shape, null, g2.mean(m), scaling, cfg.seed(), params));
      double u = Subspaces.similarity(a.b(), b.b());
      double v = Subspaces.similarity(transpose(a.a()), transpose(b.a()));
      double c = cosine(a, b);
      byType
          .computeIfAbsent(m.replaceAll("^encoder\\.layer\\.\\d+\\.", ""), k -> new ArrayList<>())
          .add(new double[] {u, v, c});
      su += u;
      sv += v;
      sc += c;
      min = Math.min(min, Math.min(u, v));
    }
    Map<String, double[]> types = new LinkedHashMap<>();
    byType.forEach((t, l) -> types.put(t, new double[] {
        l.stream().mapToDouble(x -> x[0]).average().orElseThrow(),
        l.stream().mapToDouble(x -> x[1]).average().orElseThrow(),
        l.stream().mapToDouble(x -> x[2]).average().orElseThrow()}));
    int k = modules.size();
    return new CompareResults.SubspaceRow(n, su / k, sv / k, sc / k, min, types);
  }

  /** cos(B1 A1, B2 A2) via {@code <B1A1, B2A2> = tr((B1^T B2)(A2 A1^T))}, all r x r. */
  private static double cosine(InitResult x, InitResult y) {
    return inner(x, y) / Math.sqrt(inner(x, x) * inner(y, y));
  }

  private static double inner(InitResult x, InitResult y) {
    DMatrixRMaj bb = new DMatrixRMaj(x.b().numCols, y.b().numCols);
    CommonOps_DDRM.multTransA(x.b(), y.b(), bb);
    DMatrixRMaj aa = new DMatrixRMaj(y.a().numRows, x.a().numRows);
    CommonOps_DDRM.multTransB(y.a(), x.a(), aa);
    double tr = 0;
    for (int i = 0; i < bb.numRows; i++) for (int j = 0; j < bb.numCols; j++) tr += bb.get(i, j) * aa.get(j, i);
    return tr;
  }

  private static DMatrixRMaj transpose(DMatrixRMaj m) {
    return CommonOps_DDRM.transpose(m, null);
  }

  private static ClassificationBatch batch(TextTokenizer tok, TaskData task, int[] idx) {
    List<String> texts = new ArrayList<>(idx.length);
    int[] labels = new int[idx.length];
    for (int i = 0; i < idx.length; i++) {
      Example.Classification e = task.train().get(idx[i]);
      texts.add(e.text());
      labels[i] = task.labels().id(e.label());
    }
    return new ClassificationBatch(-1, tok.encode(texts), labels);
  }

  /** Running per-module sums of micro-batch gradients, in the order added. */
  private static final class Accumulator {
    private final BertLoraModel model;
    private final Map<String, DMatrixRMaj> sums = new LinkedHashMap<>();
    private int count;

    Accumulator(BertLoraModel model) {
      this.model = model;
    }

    void add(Map<String, float[]> grads) {
      grads.forEach((m, v) -> {
        LoraLinear lin = model.linear(m);
        DMatrixRMaj s = sums.computeIfAbsent(m, k -> new DMatrixRMaj(lin.outFeatures(), lin.inFeatures()));
        for (int i = 0; i < v.length; i++) s.data[i] += v[i];
      });
      count++;
    }

    /** The mean over the micro-batches added so far (LoRA-One is invariant to the positive factor anyway). */
    DMatrixRMaj mean(String module) {
      DMatrixRMaj m = sums.get(module).copy();
      CommonOps_DDRM.scale(1.0 / count, m);
      return m;
    }
  }
}
