package dev.loraone.protocol.tensor;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class TensorBlobTest {
  @Test
  void equalityIsByContent() {
    TensorBlob a = TensorBlob.ofFloats(new long[] {2}, new float[] {1, 2});
    TensorBlob b = TensorBlob.ofFloats(new long[] {2}, new float[] {1, 2});
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertNotEquals(a, TensorBlob.ofFloats(new long[] {1, 2}, new float[] {1, 2}));
    assertNotEquals(a, TensorBlob.ofFloats(new long[] {2}, new float[] {1, 3}));
  }

  @Test
  void shapeAndByteCountMustAgree() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new TensorBlob(DType.F32, new long[] {3}, new byte[8]));
    assertTrue(e.getMessage().contains("[3]") && e.getMessage().contains("12"), e.getMessage());
  }

  @Test
  void halfAndBfloat16WidenExactly() {
    // 0x3C00 = 1.0, 0xC000 = -2.0, 0x7BFF = 65504 (max half), 0x0001 = 2^-24 (min subnormal)
    short[] half = {0x3C00, (short) 0xC000, 0x7BFF, 0x0001};
    ByteBuffer h = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    for (short s : half) h.putShort(s);
    assertArrayEquals(new float[] {1f, -2f, 65504f, (float) Math.pow(2, -24)},
        new TensorBlob(DType.F16, new long[] {4}, h.array()).toFloats());
    // bf16 is the top half of a float32
    ByteBuffer bf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
    bf.putShort((short) (Float.floatToIntBits(3.5f) >>> 16)).putShort((short) (Float.floatToIntBits(-0.15625f) >>> 16));
    assertArrayEquals(new float[] {3.5f, -0.15625f}, new TensorBlob(DType.BF16, new long[] {2}, bf.array()).toFloats());
  }
}
