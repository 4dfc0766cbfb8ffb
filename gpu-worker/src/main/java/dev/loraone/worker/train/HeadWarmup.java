package dev.loraone.worker.train;

import dev.loraone.core.optim.DenseAdamW;
import dev.loraone.core.optim.GradClip;
import dev.loraone.core.optim.OptimizerConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;

/**
 * Linear probing before fine-tuning (LP-FT, Kumar et al. 2022): {@code head.warmup-steps} head-only
 * steps before the gradient estimate and the init. With a random head the encoder's one-step
 * gradient that LoRA-One factorises is {@code W_head^T (p - y)}, a random projection; a warmed head
 * makes it point at the task.
 *
 * <pre>
 *   step s     g = (1/K) sum_k d L_{sK+k} / d head     (the training stream's first micro-batches, index order)
 *              clip(g), AdamW at constant lr (head.warmup-lr, else optimizer.lr), double masters
 * </pre>
 * It runs when the engine opens, before any init, so every adapter's B is zero and the model computes
 * exactly the base encoder: only the head's gradients are read. Every worker of a cluster job runs it
 * the same way (same data, order and arithmetic), so the warmed head, and with it the whole job,
 * has the same bits on every path.
 */
final class HeadWarmup {
  private HeadWarmup() {}

  static void run(WorkerEngine engine, FinetuneConfig cfg) {
    List<String> names = List.copyOf(engine.layout().head().keySet());
    if (names.isEmpty()) {
      throw new IllegalArgumentException("'job.head.warmup-steps' = " + cfg.headWarmup() + ": a " + engine.taskType()
          + " job has no head to warm up");
    }
    List<DMatrixRMaj> head = new ArrayList<>();
    for (String n : names) {
      head.add(
          AdapterState.matrix(
              1,
              (int) engine.layout().head().get(n).numel(),
              engine.layout().head().get(n).toFloats()));
    }
    DenseAdamW opt = new DenseAdamW(OptimizerConfig.defaults(cfg.headWarmupLrOrLr()));
    int k = cfg.microBatchesPerStep();
    for (int s = 0; s < cfg.headWarmup(); s++) {
      List<DMatrixRMaj> grads = new ArrayList<>();
      for (DMatrixRMaj h : head) grads.add(new DMatrixRMaj(h.numRows, h.numCols));
      for (int j = 0; j < k; j++) {
        Workload.TrainUnit g = engine.trainUnit((long) s * k + j);
        for (int i = 0; i < names.size(); i++) {
          float[] v = g.head().get(names.get(i));
          for (int x = 0; x < v.length; x++) grads.get(i).data[x] += v[x];
        }
      }
      for (DMatrixRMaj g : grads) CommonOps_DDRM.scale(1.0 / k, g);
      GradClip.clipGlobalNorm(List.of(), grads, cfg.maxGradNorm());
      opt.step(head, grads);
      Map<String, float[]> values = new LinkedHashMap<>();
      for (int i = 0; i < names.size(); i++) values.put(names.get(i), AdapterState.floats(head.get(i)));
      engine.warmHead(values);
    }
  }
}
