package dev.loraone.core.init;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What each init method needs and allows, declared once: callers ask here instead of comparing
 * method names (the fine-tune, the worker engine, the coordinator and the CLI all did).
 *
 * <pre>
 *   method     gradient  W0    rank factor  modifies W0  randomized SVD  where a cluster job runs the init
 *   lora-one   yes       no    1            no           yes (default)   coordinator: rounds over the workers' shards
 *   lora       no        no    1            no           -               each worker, seeded
 *   gaussian   no        no    1            no           -               each worker, seeded
 *   pissa      no        yes   1            yes          -               each worker (SVD of its W0 copy)
 *   lora-ga    yes       yes   2            yes          no (exact)      each worker: every shard, then the init
 * </pre>
 * An init that runs on each worker gives every worker the same bits (same data, order and seeds),
 * so a worker's W0 offset never travels. LoRA-GA's offset {@code s B0 A0} is a full {@code [out,in]}
 * matrix, and its factors come from the exact SVD of the whole gradient: each worker sums every init
 * shard itself (init.iters full-gradient passes per worker instead of init.iters / workers) rather
 * than receive an offset the size of W0 from the coordinator.
 * LoRA-GA uses 2r singular vectors of G (reference 4.2), so the rank is bounded by half the smaller side.
 */
public enum InitMethod {
  LORA_ONE(LoraOneInit.NAME, true, false, 1, true),
  LORA(KaimingUniformInit.NAME, false, false, 1, false),
  GAUSSIAN(GaussianInit.NAME, false, false, 1, false),
  PISSA(PissaInit.NAME, false, true, 1, false),
  LORA_GA(LoraGaInit.NAME, true, true, 2, false);

  private final String id;
  private final boolean needsGradient;
  private final boolean needsBaseWeight;
  private final int rankFactor;
  private final boolean randomizedSvd;

  InitMethod(String id, boolean needsGradient, boolean needsBaseWeight, int rankFactor, boolean randomizedSvd) {
    this.id = id;
    this.needsGradient = needsGradient;
    this.needsBaseWeight = needsBaseWeight;
    this.rankFactor = rankFactor;
    this.randomizedSvd = randomizedSvd;
  }

  /** The method called {@code name} ({@code lora-one}, ...); unknown names fail listing the allowed ones. */
  public static InitMethod of(String name) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    for (InitMethod m : values()) if (m.id.equals(n)) return m;
    throw new IllegalArgumentException("unknown init method '" + name + "'; allowed: " + String.join(", ", names()));
  }

  public static List<String> names() {
    return Arrays.stream(values()).map(InitMethod::id).toList();
  }

  /** The name in job files and adapter configs, e.g. {@code lora-one}. */
  public String id() {
    return id;
  }

  /** The init factorises the one-step full gradient {@code -grad W} (LoRA-One, LoRA-GA). */
  public boolean needsGradient() {
    return needsGradient;
  }

  /** The init reads {@code W0} and moves part of it into the adapter (PiSSA, LoRA-GA). */
  public boolean needsBaseWeight() {
    return needsBaseWeight;
  }

  /** Singular vectors used per unit of rank: the rank must be <= min(out, in) / rankFactor. */
  public int rankFactor() {
    return rankFactor;
  }

  /** Whether a cluster job's coordinator runs this init from the workers' gradient shards (LoRA-One). */
  public boolean initOnCoordinator() {
    return this == LORA_ONE;
  }

  /** Whether the gradient's SVD may run as randomized rounds over shard products; otherwise exact. */
  public boolean randomizedSvd() {
    return randomizedSvd;
  }

  /** The SVD mode a job gets when it does not say: randomized where allowed, else exact. */
  public String defaultMode() {
    return randomizedSvd ? "randomized" : "exact";
  }

  public LoraInitializer initializer() {
    return LoraInitializers.forName(id);
  }

  @Override
  public String toString() {
    return id;
  }
}
