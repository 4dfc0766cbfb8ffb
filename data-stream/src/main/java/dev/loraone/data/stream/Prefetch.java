package dev.loraone.data.stream;

/**
 * How far a {@link MicroBatchSource} stream runs ahead of its consumer.
 *
 * <p>Role: tokenisation overlaps with training, but memory stays bounded. At most
 * {@code parallelism} micro-batches are being encoded at once (order is kept regardless of which
 * finishes first), and at most {@code bufferSize} finished ones wait for a slow consumer; beyond
 * that the stream back-pressures and reads no further indices. So a stream holds at most
 * {@code parallelism + bufferSize} micro-batches besides those already delivered.
 *
 * @param parallelism micro-batches encoded concurrently, >= 1
 * @param bufferSize finished micro-batches kept ready, >= 0 (0: no buffer stage)
 */
public record Prefetch(int parallelism, int bufferSize) {

    /** Two encoders busy and eight micro-batches ready: enough to hide tokenisation behind a step. */
    public static final Prefetch DEFAULT = new Prefetch(2, 8);

    public Prefetch {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be >= 1, got " + parallelism);
        }
        if (bufferSize < 0) {
            throw new IllegalArgumentException("bufferSize must be >= 0, got " + bufferSize);
        }
    }

    /** The most micro-batches in flight or waiting: {@code parallelism + bufferSize}. */
    public int maxAhead() {
        return parallelism + bufferSize;
    }
}
