package dev.loraone.worker.weights;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * A config.json {@code rope_scaling}: how the rotary inverse frequencies are rescaled for a longer
 * context. The one place {@code inv_freq} is computed, so the DJL model ({@code model.Rotary}) and
 * the ONNX graph ({@code export.LlamaOnnxGraph}) use the same float32 values.
 *
 * <pre>
 *   inv_freq[i] = 1 / theta^(2i/d)                                   i < d/2   (default, dynamic)
 *   linear      : inv_freq[i] / factor                               (positions / factor)
 *   llama3      : wavelen = 2 pi / inv_freq[i]
 *                 wavelen < L/high_freq_factor          -> inv_freq[i]            (high frequencies kept)
 *                 wavelen > L/low_freq_factor           -> inv_freq[i] / factor   (low frequencies scaled)
 *                 otherwise, s = (L/wavelen - low) / (high - low):
 *                                                          (1-s) inv_freq/factor + s inv_freq
 *                 L = original_max_position_embeddings
 * </pre>
 *
 * The formulas are HF's {@code _compute_default_rope_parameters}, {@code
 * _compute_linear_scaling_rope_parameters} and {@code _compute_llama3_parameters}, evaluated in
 * float32 in HF's order of operations. {@code dynamic} (NTK) changes nothing up to the model's
 * original length: HF rescales theta only for a sequence longer than it, so such a config is read as
 * plain RoPE with sequences capped there ({@link #capPositions}). Every other type ({@code yarn},
 * {@code longrope}, ...) is refused naming the key and value.
 *
 * @param type the scaling, {@link Type#NONE} for plain RoPE
 * @param factor linear, llama3 and dynamic: the context extension factor (>= 1)
 * @param lowFreqFactor llama3: {@code low_freq_factor}
 * @param highFreqFactor llama3: {@code high_freq_factor} (> low_freq_factor)
 * @param originalMaxPositions llama3 (and dynamic, if stated): {@code original_max_position_embeddings}; else 0
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor,
    int originalMaxPositions) {

  /** The implemented {@code rope_type} values. */
  public enum Type {
    NONE("default"),
    LINEAR("linear"),
    LLAMA3("llama3"),
    DYNAMIC("dynamic");

    private final String key;

    Type(String key) {
      this.key = key;
    }

    /** The config.json spelling, e.g. {@code llama3}. */
    public String key() {
      return key;
    }
  }

  /** Plain RoPE ({@code rope_scaling: null}). */
  public static final RopeScaling NONE = new RopeScaling(Type.NONE, 1, 0, 0, 0);

  private static final List<String> SUPPORTED = List.of("default", "linear", "llama3", "dynamic");

  /**
   * Reads {@code rope_scaling} (null, absent or an object with {@code rope_type} or the older
   * {@code type}); errors name {@code rope_scaling} and the key at fault.
   */
  static RopeScaling fromJson(JsonNode scaling) {
    if (scaling == null || scaling.isNull()) {
      return NONE;
    }
    if (!scaling.isObject()) {
      throw new IllegalArgumentException("config.json: 'rope_scaling' must be null or an object, got " + scaling);
    }
    JsonNode t = scaling.hasNonNull("rope_type") ? scaling.get("rope_type") : scaling.get("type");
    String type = t == null || t.isNull() ? null : t.asText();
    if (type == null || !SUPPORTED.contains(type)) {
      throw new IllegalArgumentException("config.json: 'rope_scaling' has "
          + (type == null ? "no 'rope_type'" : "'rope_type' = '" + type + "'") + " (" + scaling
          + "); only " + SUPPORTED + " are implemented");
    }
    return switch (type) {
      case "default" -> NONE;
      case "linear" -> new RopeScaling(Type.LINEAR, factor(scaling), 0, 0, 0);
      case "dynamic" -> new RopeScaling(Type.DYNAMIC, factor(scaling), 0, 0,
          scaling.hasNonNull("original_max_position_embeddings")
              ? positiveInt(scaling, "original_max_position_embeddings") : 0);
      default -> {
        double low = number(scaling, "low_freq_factor");
        double high = number(scaling, "high_freq_factor");
        if (!(low > 0 && high > low)) {
          throw new IllegalArgumentException("config.json: 'rope_scaling' llama3 needs 0 < 'low_freq_factor' < "
              + "'high_freq_factor', got " + low + " and " + high);
        }
        yield new RopeScaling(Type.LLAMA3, factor(scaling), low, high,
            positiveInt(scaling, "original_max_position_embeddings"));
      }
    };
  }

  /**
   * The float32 inverse frequencies {@code [d/2]} for head size {@code headDim} and base {@code
   * theta}, scaled as the class comment says.
   */
  public float[] invFreq(int headDim, double theta) {
    float[] inv = new float[headDim / 2];
    for (int i = 0; i < inv.length; i++) {
      // HF: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), in float32.
      inv[i] = 1f / (float) Math.pow(theta, (float) (2 * i) / headDim);
    }
    float f = (float) factor;
    if (type == Type.LINEAR) {
      for (int i = 0; i < inv.length; i++) {
        inv[i] = inv[i] / f;
      }
    } else if (type == Type.LLAMA3) {
      float lowWavelen = (float) (originalMaxPositions / lowFreqFactor);
      float highWavelen = (float) (originalMaxPositions / highFreqFactor);
      float twoPi = (float) (2 * Math.PI);
      for (int i = 0; i < inv.length; i++) {
        // Python's scalar / tensor is tensor.reciprocal() * scalar (torch/_tensor.py __rdiv__).
        float wavelen = (1f / inv[i]) * twoPi;
        float scaled = wavelen > lowWavelen ? inv[i] / f : inv[i];
        boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
        if (medium) {
          float s = ((1f / wavelen) * originalMaxPositions - (float) lowFreqFactor)
              / (float) (highFreqFactor - lowFreqFactor);
          scaled = (1 - s) * scaled / f + s * scaled;
        }
        inv[i] = scaled;
      }
    }
    return inv;
  }

  /**
   * The longest sequence to accept given {@code max_position_embeddings}: for {@code dynamic}, no
   * longer than the length up to which it equals plain RoPE.
   */
  int capPositions(int maxPositions) {
    return type == Type.DYNAMIC && originalMaxPositions > 0 ? Math.min(maxPositions, originalMaxPositions)
        : maxPositions;
  }

  /** The config.json form, e.g. {@code llama3(factor=32.0, ...)}, for metadata and messages. */
  public String describe() {
    return switch (type) {
      case NONE -> "none";
      case LINEAR -> "linear(factor=" + factor + ")";
      case DYNAMIC -> "dynamic(factor=" + factor + ")";
      case LLAMA3 -> "llama3(factor=" + factor + ", low_freq_factor=" + lowFreqFactor + ", high_freq_factor="
          + highFreqFactor + ", original_max_position_embeddings=" + originalMaxPositions + ")";
    };
  }

  private static double factor(JsonNode scaling) {
    double f = number(scaling, "factor");
    if (!(f >= 1 && Double.isFinite(f))) {
      throw new IllegalArgumentException("config.json: 'rope_scaling.factor' must be a number >= 1, got " + f);
    }
    return f;
  }

  private static double number(JsonNode scaling, String key) {
    JsonNode v = scaling.get(key);
    if (v == null || !v.isNumber()) {
      throw new IllegalArgumentException("config.json: 'rope_scaling." + key + "' must be a number for rope_type '"
          + (scaling.hasNonNull("rope_type") ? scaling.get("rope_type") : scaling.get("type")).asText()
          + "', got " + v);
    }
    return v.doubleValue();
  }

  private static int positiveInt(JsonNode scaling, String key) {
    JsonNode v = scaling.get(key);
    if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0) {
      throw new IllegalArgumentException("config.json: 'rope_scaling." + key + "' must be a positive integer, got "
          + v);
    }
    return v.intValue();
  }
}
