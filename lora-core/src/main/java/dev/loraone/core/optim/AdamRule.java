package dev.loraone.core.optim;

import org.ejml.data.DMatrixRMaj;

/**
 * The elementwise Adam update shared by AdamW and ScaledAdamW:
 * {@code m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  p -= stepSize * m / (sqrt(v)/vScale + eps)}.
 * The two bias-correction conventions differ only in {@code stepSize} and {@code vScale}.
 */
final class AdamRule {
  private AdamRule() {}

  static void apply(DMatrixRMaj p, DMatrixRMaj g, DMatrixRMaj m, DMatrixRMaj v, double b1, double b2, double eps,
      double stepSize, double vScale) {
    double[] pd = p.data, gd = g.data, md = m.data, vd = v.data;
    int n = p.numRows * p.numCols;
    for (int i = 0; i < n; i++) {
      md[i] = b1 * md[i] + (1 - b1) * gd[i];
      vd[i] = b2 * vd[i] + (1 - b2) * gd[i] * gd[i];
      pd[i] -= stepSize * md[i] / (Math.sqrt(vd[i]) / vScale + eps);
    }
  }

  /** {@code p -= lr * wd * p}: decoupled weight decay. */
  static void decay(DMatrixRMaj p, double lr, double wd) {
    if (wd == 0) return;
    double[] pd = p.data;
    int n = p.numRows * p.numCols;
    for (int i = 0; i < n; i++) pd[i] -= lr * wd * pd[i];
  }
}
