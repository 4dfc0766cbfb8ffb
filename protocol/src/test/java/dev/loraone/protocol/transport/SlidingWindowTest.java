package dev.loraone.protocol.transport;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class SlidingWindowTest {
  @Test
  void atMostWindowChunksAreUnacknowledgedAndEachAckOpensOneSlot() {
    SlidingWindow w = new SlidingWindow(10, 3, 100, 5);
    assertArrayEquals(new int[] {0, 1, 2}, w.fill(0));
    assertArrayEquals(new int[0], w.fill(1));
    assertTrue(w.ack(1));
    assertFalse(w.ack(1), "duplicate ack");
    assertFalse(w.ack(7), "ack of a chunk never sent");
    assertArrayEquals(new int[] {3}, w.fill(2));
    assertEquals(3, w.inFlight());
    assertTrue(w.anyAcked());
    assertFalse(w.allAcked());
  }

  @Test
  void onlyChunksUnacknowledgedForRetransmitAfterAreResent() {
    SlidingWindow w = new SlidingWindow(4, 2, 100, 5);
    w.fill(0); // 0, 1
    w.ack(1);
    w.fill(60); // 2
    assertArrayEquals(new int[0], w.overdue(99));
    assertArrayEquals(new int[] {0}, w.overdue(100));
    assertArrayEquals(new int[] {2}, w.overdue(160), "chunk 0 was just resent at 100");
    assertArrayEquals(new int[] {0}, w.overdue(200));
    assertEquals(3, w.totalResends());
  }

  @Test
  void aChunkPastItsResendBudgetExhaustsTheTransfer() {
    SlidingWindow w = new SlidingWindow(1, 1, 10, 2);
    w.fill(0);
    assertArrayEquals(new int[] {0}, w.overdue(10));
    assertArrayEquals(new int[] {0}, w.overdue(20));
    assertEquals(-1, w.exhausted());
    assertArrayEquals(new int[0], w.overdue(30));
    assertEquals(0, w.exhausted());
  }

  @Test
  void outOfOrderAcksCompleteTheTransfer() {
    SlidingWindow w = new SlidingWindow(5, 5, 10, 0);
    w.fill(0);
    for (int i : new int[] {4, 2, 0, 3}) w.ack(i);
    assertFalse(w.allAcked());
    w.ack(1);
    assertTrue(w.allAcked());
    assertArrayEquals(new int[0], w.overdue(1_000));
  }
}
