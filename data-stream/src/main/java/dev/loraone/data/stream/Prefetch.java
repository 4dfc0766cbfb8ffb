package dev.loraone.data.stream;

/**
 * How far an {@link EncodeAhead} stream encodes ahead of its compute.
 *
 * <p>Role: encoding overlaps with compute, but memory stays bounded. While one unit computes, at
 * most {@code ahead} later units are being encoded or wait encoded, {@code parallelism} of them
 * encoded at once (order is kept regardless of which finishes first); beyond that the stream
 * back-pressures and takes no further unit. {@code ahead = 0} turns prefetch off: a unit is
 * encoded only once the previous one has computed, right before its own compute.
 *
 * @param ahead units encoded ahead of the one computing, >= 0 (0: off)
 * @param parallelism units encoded at once, 1 <= parallelism <= max(ahead, 1)
 */
public record Prefetch(int ahead, int parallelism) {

    /** No encoding ahead: encode, compute, encode, compute. */
    public static final Prefetch OFF = new Prefetch(0, 1);

    public Prefetch {
        if (ahead < 0) {
            throw new IllegalArgumentException("ahead must be >= 0, got " + ahead);
        }
        if (parallelism < 1 || parallelism > Math.max(ahead, 1)) {
            throw new IllegalArgumentException("parallelism must be in [1, max(ahead, 1) = " + Math.max(ahead, 1)
                    + "], got " + parallelism);
        }
    }

    public boolean off() {
        return ahead == 0;
    }
}
