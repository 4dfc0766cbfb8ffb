package dev.loraone.core.linalg;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.util.SplittableRandom;
import org.ejml.MatrixDimensionException;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

/** {@link OrderedProducts} against EJML's own products, bit for bit (the determinism contract rests on them). */
class OrderedProductsTest {
  /** Odd and even sizes around the unrolling (2 rows, 4 k) and EJML's kernel switch (15 columns). */
  private static final int[] SIZES = {1, 2, 3, 4, 5, 7, 14, 15, 16, 17, 33, 64};

  @Test
  void productsAreBitIdenticalToEjmlForEveryShape() {
    SplittableRandom rng = new SplittableRandom(11);
    int checked = 0;
    for (int m : SIZES) {
      for (int n : SIZES) {
        for (int q : SIZES) {
          DMatrixRMaj a = random(m, n, rng);
          DMatrixRMaj b = random(n, q, rng);
          DMatrixRMaj expected = new DMatrixRMaj(m, q);
          CommonOps_DDRM.mult(a, b, expected);
          assertBits(expected, OrderedProducts.mult(a, b), "A B " + m + "x" + n + " * " + n + "x" + q);
          assertBits(expected, offHeap(a).operator().times(b), "off-heap A B " + m + "x" + n + " * " + n + "x" + q);
          DMatrixRMaj bt = random(m, q, rng);
          DMatrixRMaj expectedT = new DMatrixRMaj(n, q);
          CommonOps_DDRM.multTransA(a, bt, expectedT);
          assertBits(expectedT, OrderedProducts.multTransA(a, bt), "A^T B " + m + "x" + n + ", " + m + "x" + q);
          assertBits(expectedT, offHeap(a).operator().transposeTimes(bt),
              "off-heap A^T B " + m + "x" + n + ", " + m + "x" + q);
          checked++;
        }
      }
    }
    assertEquals(SIZES.length * SIZES.length * SIZES.length, checked);
  }

  /** Signed zeros, infinities, NaN, subnormals and wide magnitudes: where a changed summation order shows. */
  @Test
  void specialValuesKeepEjmlsBits() {
    SplittableRandom rng = new SplittableRandom(5);
    double[] special = {0.0, -0.0, Double.MIN_VALUE, -Double.MIN_VALUE, 1e300, -1e300, 1e-300, 3.0, -7.5,
        Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NaN};
    for (int trial = 0; trial < 400; trial++) {
      int m = 1 + rng.nextInt(20);
      int n = 1 + rng.nextInt(20);
      int q = 1 + rng.nextInt(24); // both sides of EJML's kernel switch (15 columns)
      DMatrixRMaj a = new DMatrixRMaj(m, n);
      DMatrixRMaj b = new DMatrixRMaj(n, q);
      DMatrixRMaj bt = new DMatrixRMaj(m, q);
      for (DMatrixRMaj x : new DMatrixRMaj[] {a, b, bt}) {
        for (int i = 0; i < x.data.length; i++) {
          boolean pick = rng.nextInt(3) == 0;
          x.data[i] = pick ? special[rng.nextInt(trial < 200 ? 4 : special.length)] : rng.nextDouble(-2, 2);
        }
      }
      DMatrixRMaj expected = new DMatrixRMaj(m, q);
      CommonOps_DDRM.mult(a, b, expected);
      assertBits(expected, OrderedProducts.mult(a, b), "A B, trial " + trial);
      assertBits(expected, offHeap(a).operator().times(b), "off-heap A B, trial " + trial);
      assertBits(expected, BufferMatrix.of(a).operator().times(b), "heap buffer A B, trial " + trial);
      DMatrixRMaj expectedT = new DMatrixRMaj(n, q);
      CommonOps_DDRM.multTransA(a, bt, expectedT);
      assertBits(expectedT, OrderedProducts.multTransA(a, bt), "A^T B, trial " + trial);
      assertBits(expectedT, offHeap(a).operator().transposeTimes(bt), "off-heap A^T B, trial " + trial);
    }
  }

  @Test
  void theInitsSketchShapesMatchEjml() {
    SplittableRandom rng = new SplittableRandom(3);
    DMatrixRMaj g = random(384, 1536, rng);
    DMatrixRMaj x = random(1536, 16, rng);
    DMatrixRMaj q = random(384, 64, rng);
    DMatrixRMaj expected = new DMatrixRMaj(384, 16);
    CommonOps_DDRM.mult(g, x, expected);
    assertBits(expected, Matrices.mult(g, x), "G X");
    DMatrixRMaj expectedT = new DMatrixRMaj(1536, 64);
    CommonOps_DDRM.multTransA(g, q, expectedT);
    assertBits(expectedT, Matrices.multTransA(g, q), "G^T Q");
  }

  @Test
  void mismatchedShapesFailAsInEjml() {
    assertThrows(MatrixDimensionException.class,
        () -> OrderedProducts.mult(new DMatrixRMaj(3, 4), new DMatrixRMaj(5, 16)));
    assertThrows(MatrixDimensionException.class,
        () -> OrderedProducts.multTransA(new DMatrixRMaj(3, 4), new DMatrixRMaj(5, 16)));
  }

  /** Wide and tall matrices around the row and column blocks that take EJML's kernel off the heap (64). */
  @Test
  void offHeapBlocksKeepEjmlsBitsForNarrowOperands() {
    SplittableRandom rng = new SplittableRandom(17);
    for (int[] mnq : new int[][] {{200, 150, 1}, {200, 150, 7}, {129, 191, 14}, {65, 127, 3}, {3, 200, 2},
        {200, 14, 5}}) {
      DMatrixRMaj a = random(mnq[0], mnq[1], rng);
      DMatrixRMaj b = random(mnq[1], mnq[2], rng);
      DMatrixRMaj bt = random(mnq[0], mnq[2], rng);
      DMatrixRMaj expected = new DMatrixRMaj(mnq[0], mnq[2]);
      CommonOps_DDRM.mult(a, b, expected);
      assertBits(expected, offHeap(a).operator().times(b), "off-heap A B " + java.util.Arrays.toString(mnq));
      DMatrixRMaj expectedT = new DMatrixRMaj(mnq[1], mnq[2]);
      CommonOps_DDRM.multTransA(a, bt, expectedT);
      assertBits(expectedT, offHeap(a).operator().transposeTimes(bt), "off-heap A^T B "
          + java.util.Arrays.toString(mnq));
    }
    DMatrixRMaj dense = random(4, 3, rng);
    BufferMatrix g = offHeap(dense);
    assertArrayEquals(dense.data, g.toDense().data);
    IllegalArgumentException shape =
        assertThrows(IllegalArgumentException.class, () -> g.operator().times(new DMatrixRMaj(4, 16)));
    assertTrue(shape.getMessage().contains("4x3 by 4x16"), shape.getMessage());
    g.data().put(5, Double.NaN);
    IllegalArgumentException nan = assertThrows(IllegalArgumentException.class, () -> g.requireFinite("shard 0"));
    assertEquals("shard 0 has a non-finite entry NaN at (1, 2); all entries must be finite", nan.getMessage());
  }

  /** A copy of {@code m} in native memory, as a gradient sum is held. */
  private static BufferMatrix offHeap(DMatrixRMaj m) {
    DoubleBuffer d = ByteBuffer.allocateDirect(8 * m.data.length).order(ByteOrder.nativeOrder()).asDoubleBuffer();
    d.put(0, m.data, 0, m.data.length);
    return new BufferMatrix(m.numRows, m.numCols, d);
  }

  private static DMatrixRMaj random(int rows, int cols, SplittableRandom rng) {
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    for (int i = 0; i < m.data.length; i++) m.data[i] = rng.nextGaussian() * Math.exp(rng.nextDouble(-20, 20));
    return m;
  }

  private static void assertBits(DMatrixRMaj expected, DMatrixRMaj actual, String what) {
    assertEquals(expected.numRows, actual.numRows, what);
    assertEquals(expected.numCols, actual.numCols, what);
    for (int i = 0; i < expected.data.length; i++) {
      long e = Double.doubleToRawLongBits(expected.data[i]);
      long got = Double.doubleToRawLongBits(actual.data[i]);
      if (Double.isNaN(expected.data[i]) && Double.isNaN(actual.data[i])) continue; // NaN payloads are the CPU's
      int at = i;
      assertEquals(e, got,
          () -> what + ": entry " + at + " is " + actual.data[at] + ", EJML gives " + expected.data[at]);
    }
  }
}
