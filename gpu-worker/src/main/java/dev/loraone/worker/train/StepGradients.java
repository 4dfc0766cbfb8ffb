package dev.loraone.worker.train;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraPair;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * The gradient of one optimizer step: per-micro-batch gradients added in the order they are
 * given (the caller adds them in micro-batch index order), in double, then averaged.
 */
final class StepGradients {
  final List<LoraPair> pairs = new ArrayList<>();
  final List<DMatrixRMaj> head = new ArrayList<>();
  private final List<String> modules;
  private double lossSum;
  private int correct;
  private int examples;
  private int count;

  StepGradients(AdapterState shapes) {
    modules = shapes.modules();
    for (LoraPair p : shapes.pairList()) {
      pairs.add(new LoraPair(new DMatrixRMaj(p.a().numRows, p.a().numCols), new DMatrixRMaj(p.b().numRows, p.b().numCols)));
    }
    for (DMatrixRMaj h : shapes.headList()) head.add(new DMatrixRMaj(h.numRows, h.numCols));
  }

  void add(BertStepper.LoraGradients g) {
    for (int i = 0; i < modules.size(); i++) {
      float[][] ab = g.adapters().get(modules.get(i));
      addInto(pairs.get(i).a(), ab[0]);
      addInto(pairs.get(i).b(), ab[1]);
    }
    int j = 0;
    for (Map.Entry<String, float[]> e : g.head().entrySet()) addInto(head.get(j++), e.getValue());
    lossSum += g.loss();
    correct += g.correct();
    examples += g.examples();
    count++;
  }

  void average() {
    double f = 1.0 / count;
    for (LoraPair p : pairs) {
      org.ejml.dense.row.CommonOps_DDRM.scale(f, p.a());
      org.ejml.dense.row.CommonOps_DDRM.scale(f, p.b());
    }
    for (DMatrixRMaj h : head) org.ejml.dense.row.CommonOps_DDRM.scale(f, h);
  }

  /** Fails the step (before any update) on a non-finite loss or gradient: the last good state stays. */
  void requireFinite(int step) {
    if (!Double.isFinite(lossSum)) {
      throw new DivergedException("step " + step + ": loss is " + lossSum + "; stopping before the update, adapters keep step "
          + (step - 1) + "'s values (try a lower --lr)");
    }
    for (int i = 0; i < pairs.size(); i++) {
      if (!Matrices.isFinite(pairs.get(i).a()) || !Matrices.isFinite(pairs.get(i).b())) {
        throw new DivergedException("step " + step + ": non-finite gradient in " + modules.get(i) + "; stopping before the update");
      }
    }
  }

  double loss() {
    return lossSum / count;
  }

  double accuracy() {
    return correct / (double) examples;
  }

  private static void addInto(DMatrixRMaj sum, float[] v) {
    for (int i = 0; i < v.length; i++) sum.data[i] += v[i];
  }

  /** A run that produced NaN or infinity; the message says where and what was kept. */
  static final class DivergedException extends IllegalStateException {
    DivergedException(String message) {
      super(message);
    }
  }
}
