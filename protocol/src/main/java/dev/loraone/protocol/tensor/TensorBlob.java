package dev.loraone.protocol.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A dense tensor as bytes: dtype, shape and little-endian row-major data, with content equality.
 *
 * <p>The one way tensors travel between modules (wire messages, checkpoints, adapter files), so
 * records never carry raw arrays. Instances are immutable: the constructor and accessors copy.
 */
public final class TensorBlob {
  private final DType dtype;
  private final long[] shape;
  private final byte[] data;

  public TensorBlob(DType dtype, long[] shape, byte[] data) {
    if (dtype == null || shape == null || data == null) {
      throw new IllegalArgumentException("dtype, shape and data must not be null");
    }
    long n = numel(shape);
    if (n * dtype.byteSize() != data.length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " of " + dtype + " needs " + n * dtype.byteSize()
              + " bytes but " + data.length + " were given");
    }
    this.dtype = dtype;
    this.shape = shape.clone();
    this.data = data.clone();
  }

  /** A float32 tensor from row-major values. */
  public static TensorBlob ofFloats(long[] shape, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return new TensorBlob(DType.F32, shape, b.array());
  }

  /** A float32 [rows, cols] tensor from a row-major double matrix (rounded to float). */
  public static TensorBlob ofMatrix(int rows, int cols, double[] rowMajor) {
    float[] f = new float[rowMajor.length];
    for (int i = 0; i < f.length; i++) f[i] = (float) rowMajor[i];
    return ofFloats(new long[] {rows, cols}, f);
  }

  public static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  public DType dtype() {
    return dtype;
  }

  public long[] shape() {
    return shape.clone();
  }

  public long numel() {
    return numel(shape);
  }

  public int byteSize() {
    return data.length;
  }

  /** A copy of the raw little-endian bytes. */
  public byte[] bytes() {
    return data.clone();
  }

  /** A read-only little-endian view of the bytes, without copying. */
  public ByteBuffer buffer() {
    return ByteBuffer.wrap(data).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  /** The values as float32, widening or narrowing from F32, F64, F16 and BF16. */
  public float[] toFloats() {
    return floats(buffer(), dtype, Math.toIntExact(numel()));
  }

  /** {@code n} values of {@code dtype} from the start of {@code bytes} (read little-endian) as float32. */
  public static float[] floats(ByteBuffer bytes, DType dtype, int n) {
    float[] out = new float[n];
    floats(bytes, dtype, out, 0, n);
    return out;
  }

  /** {@code n} values of {@code dtype} from the start of {@code bytes} (little-endian) into {@code out[at..]}. */
  public static void floats(ByteBuffer bytes, DType dtype, float[] out, int at, int n) {
    ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    switch (dtype) {
      case F32 -> b.asFloatBuffer().get(out, at, n);
      case F64 -> {
        for (int i = 0; i < n; i++) out[at + i] = (float) b.getDouble(i * 8);
      }
      case F16 -> {
        for (int i = 0; i < n; i++) out[at + i] = halfToFloat(b.getShort(i * 2));
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) out[at + i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
      }
      default -> throw new IllegalStateException("tensor of " + dtype + " cannot be read as floats");
    }
  }

  /** IEEE 754 binary16 to binary32 (Java 17 has no {@code Float.float16ToFloat}). */
  static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {
      if (mant == 0) return Float.intBitsToFloat(sign);
      float v = mant / 1024f / 16384f; // subnormal: mant * 2^-24
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorBlob t
        && dtype == t.dtype
        && Arrays.equals(shape, t.shape)
        && Arrays.equals(data, t.data);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "TensorBlob[" + dtype + " " + Arrays.toString(shape) + "]";
  }
}
