package dev.loraone.worker.weights;

import java.util.Arrays;

/**
 * A dense float32 tensor on the Java heap, row-major: the unit in which pretrained weights travel
 * from a file reader ({@link OnnxInitializers}, a safetensors reader) into a DJL model.
 *
 * <p>Shape legend for the BERT weights it carries: Linear {@code weight:[out,in]}, {@code
 * bias:[out]}, embeddings {@code [rows,hidden]}, LayerNorm {@code [hidden]}.
 *
 * <p>The data array is not copied (a MiniLM file is 90 MB): treat it as immutable. Equality is by
 * content, unlike a plain record over arrays.
 */
public record FloatTensor(long[] shape, float[] data) {

  /** Checks that {@code data} holds exactly as many values as {@code shape} describes. */
  public FloatTensor {
    shape = shape.clone();
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n *= d;
    }
    if (n != data.length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
    }
  }

  /** The shape (a copy). */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Number of dimensions. */
  public int rank() {
    return shape.length;
  }

  /** Size of dimension {@code i}. */
  public long dim(int i) {
    return shape[i];
  }

  /** The transpose of a 2-D tensor: {@code [r,c] -> [c,r]}. */
  public FloatTensor transpose2d() {
    if (shape.length != 2) {
      throw new IllegalStateException("transpose2d needs a 2-D tensor, shape is " + Arrays.toString(shape));
    }
    int r = Math.toIntExact(shape[0]);
    int c = Math.toIntExact(shape[1]);
    float[] t = new float[data.length];
    for (int i = 0; i < r; i++) {
      int row = i * c;
      for (int j = 0; j < c; j++) {
        t[j * r + i] = data[row + j];
      }
    }
    return new FloatTensor(new long[] {c, r}, t);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FloatTensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "FloatTensor" + Arrays.toString(shape);
  }
}
