package dev.loraone.protocol.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.ejml.data.DMatrixRMaj;

/**
 * The one bridge between wire tensors and EJML matrices (row-major on both sides), for the
 * coordinator's masters, SVD operands and checkpoints and the workers' sketches alike.
 */
public final class TensorMatrices {
  private TensorMatrices() {}

  /** {@code t} as a {@code rows x cols} double matrix: F64 exactly, the other float types widened. */
  public static DMatrixRMaj matrix(int rows, int cols, TensorBlob t) {
    if (t.numel() != (long) rows * cols) {
      throw new IllegalArgumentException(t + " holds " + t.numel() + " values, expected " + rows + " x " + cols);
    }
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    if (t.dtype() == DType.F64) {
      t.buffer().asDoubleBuffer().get(m.data, 0, rows * cols);
    } else {
      float[] f = t.toFloats();
      for (int i = 0; i < f.length; i++) m.data[i] = f[i];
    }
    return m;
  }

  /** A lossless F64 {@code [rows, cols]} tensor (SVD operands, checkpoints). */
  public static TensorBlob f64(DMatrixRMaj m) {
    int n = m.numRows * m.numCols;
    ByteBuffer b = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asDoubleBuffer().put(m.data, 0, n);
    return new TensorBlob(DType.F64, new long[] {m.numRows, m.numCols}, b.array());
  }

  /** The float32 copy the workers compute with, {@code [rows, cols]}. */
  public static TensorBlob f32(DMatrixRMaj m) {
    return TensorBlob.ofMatrix(m.numRows, m.numCols, m.data);
  }

  /** The float32 copy as a vector {@code [rows * cols]} (a bias). */
  public static TensorBlob f32Vector(DMatrixRMaj m) {
    return TensorBlob.ofFloats(new long[] {(long) m.numRows * m.numCols}, floats(m));
  }

  public static float[] floats(DMatrixRMaj m) {
    int n = m.numRows * m.numCols;
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) m.data[i];
    return f;
  }

  /** {@code m} rounded to float32 and widened back: what a worker's float model holds. */
  public static DMatrixRMaj roundedToFloat(DMatrixRMaj m) {
    DMatrixRMaj r = new DMatrixRMaj(m.numRows, m.numCols);
    int n = m.numRows * m.numCols;
    for (int i = 0; i < n; i++) r.data[i] = (float) m.data[i];
    return r;
  }

  /** The value of a one-element tensor of any numeric dtype. */
  public static double scalar(TensorBlob t) {
    if (t.numel() != 1) throw new IllegalArgumentException("expected one value, got " + t);
    ByteBuffer b = t.buffer();
    return switch (t.dtype()) {
      case F64 -> b.getDouble(0);
      case I64 -> b.getLong(0);
      case I32 -> b.getInt(0);
      case I16 -> b.getShort(0);
      case I8 -> b.get(0);
      case U8, BOOL -> b.get(0) & 0xff;
      default -> t.toFloats()[0];
    };
  }

  /** The matrix of an F64 {@code [rows, cols]} tensor, every bit kept. */
  public static DMatrixRMaj matrix(TensorBlob t) {
    long[] s = t.shape();
    if (t.dtype() != DType.F64 || s.length != 2)
      throw new IllegalArgumentException("expected an F64 [rows, cols] tensor, got " + t);
    return matrix(Math.toIntExact(s[0]), Math.toIntExact(s[1]), t);
  }
}
