package dev.loraone.protocol.transport;

import java.util.Arrays;
import java.util.BitSet;

/**
 * The sender's bookkeeping for one transfer, free of actors and clocks (time is passed in): at most
 * {@code window} chunks sent and unacknowledged; a chunk unacknowledged for {@code retransmitAfter}
 * is due again; a chunk resent more than {@code maxRetransmits} times exhausts the transfer.
 *
 * <p>Acks are selective (per chunk), so one lost chunk costs one resend, not a window. The
 * receiver stores chunks at their offset, so sending out of order is fine.
 */
final class SlidingWindow {
  private final int chunkCount;
  private final int window;
  private final long retransmitAfterNanos;
  private final int maxRetransmits;
  private final long[] sentAt;
  private final int[] resends;
  private final BitSet acked;
  private int next; // first chunk never sent
  private int firstUnacked;
  private int inFlight;
  private int totalResends;
  private int exhausted = -1;

  SlidingWindow(int chunkCount, int window, long retransmitAfterNanos, int maxRetransmits) {
    if (chunkCount < 1 || window < 1 || retransmitAfterNanos <= 0 || maxRetransmits < 0) {
      throw new IllegalArgumentException("chunkCount, window >= 1, retransmitAfter > 0, maxRetransmits >= 0");
    }
    this.chunkCount = chunkCount;
    this.window = window;
    this.retransmitAfterNanos = retransmitAfterNanos;
    this.maxRetransmits = maxRetransmits;
    this.sentAt = new long[chunkCount];
    this.resends = new int[chunkCount];
    this.acked = new BitSet(chunkCount);
  }

  /** Chunks to send for the first time now, filling the window; they count as sent at {@code now}. */
  int[] fill(long now) {
    int n = Math.min(window - inFlight, chunkCount - next);
    if (n <= 0) return new int[0];
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      out[i] = next;
      sentAt[next++] = now;
    }
    inFlight += n;
    return out;
  }

  /** Records an ack; false for a duplicate or an index never sent (both harmless). */
  boolean ack(int index) {
    if (index < 0 || index >= next || acked.get(index)) return false;
    acked.set(index);
    inFlight--;
    while (firstUnacked < chunkCount && acked.get(firstUnacked)) firstUnacked++;
    return true;
  }

  /**
   * Chunks sent at least {@code retransmitAfter} ago and still unacknowledged: they count as sent
   * again at {@code now}. A chunk past its resend budget is not returned; see {@link #exhausted()}.
   */
  int[] overdue(long now) {
    int[] out = new int[Math.min(inFlight, next - firstUnacked)];
    int n = 0;
    for (int i = firstUnacked; i < next && n < out.length; i++) {
      if (acked.get(i) || now - sentAt[i] < retransmitAfterNanos) continue;
      if (resends[i] >= maxRetransmits) {
        if (exhausted < 0) exhausted = i;
        continue;
      }
      resends[i]++;
      totalResends++;
      sentAt[i] = now;
      out[n++] = i;
    }
    return Arrays.copyOf(out, n);
  }

  boolean allAcked() {
    return firstUnacked == chunkCount;
  }

  boolean anyAcked() {
    return !acked.isEmpty();
  }

  /** The first chunk that ran out of resends, or -1. */
  int exhausted() {
    return exhausted;
  }

  int inFlight() {
    return inFlight;
  }

  int totalResends() {
    return totalResends;
  }

  int chunkCount() {
    return chunkCount;
  }
}
