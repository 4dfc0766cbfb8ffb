package dev.loraone.coordinator;

import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.ejml.data.DMatrixRMaj;

/**
 * The job's layout as the coordinator uses it, decoded from the first worker's {@link JobJoined}
 * (whose Javadoc lists the keys) and checked against the job: adapted modules in model order with
 * their {@code [out,in]}, the head's initial values, the worker-side init if the method needs no
 * gradient. Every later worker must send an equal layout.
 *
 * <pre>
 *   masters   pair i = (A0:[r,in], B0:[out,r]) of modules.get(i)    head = classifier.weight:[C,H],
 *       classifier.bias:[C,1]
 *             float32 on the wire, widened to double (the fine-tune's masters are read back from its float model too)
 * </pre>
 *
 * @param init A0/B0 per module when the workers ran the init, else empty (the coordinator runs it)
 * @param headNames {@code classifier.weight, classifier.bias} in this order (the clipping norm sums
 *     in it), or empty
 * @param modifiesBase the init moved part of W0 into the adapter (PiSSA): export {@code s(BA -
 *     B0A0)}
 * @param baseModel {@code base_model_name_or_path} of the adapter: the optional key {@value
 *     #MODEL_ID}, else the job's model
 * @param taskType {@code task.type} of the layout ({@code classification} when absent): metrics and
 *     PEFT task type
 * @param evalStepZero the job evaluates the model as opened (step 0) before its init
 */
record JobLayout(
    List<String> modules,
    List<int[]> shapes,
    List<LoraPair> init,
    List<String> headNames,
    List<DMatrixRMaj> head,
    boolean modifiesBase,
    int evalBatches,
    List<String> labels,
    String modelHash,
    String baseModel,
    String taskType,
    boolean evalStepZero) {

  /** Optional: the base model's id as the fine-tune writes it into {@code adapter_config.json} (UTF-8, U8). */
  static final String MODEL_ID = "model.id";

  /** Decodes and checks {@code joined}; the message of an {@link IllegalArgumentException} names the key at fault. */
  static JobLayout of(JobJoined joined, JobSetup setup) {
    Map<String, TensorBlob> layout = joined.layout();
    List<String> modules = joined.modules();
    List<int[]> shapes = new ArrayList<>();
    for (String m : modules) {
      int[] s = joined.shape(m);
      if (s[0] < 1 || s[1] < 1)
        throw new IllegalArgumentException(
            m + JobJoined.SHAPE + " = " + Arrays.toString(s) + " must be positive");
      if (setup.rank() > Math.min(s[0], s[1])) {
        throw new IllegalArgumentException(
            "'job.lora.rank' = "
                + setup.rank()
                + " is too large for "
                + m
                + " ("
                + s[0]
                + " x "
                + s[1]
                + "): expected <= "
                + Math.min(s[0], s[1]));
      }
      shapes.add(s);
    }
    List<LoraPair> init = workerInit(joined, modules, shapes, setup.rank());
    boolean gradient = setup.needsGradient() && !modules.isEmpty();
    if (gradient && !init.isEmpty()) {
      throw new IllegalArgumentException(
          "the layout holds A0/B0 ("
              + modules.get(0)
              + JobJoined.LORA_A
              + ") but 'job.init.method' = "
              + setup.method()
              + " is initialised by the coordinator from the gradient");
    }
    if (!gradient && !modules.isEmpty() && init.isEmpty()) {
      throw new IllegalArgumentException(
          "'job.init.method' = "
              + setup.method()
              + " runs on the workers, but the layout has no "
              + modules.get(0)
              + JobJoined.LORA_A
              + " / "
              + JobJoined.LORA_B);
    }
    List<String> headNames = new ArrayList<>();
    List<DMatrixRMaj> head = new ArrayList<>();
    boolean hasWeight = layout.containsKey(JobJoined.HEAD_WEIGHT);
    if (hasWeight != layout.containsKey(JobJoined.HEAD_BIAS)) {
      throw new IllegalArgumentException(
          "the layout must hold both "
              + JobJoined.HEAD_WEIGHT
              + " and "
              + JobJoined.HEAD_BIAS
              + " or neither");
    }
    if (hasWeight) {
      TensorBlob w = float32(layout.get(JobJoined.HEAD_WEIGHT), JobJoined.HEAD_WEIGHT, 2);
      TensorBlob b = float32(layout.get(JobJoined.HEAD_BIAS), JobJoined.HEAD_BIAS, 1);
      long[] ws = w.shape();
      if (b.shape()[0] != ws[0]) {
        throw new IllegalArgumentException(
            JobJoined.HEAD_BIAS
                + " has "
                + b.shape()[0]
                + " classes but "
                + JobJoined.HEAD_WEIGHT
                + " has "
                + ws[0]);
      }
      headNames.add(JobJoined.HEAD_WEIGHT);
      head.add(TensorMatrices.matrix((int) ws[0], (int) ws[1], w));
      headNames.add(JobJoined.HEAD_BIAS);
      head.add(TensorMatrices.matrix((int) ws[0], 1, b));
    }
    if (modules.isEmpty() && head.isEmpty())
      throw new IllegalArgumentException(
          "the layout has no adapted module and no head: nothing to train");
    boolean modifies = layout.containsKey(JobJoined.MODIFIES_BASE) && joined.initModifiesBase();
    int evalBatches = layout.containsKey(JobJoined.EVAL_EXAMPLES) ? joined.evalBatches() : 1;
    List<String> labels = layout.containsKey(JobJoined.LABELS) ? joined.labels() : List.of();
    String hash = layout.containsKey(JobJoined.MODEL_SHA256) ? joined.modelHash() : null;
    String baseModel =
        layout.containsKey(MODEL_ID)
            ? new String(layout.get(MODEL_ID).bytes(), StandardCharsets.UTF_8)
            : setup.model();
    return new JobLayout(
        List.copyOf(modules),
        List.copyOf(shapes),
        init,
        List.copyOf(headNames),
        List.copyOf(head),
        modifies,
        evalBatches,
        List.copyOf(labels),
        hash,
        baseModel,
        joined.taskType(),
        joined.evaluatesStepZero());
  }

  private static List<LoraPair> workerInit(JobJoined joined, List<String> modules, List<int[]> shapes, int r) {
    Map<String, TensorBlob> given = joined.initAdapters();
    if (given.isEmpty()) return List.of();
    TreeSet<String> expected = new TreeSet<>();
    List<LoraPair> out = new ArrayList<>();
    for (int i = 0; i < modules.size(); i++) {
      String a = modules.get(i) + JobJoined.LORA_A;
      String b = modules.get(i) + JobJoined.LORA_B;
      expected.add(a);
      expected.add(b);
      TensorBlob ta = given.get(a);
      TensorBlob tb = given.get(b);
      if (ta == null || tb == null)
        throw new IllegalArgumentException(
            "the layout has worker-side A0/B0 but lacks " + (ta == null ? a : b));
      int out0 = shapes.get(i)[0];
      int in = shapes.get(i)[1];
      requireShape(float32(ta, a, 2), a, r, in);
      requireShape(float32(tb, b, 2), b, out0, r);
      out.add(new LoraPair(TensorMatrices.matrix(r, in, ta), TensorMatrices.matrix(out0, r, tb)));
    }
    for (String k : given.keySet()) {
      if (!expected.contains(k)) throw new IllegalArgumentException("layout key " + k + " names no adapted module");
    }
    return List.copyOf(out);
  }

  private static TensorBlob float32(TensorBlob t, String key, int rank) {
    if (t.dtype() != DType.F32 || t.shape().length != rank) {
      throw new IllegalArgumentException("layout key " + key + " must be F32 of rank " + rank + ", got " + t);
    }
    return t;
  }

  private static void requireShape(TensorBlob t, String key, int rows, int cols) {
    long[] s = t.shape();
    if (s[0] != rows || s[1] != cols) {
      throw new IllegalArgumentException(
          "layout key "
              + key
              + " is "
              + Arrays.toString(s)
              + ", expected ["
              + rows
              + ", "
              + cols
              + "]");
    }
  }

  boolean gradientInit() {
    return init.isEmpty() && !modules.isEmpty();
  }

  boolean classifier() {
    return !headNames.isEmpty();
  }

  /** Why {@code other} differs from the reference layout, or null when it is equal. */
  static String difference(Map<String, TensorBlob> reference, Map<String, TensorBlob> other) {
    if (reference.equals(other)) return null;
    TreeSet<String> keys = new TreeSet<>(reference.keySet());
    keys.addAll(other.keySet());
    for (String k : keys) {
      TensorBlob a = reference.get(k);
      TensorBlob b = other.get(k);
      if (a == null) return "it has the extra key " + k;
      if (b == null) return "it lacks the key " + k;
      if (!a.equals(b)) return "its " + k + " differs (" + b + " vs the job's " + a + ")";
    }
    return "it differs";
  }
}
