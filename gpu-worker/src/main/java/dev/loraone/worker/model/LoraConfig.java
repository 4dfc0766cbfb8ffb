package dev.loraone.worker.model;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Which Linear layers get a LoRA adapter, and its hyper-parameters (Hu et al. 2021, "LoRA",
 * arXiv:2106.09685; PEFT's {@code LoraConfig}).
 *
 * <pre>
 *   y = W x + b + s * B A dropout(x)      A:[r,in]  B:[out,r]
 *   s = alpha / r          (LoRA)
 *   s = alpha / sqrt(r)    (rsLoRA, Kalajdzievski 2023, arXiv:2312.03732)
 * </pre>
 *
 * <p>Targets follow PEFT's {@code target_modules} matching: a module is targeted when its HF name
 * equals a pattern or ends with {@code "." + pattern}. {@code query,key,value,dense} thus matches
 * the three projections and all three {@code dense} layers of a BERT layer; {@code all-linear}
 * matches every Linear of the encoder (never the task head).
 *
 * @param rank r; 0 means no adapter anywhere (plain linear layers)
 * @param alpha the LoRA alpha
 * @param rslora scale by alpha / sqrt(r) instead of alpha / r
 * @param dropout probability of dropping an adapter input in training, in [0,1)
 * @param seed seeds the adapter's A initialisation and the dropout masks
 * @param targets the module name patterns, or {@code ["all-linear"]}
 */
public record LoraConfig(int rank, double alpha, boolean rslora, double dropout, long seed, List<String> targets) {

  /** The target list meaning "every Linear of the encoder". */
  public static final String ALL_LINEAR = "all-linear";

  /** Validates the values; names the offending one. */
  public LoraConfig {
    if (rank < 0) {
      throw new IllegalArgumentException("LoRA rank must be >= 0, got " + rank);
    }
    if (!(dropout >= 0 && dropout < 1)) {
      throw new IllegalArgumentException("LoRA dropout must be in [0,1), got " + dropout);
    }
    if (!Double.isFinite(alpha)) {
      throw new IllegalArgumentException("LoRA alpha must be finite, got " + alpha);
    }
    targets = List.copyOf(targets);
    if (targets.isEmpty() || targets.stream().anyMatch(String::isBlank)) {
      throw new IllegalArgumentException("LoRA targets must be non-empty names, got " + targets);
    }
    if (targets.contains(ALL_LINEAR) && targets.size() > 1) {
      throw new IllegalArgumentException("'all-linear' cannot be combined with other targets: " + targets);
    }
  }

  /** No adapters: every Linear is a plain frozen-or-trainable linear. */
  public static LoraConfig none() {
    return new LoraConfig(0, 1, false, 0, 0, List.of(ALL_LINEAR));
  }

  /**
   * Parses a comma list such as {@code "query,key,value,dense"} or {@code "all-linear"}; blanks
   * around names are ignored. {@code "none"} or an empty string yields rank 0 everywhere.
   */
  public static LoraConfig of(int rank, double alpha, boolean rslora, double dropout, long seed, String targets) {
    String t = targets.trim().toLowerCase(Locale.ROOT);
    if (t.isEmpty() || t.equals("none")) {
      return new LoraConfig(0, alpha, rslora, dropout, seed, List.of(ALL_LINEAR));
    }
    return new LoraConfig(rank, alpha, rslora, dropout, seed, Arrays.stream(t.split(",")).map(String::trim).toList());
  }

  /** The adapter scale s. */
  public float scaling() {
    if (rank == 0) {
      return 0f;
    }
    return (float) (rslora ? alpha / Math.sqrt(rank) : alpha / rank);
  }

  /**
   * The rank that the Linear named {@code module} (HF name, e.g. {@code
   * encoder.layer.0.attention.self.query}) gets.
   */
  public int rankFor(String module) {
    return rank > 0 && targets(module) ? rank : 0;
  }

  private boolean targets(String module) {
    if (targets.equals(List.of(ALL_LINEAR))) {
      return true;
    }
    for (String p : targets) {
      if (module.equals(p) || module.endsWith("." + p)) {
        return true;
      }
    }
    return false;
  }

  /** This config with another seed (one per job or per worker test). */
  public LoraConfig withSeed(long newSeed) {
    return new LoraConfig(rank, alpha, rslora, dropout, newSeed, targets);
  }
}
