package dev.loraone.worker.model;

import ai.djl.nn.Parameter;
import dev.loraone.worker.weights.FloatTensor;
import java.util.Arrays;
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
    TreeSet<String> missing = new TreeSet<>();
    TreeSet<String> badShape = new TreeSet<>();
    for (Map.Entry<String, Parameter> e : params.entrySet()) {
      String name = e.getKey();
      FloatTensor t = weights.get(name);
      if (t == null) {
        if (isBase(name)) {
          missing.add(name);
        }
      } else if (!Arrays.equals(t.shape(), e.getValue().getShape().getShape())) {
        badShape.add(name + " " + Arrays.toString(t.shape()) + " != " + e.getValue().getShape());
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
