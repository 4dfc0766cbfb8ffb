package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import dev.loraone.worker.weights.FloatTensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Copies HF-named pretrained tensors into a model's HF-named parameters: checks first (names and
 * shapes, naming every mismatch), copies later, in place, after the parameters exist.
 *
 * <p>Required: every base parameter. Optional: {@code classifier.*} (a fine-tuned head). Ignored:
 * {@code pooler.*} (BERT's NSP pooler, not part of this model). Anything else is an error, so a
 * file from another architecture cannot load half-way.
 */
final class WeightLoading {

  private WeightLoading() {}

  static void check(Map<String, Parameter> params, Map<String, FloatTensor> weights) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    weights.forEach((name, t) -> shapes.put(name, t.shape()));
    checkShapes(params, shapes);
  }

  private static void checkShapes(Map<String, Parameter> params, Map<String, long[]> weights) {
    TreeSet<String> missing = new TreeSet<>();
    TreeSet<String> badShape = new TreeSet<>();
    for (Map.Entry<String, Parameter> e : params.entrySet()) {
      String name = e.getKey();
      long[] shape = weights.get(name);
      if (shape == null) {
        if (isBase(name)) {
          missing.add(name);
        }
      } else if (!Arrays.equals(shape, e.getValue().getShape().getShape())) {
        badShape.add(name + " " + Arrays.toString(shape) + " != " + e.getValue().getShape());
      }
    }
    TreeSet<String> unknown = new TreeSet<>();
    for (String name : weights.keySet()) {
      if (!params.containsKey(name) && !name.startsWith("pooler.")) {
        unknown.add(name);
      }
    }
    if (!missing.isEmpty() || !badShape.isEmpty() || !unknown.isEmpty()) {
      throw new IllegalArgumentException("pretrained weights do not fit the model:"
          + describe(" missing", missing) + describe(" wrong shape", badShape) + describe(" unknown", unknown));
    }
  }

  /**
   * Points every base parameter at its array in {@code shared} (a base model other jobs use too: read
   * only, never closed by this model), after the checks of {@link #check}; the parameters take the
   * arrays at {@code initialize}. Returns the non-base tensors (a fine-tuned {@code classifier.*}) as
   * heap copies, for {@link #copy} into this model's own parameters.
   */
  static Map<String, FloatTensor> share(Map<String, Parameter> params, Map<String, NDArray> shared) {
    Map<String, long[]> shapes = new LinkedHashMap<>();
    shared.forEach((name, a) -> shapes.put(name, a.getShape().getShape()));
    checkShapes(params, shapes);
    Map<String, FloatTensor> own = new LinkedHashMap<>();
    params.forEach((name, p) -> {
      NDArray a = shared.get(name);
      if (a == null) {
        return;
      }
      if (isBase(name)) {
        p.setInitializer((manager, shape, dataType) -> {
          if (dataType != a.getDataType()) {
            throw new IllegalArgumentException(name + ": the shared base array is " + a.getDataType()
                + ", the model is initialized as " + dataType);
          }
          return a;
        });
      } else {
        own.put(name, new FloatTensor(a.getShape().getShape(), a.toFloatArray()));
      }
    });
    return own;
  }

  /** Copies every tensor that has a parameter of that name; call {@link #check} first. */
  static void copy(Map<String, Parameter> params, Map<String, FloatTensor> weights) {
    weights.forEach((name, t) -> {
      Parameter p = params.get(name);
      if (p != null) {
        Owned.write(p.getArray(), t.data());
      }
    });
  }

  /** A base (pretrained, frozen in LoRA mode) parameter, as opposed to an adapter or the task head. */
  static boolean isBase(String name) {
    return !name.contains(".lora_") && !name.startsWith("classifier.");
  }

  private static String describe(String what, TreeSet<String> names) {
    if (names.isEmpty()) {
      return "";
    }
    List<String> first = names.stream().limit(8).toList();
    return what + " (" + names.size() + "): " + first + (names.size() > first.size() ? " ..." : "") + ";";
  }
}
