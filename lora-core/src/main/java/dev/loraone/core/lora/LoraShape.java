package dev.loraone.core.lora;

/**
 * The shape of one adapted linear layer, PEFT convention (reference section 1).
 *
 * <p>Shape legend: {@code W:[out,in]  A:[r,in]  B:[out,r]  dW = s*B*A:[out,in]}, with
 * {@code 1 <= r <= min(out, in)}.
 */
public record LoraShape(int out, int in, int r) {

  public LoraShape {
    if (out < 1 || in < 1) {
      throw new IllegalArgumentException("layer shape (out=" + out + ", in=" + in + ") must have out >= 1 and in >= 1");
    }
    if (r < 1 || r > Math.min(out, in)) {
      throw new IllegalArgumentException(
          "rank r="
              + r
              + " must be in [1, min(out, in)="
              + Math.min(out, in)
              + "] for a layer of shape (out="
              + out
              + ", in="
              + in
              + ")");
    }
  }
}
