package dev.loraone.worker.train;

import dev.loraone.data.TokenBatch;

/**
 * One micro-batch for sequence classification: padded tokens {@code [B,L]} and class ids {@code [B]}.
 *
 * @param index the micro-batch's global index (what makes gradients addressable and sums ordered)
 */
public record ClassificationBatch(long index, TokenBatch tokens, int[] labels) {
  public ClassificationBatch {
    if (labels.length != tokens.batchSize()) {
      throw new IllegalArgumentException(labels.length + " labels for a batch of " + tokens.batchSize());
    }
  }

  public int size() {
    return labels.length;
  }
}
