package dev.loraone.coordinator;

import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.GradientsComputed;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.ejml.data.DMatrixRMaj;

/**
 * The coordinator's masters and optimizer: one {@link AdapterTrainer} (lora-core's single reduction
 * rule) over the layout's modules and head, with the wire names around it. The one mutable object
 * of a job; its actor touches it only to apply a step, to checkpoint and to export.
 *
 * <pre>
 *   wire names   &lt;module&gt;.lora_A:[r,in]  &lt;module&gt;.lora_B:[out,r]  classifier.weight:[C,H]
 *       classifier.bias:[C]   (F32)
 *   step t       acc.add(grads of micro-batch g) for g = first .. first+K-1 in index order; acc.apply(sum weight)
 *                (weight: 1 per micro-batch for classification, its completion tokens for causal LM)
 *   report       loss = sum lossSum / sum weight; metrics = TaskMetrics.summarise(task, loss, examples, sum metrics)
 * </pre>
 */
final class Training {
  /** One applied step, for {@link JobEvent.StepDone}. */
  record StepResult(AdapterTrainer.StepInfo info, double loss, Map<String, Double> metrics, int examples) {}

  private final JobLayout layout;
  private final AdapterTrainer trainer;

  private Training(JobLayout layout, AdapterTrainer trainer) {
    this.layout = layout;
    this.trainer = trainer;
  }

  /**
   * Masters from the init factors rounded to float32, as the single-process fine-tune reads them
   * back from its model, and the layout's head.
   */
  static Training start(JobSetup setup, JobLayout layout, List<LoraPair> init) {
    List<LoraPair> pairs = new ArrayList<>();
    for (LoraPair p : init)
      pairs.add(
          new LoraPair(TensorMatrices.roundedToFloat(p.a()), TensorMatrices.roundedToFloat(p.b())));
    AdapterTrainer t =
        new AdapterTrainer(
            setup.optimizer(),
            setup.optimizerConfig(),
            setup.maxGradNorm(),
            layout.modules(),
            pairs,
            layout.head());
    return new Training(layout, t);
  }

  /** Zero masters of the layout's shapes, to {@link #restore} a checkpoint into. */
  static Training empty(JobSetup setup, JobLayout layout) {
    List<LoraPair> zeros = new ArrayList<>();
    for (int[] s : layout.shapes())
      zeros.add(
          new LoraPair(new DMatrixRMaj(setup.rank(), s[1]), new DMatrixRMaj(s[0], setup.rank())));
    return start(setup, layout, zeros);
  }

  int steps() {
    return trainer.steps();
  }

  /** Why {@code g} cannot be summed (a missing name, a wrong size), or null. */
  String problem(GradientsComputed g) {
    Map<String, TensorBlob> grads = g.gradients();
    for (int i = 0; i < layout.modules().size(); i++) {
      LoraPair p = trainer.pairs().get(i);
      String m = layout.modules().get(i);
      String bad = size(grads, m + JobJoined.LORA_A, p.a());
      if (bad == null) bad = size(grads, m + JobJoined.LORA_B, p.b());
      if (bad != null) return bad;
    }
    for (int j = 0; j < layout.headNames().size(); j++) {
      String bad = size(grads, layout.headNames().get(j), trainer.dense().get(j));
      if (bad != null) return bad;
    }
    return null;
  }

  private static String size(Map<String, TensorBlob> grads, String name, DMatrixRMaj like) {
    TensorBlob t = grads.get(name);
    if (t == null) return "no gradient " + name;
    if (t.dtype() != DType.F32 && t.dtype() != DType.F64 && t.dtype() != DType.F16 && t.dtype() != DType.BF16) {
      return "gradient " + name + " is " + t + ", expected floating point";
    }
    if (t.numel() != (long) like.numRows * like.numCols)
      return "gradient "
          + name
          + " is "
          + t
          + ", expected "
          + like.numRows * like.numCols
          + " values";
    return null;
  }

  /**
   * Step {@code step}: the micro-batch gradients summed in the given (index) order, divided by
   * their count, checked, clipped and applied. Throws {@link AdapterTrainer.DivergedException}
   * before any update when the loss or a gradient is not finite.
   */
  StepResult apply(int step, List<GradientsComputed> inIndexOrder) {
    if (trainer.steps() != step - 1)
      throw new IllegalStateException(
          "applying step " + step + " after " + trainer.steps() + " steps");
    AdapterTrainer.Accumulator acc = trainer.accumulate();
    double lossSum = 0;
    double weight = 0;
    Map<String, Double> sums = new TreeMap<>();
    int examples = 0;
    for (GradientsComputed g : inIndexOrder) {
      Map<String, TensorBlob> grads = g.gradients();
      float[][][] ab = new float[layout.modules().size()][][];
      for (int i = 0; i < ab.length; i++) {
        String m = layout.modules().get(i);
        ab[i] = new float[][] {grads.get(m + JobJoined.LORA_A).toFloats(), grads.get(m + JobJoined.LORA_B).toFloats()};
      }
      float[][] dense = new float[layout.headNames().size()][];
      for (int j = 0; j < dense.length; j++) dense[j] = grads.get(layout.headNames().get(j)).toFloats();
      acc.add(ab, dense);
      lossSum += g.lossSum();
      weight += g.weight();
      examples += g.examples();
      g.metrics().forEach((k, v) -> sums.merge(k, v, Double::sum));
    }
    if (!Double.isFinite(lossSum)) {
      throw new AdapterTrainer.DivergedException(
          "step "
              + step
              + ": loss is "
              + lossSum
              + "; stopping before the update, the adapters"
              + " keep step "
              + (step - 1)
              + "'s values (try a lower 'job.optimizer.lr')");
    }
    double divisor = Math.max(1, weight);
    AdapterTrainer.StepInfo info = acc.apply(divisor);
    double loss = lossSum / divisor;
    return new StepResult(info, loss, TaskMetrics.summarise(layout.taskType(), loss, examples, sums), examples);
  }

  /** The float32 adapters and head the workers compute with (an {@code AdapterVersion}'s payload). */
  Map<String, TensorBlob> adapters() {
    Map<String, TensorBlob> out = new LinkedHashMap<>();
    for (int i = 0; i < layout.modules().size(); i++) {
      LoraPair p = trainer.pairs().get(i);
      out.put(layout.modules().get(i) + JobJoined.LORA_A, TensorMatrices.f32(p.a()));
      out.put(layout.modules().get(i) + JobJoined.LORA_B, TensorMatrices.f32(p.b()));
    }
    out.putAll(head());
    return out;
  }

  private Map<String, TensorBlob> head() {
    Map<String, TensorBlob> out = new LinkedHashMap<>();
    for (int j = 0; j < layout.headNames().size(); j++) {
      String name = layout.headNames().get(j);
      DMatrixRMaj v = trainer.dense().get(j);
      out.put(name, name.endsWith(".bias") ? TensorMatrices.f32Vector(v) : TensorMatrices.f32(v));
    }
    return out;
  }

  /**
   * The adapter in PEFT form with the head as {@code modules_to_save}, as the fine-tune's
   * {@code AdapterState.toPeft} writes it; an init that modified W0 exports {@code s(BA - B0A0)} at rank 2r.
   */
  PeftAdapter toPeft(PeftAdapter.Config config) {
    Map<String, PeftAdapter.Pair> pairs = new LinkedHashMap<>();
    for (int i = 0; i < layout.modules().size(); i++) {
      LoraPair p = trainer.pairs().get(i);
      pairs.put(layout.modules().get(i), new PeftAdapter.Pair(TensorMatrices.f32(p.a()), TensorMatrices.f32(p.b())));
    }
    PeftAdapter adapter = new PeftAdapter(config, pairs, head());
    if (!layout.modifiesBase()) return adapter;
    Map<String, PeftAdapter.Pair> init = new LinkedHashMap<>();
    for (int i = 0; i < layout.modules().size(); i++) {
      LoraPair p = layout.init().get(i);
      init.put(layout.modules().get(i), new PeftAdapter.Pair(TensorMatrices.f32(p.a()), TensorMatrices.f32(p.b())));
    }
    return PeftAdapter.subtractMutatedInit(adapter, init);
  }

  /** A copy of masters and optimizer state after {@code step} steps. */
  Checkpoint checkpoint(String specSha256, String phase) {
    return Checkpoint.of(trainer.steps(), phase, specSha256, layout.modules(), layout.headNames(), trainer);
  }

  void restore(Checkpoint c) {
    c.restoreInto(layout.modules(), layout.headNames(), trainer);
  }
}
