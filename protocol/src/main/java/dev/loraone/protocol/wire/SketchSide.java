package dev.loraone.protocol.wire;

/**
 * Which product a shard owner returns in a randomized-SVD round ({@code lora-core}'s
 * {@code SvdRequest}): {@code G_s:[m,n]}, operand {@code X:[n,q]} or {@code Q:[m,q]}.
 * Travels by name, so reordering the constants cannot change the wire.
 */
public enum SketchSide {
  /** {@code G_s X}, product {@code [m,q]}. */
  RIGHT,
  /** {@code G_s^T Q}, product {@code [n,q]}. */
  LEFT
}
