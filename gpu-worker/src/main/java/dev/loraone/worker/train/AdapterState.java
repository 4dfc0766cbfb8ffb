package dev.loraone.worker.train;

import dev.loraone.core.lora.LoraPair;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.worker.model.AdaptedModel;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.Owned;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ejml.data.DMatrixRMaj;

/**
 * The trainable state in double precision: one (A, B) pair per adapted module, in the model's
 * module order, and the dense head ({@code classifier.weight:[C,H]}, {@code classifier.bias:[C,1]}) of a
 * classifier; a causal LM ({@link #fromAdapters}) has no head.
 *
 * <p>These are the master copies the optimizers update (like fp32 master weights under mixed
 * precision); the DJL model receives float32 copies after every step. Keeping the masters here,
 * outside DJL, is what lets a coordinator own them without a model.
 */
public final class AdapterState {
  private final Map<String, LoraPair> pairs;
  private final Map<String, DMatrixRMaj> head;

  public AdapterState(Map<String, LoraPair> pairs, Map<String, DMatrixRMaj> head) {
    this.pairs = new LinkedHashMap<>(pairs);
    this.head = new LinkedHashMap<>(head);
  }

  /** Reads the model's current adapters and classifier head. */
  public static AdapterState fromModel(BertLoraModel model) {
    return fromModel(model, ClassificationWorkload.HEAD);
  }

  /**
   * Reads the model's current adapters and the dense parameters {@code headNames} ([rows, cols];
   * vectors as [n, 1]).
   */
  public static AdapterState fromModel(AdaptedModel model, List<String> headNames) {
    Map<String, DMatrixRMaj> head = new LinkedHashMap<>();
    for (String h : headNames) {
      var a = model.namedParameters().get(h).getArray();
      long[] s = a.getShape().getShape();
      head.put(h, matrix((int) s[0], s.length > 1 ? (int) s[1] : 1, a.toFloatArray()));
    }
    return new AdapterState(adapterPairs(model), head);
  }

  /** Reads the model's current adapters only (no dense head), e.g. of a causal LM. */
  public static AdapterState fromAdapters(AdaptedModel model) {
    return new AdapterState(adapterPairs(model), Map.of());
  }

  private static Map<String, LoraPair> adapterPairs(AdaptedModel model) {
    Map<String, LoraPair> pairs = new LinkedHashMap<>();
    for (String m : model.adaptedModules()) {
      var lin = model.linear(m);
      pairs.put(m, new LoraPair(matrix(lin.rank(), lin.inFeatures(), model.getLoraA(m)),
          matrix(lin.outFeatures(), lin.rank(), model.getLoraB(m))));
    }
    return pairs;
  }

  /** Writes float32 copies of the masters into the model. */
  public void writeTo(AdaptedModel model) {
    pairs.forEach((m, p) -> {
      model.setLoraA(m, floats(p.a()));
      model.setLoraB(m, floats(p.b()));
    });
    head.forEach((name, v) -> Owned.write(model.namedParameters().get(name).getArray(), floats(v)));
  }

  /** A live view over trainer-owned masters (updates show through), with the head tensors named. */
  public static AdapterState view(
      List<String> modules, List<LoraPair> pairs, List<String> headNames, List<DMatrixRMaj> head) {
    Map<String, LoraPair> p = new LinkedHashMap<>();
    for (int i = 0; i < modules.size(); i++) p.put(modules.get(i), pairs.get(i));
    Map<String, DMatrixRMaj> h = new LinkedHashMap<>();
    for (int i = 0; i < headNames.size(); i++) h.put(headNames.get(i), head.get(i));
    return new AdapterState(p, h);
  }

  public List<String> headNames() {
    return List.copyOf(head.keySet());
  }

  /** One micro-batch's gradients as {@code AdapterTrainer} wants them: {gA, gB} per module in module order. */
  public float[][][] adapterGradients(Map<String, float[][]> byModule) {
    float[][][] out = new float[pairs.size()][][];
    int i = 0;
    for (String m : pairs.keySet()) out[i++] = byModule.get(m);
    return out;
  }

  /** The head gradients in head order. */
  public float[][] headGradients(Map<String, float[]> byName) {
    float[][] out = new float[head.size()][];
    int i = 0;
    for (String h : head.keySet()) out[i++] = byName.get(h);
    return out;
  }

  public List<String> modules() {
    return List.copyOf(pairs.keySet());
  }

  public List<LoraPair> pairList() {
    return new ArrayList<>(pairs.values());
  }

  public List<DMatrixRMaj> headList() {
    return new ArrayList<>(head.values());
  }

  public LoraPair pair(String module) {
    return pairs.get(module);
  }

  /** The adapter in PEFT form, the head as {@code modules_to_save}. */
  public PeftAdapter toPeft(PeftAdapter.Config config) {
    Map<String, PeftAdapter.Pair> out = new LinkedHashMap<>();
    pairs.forEach((m, p) -> out.put(m, new PeftAdapter.Pair(blob(p.a()), blob(p.b()))));
    Map<String, TensorBlob> saved = new LinkedHashMap<>();
    head.forEach((name, v) -> saved.put(name, name.endsWith(".bias")
        ? TensorBlob.ofFloats(new long[] {v.numRows}, floats(v)) : blob(v)));
    return new PeftAdapter(config, out, saved);
  }

  static TensorBlob blob(DMatrixRMaj m) {
    return TensorBlob.ofMatrix(m.numRows, m.numCols, m.data);
  }

  static DMatrixRMaj matrix(int rows, int cols, float[] values) {
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    for (int i = 0; i < values.length; i++) m.data[i] = values[i];
    return m;
  }

  static float[] floats(DMatrixRMaj m) {
    int n = m.numRows * m.numCols;
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) m.data[i];
    return f;
  }
}
