package dev.loraone.core.init;

import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraScaling;
import dev.loraone.core.lora.LoraShape;
import org.ejml.data.DMatrixRMaj;

/**
 * Everything an init strategy may read for one adapted layer.
 *
 * <p>Shape legend: {@code W0:[out,in]  grad = dL/dW:[out,in]} (the averaged one-step gradient,
 * reference 2.2), with {@code 1 <= r <= min(out,in)}. Either matrix may be absent when the chosen
 * method does not need it (LoRA-One and LoRA-GA need only the gradient, PiSSA only W0, LoRA and
 * Gaussian neither); the constructor still checks shapes and finiteness of what is given.
 *
 * @param layer name used in error messages, e.g. {@code encoder.layer.0.attention.self.query}
 * @param shape {@code (out, in, r)}
 * @param w0 base weight or null
 * @param gradient averaged {@code dL/dW} or null
 * @param scaling the LoRA scaling ({@code alpha}, {@code r}, rsLoRA); its r must equal shape.r
 * @param seed seed for random inits (Kaiming, Gaussian)
 * @param params method parameters (gamma, SVD method)
 */
public record InitContext(String layer, LoraShape shape, DMatrixRMaj w0, DMatrixRMaj gradient,
    LoraScaling scaling, long seed, InitParams params) {

  public InitContext {
    if (layer == null || layer.isBlank()) layer = "layer";
    if (shape == null || scaling == null) throw new IllegalArgumentException("shape and scaling are required");
    if (params == null) params = InitParams.defaults();
    if (scaling.r() != shape.r()) {
      throw new IllegalArgumentException("scaling rank r=" + scaling.r() + " must equal the layer rank r=" + shape.r());
    }
    checkMatrix(layer, "base weight W0", w0, shape);
    checkMatrix(layer, "gradient", gradient, shape);
  }

  /** Context for a layer whose base weight is at hand; {@code gradient} may be null. */
  public static InitContext of(String layer, DMatrixRMaj w0, DMatrixRMaj gradient, LoraScaling scaling, long seed,
      InitParams params) {
    if (w0 == null) throw new IllegalArgumentException("base weight W0 of layer '" + layer + "' is required here");
    return new InitContext(
        layer,
        new LoraShape(w0.numRows, w0.numCols, scaling.r()),
        w0,
        gradient,
        scaling,
        seed,
        params);
  }

  /** Context from the gradient alone (no base weight), e.g. on a coordinator. */
  public static InitContext fromGradient(String layer, DMatrixRMaj gradient, LoraScaling scaling, long seed,
      InitParams params) {
    if (gradient == null) throw new IllegalArgumentException("gradient of layer '" + layer + "' is required here");
    return new InitContext(layer, new LoraShape(gradient.numRows, gradient.numCols, scaling.r()), null, gradient,
        scaling, seed, params);
  }

  public int out() { return shape.out(); }

  public int in() { return shape.in(); }

  public int r() { return shape.r(); }

  /** The base weight, or an exception naming the layer and the method that needs it. */
  public DMatrixRMaj requireWeight(String method) {
    if (w0 == null) {
      throw new IllegalArgumentException(
          "init method '" + method + "' needs the base weight W0 of layer '" + layer + "'");
    }
    return w0;
  }

  /** The gradient, or an exception naming the layer and the method that needs it. */
  public DMatrixRMaj requireGradient(String method) {
    if (gradient == null) {
      throw new IllegalArgumentException(
          "init method '" + method + "' needs the gradient dL/dW of layer '" + layer + "'");
    }
    return gradient;
  }

  private static void checkMatrix(String layer, String what, DMatrixRMaj m, LoraShape shape) {
    if (m == null) return;
    if (m.numRows != shape.out() || m.numCols != shape.in()) {
      throw new IllegalArgumentException(what + " of layer '" + layer + "' is " + m.numRows + "x" + m.numCols
          + " but must be (out=" + shape.out() + ", in=" + shape.in() + ")");
    }
    Matrices.requireFinite(m, what + " of layer '" + layer + "'");
  }
}
