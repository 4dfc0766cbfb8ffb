package dev.loraone.data.stream;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Units of work encoded ahead of their compute, in one bounded, back-pressured stream.
 *
 * <pre>
 *   offer(u) -&gt; queue (capacity) -&gt; mapAsync(parallelism) encode -&gt; buffer(ahead - parallelism)
 *            -&gt; mapAsync(1) compute -&gt; finished(u, result | failure), in offer order
 * </pre>
 *
 * <p>Role: the worker's data feed. Encoding (tokenisation, batch arrays) is CPU work that needs no
 * accelerator, compute is the one-at-a-time DJL step; run as two stages on their own executors,
 * encoding of unit g+1 overlaps compute of unit g. {@link Prefetch} bounds how far encoding runs
 * ahead, so a long backlog of offered units never holds more than {@code ahead} encoded ones;
 * {@link Prefetch#OFF} fuses both stages (encode, then compute, one unit at a time). The queue
 * holds the backlog; an offer beyond its capacity is refused.
 *
 * <p>A failed encode or compute fails only its unit: {@link Stages#finished} gets the failure and
 * the stream goes on (a failed encode is not computed). Units run in offer order and each is
 * finished exactly once, also after {@link #complete()}, which ends the stream once the units
 * already offered are finished ({@link #done()}). Thread-safe.
 *
 * @param <U> the unit of work
 * @param <E> its encoded input
 * @param <R> its result
 */
public final class EncodeAhead<U, E, R> {

    /** What the stream runs for each unit. The stages start work on their own executors and return at once. */
    public interface Stages<U, E, R> {

        /** Starts encoding {@code unit}; the stage may complete with null. */
        CompletionStage<E> encode(U unit);

        /** Starts the compute of an encoded unit. */
        CompletionStage<R> compute(U unit, E encoded);

        /**
         * The outcome of {@code unit}: its result, or the failure of its encode or compute (null
         * when it succeeded). Called once per accepted unit, in offer order, on a stream thread;
         * must not throw.
         */
        void finished(U unit, R result, Throwable failure);
    }

    private record Encoded<U, E>(U unit, E encoded, Throwable failure) {}

    private record Outcome<U, R>(U unit, R result, Throwable failure) {}

    private final BoundedSourceQueue<U> queue;
    private final CompletionStage<Done> done;

    private EncodeAhead(BoundedSourceQueue<U> queue, CompletionStage<Done> done) {
        this.queue = queue;
        this.done = done;
    }

    /**
     * Materialises the stream.
     *
     * @param capacity offered units waiting to be encoded, >= 1
     */
    public static <U, E, R> EncodeAhead<U, E, R> start(Prefetch prefetch, int capacity, Stages<U, E, R> stages,
            Materializer materializer) {
        Objects.requireNonNull(prefetch, "prefetch");
        Objects.requireNonNull(stages, "stages");
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        Source<Outcome<U, R>, BoundedSourceQueue<U>> units;
        if (prefetch.off()) {
            units = Source.<U>queue(capacity).mapAsync(1, u -> encode(stages, u).thenCompose(e -> compute(stages, e)));
        } else {
            Source<Encoded<U, E>, BoundedSourceQueue<U>> encoded =
                    Source.<U>queue(capacity).mapAsync(prefetch.parallelism(), u -> encode(stages, u));
            int waiting = prefetch.ahead() - prefetch.parallelism();
            if (waiting > 0) {
                encoded = encoded.buffer(waiting, OverflowStrategy.backpressure());
            }
            units = encoded.mapAsync(1, e -> compute(stages, e));
        }
        Pair<BoundedSourceQueue<U>, CompletionStage<Done>> run = units
                .toMat(Sink.foreach(o -> stages.finished(o.unit(), o.result(), o.failure())), Keep.both())
                .run(materializer);
        return new EncodeAhead<>(run.first(), run.second());
    }

    /** Queues {@code unit}; false when the queue is full or {@link #complete()} was called (the unit will not run). */
    public boolean offer(U unit) {
        return queue.offer(Objects.requireNonNull(unit, "unit")).isEnqueued();
    }

    /** Takes no further unit; the stream ends once the units already offered are finished. */
    public void complete() {
        queue.complete();
    }

    /** Completes when the stream has ended: after {@link #complete()}, every accepted unit finished. */
    public CompletionStage<Done> done() {
        return done;
    }

    private static <U, E, R> CompletionStage<Encoded<U, E>> encode(Stages<U, E, R> stages, U unit) {
        return attempt(() -> stages.encode(unit)).handle((e, failure) -> new Encoded<>(unit, e, unwrap(failure)));
    }

    private static <U, E, R> CompletionStage<Outcome<U, R>> compute(Stages<U, E, R> stages, Encoded<U, E> in) {
        if (in.failure() != null) {
            return CompletableFuture.completedFuture(new Outcome<>(in.unit(), null, in.failure()));
        }
        return attempt(() -> stages.compute(in.unit(), in.encoded()))
                .handle((r, failure) -> new Outcome<>(in.unit(), r, unwrap(failure)));
    }

    /** The stage {@code start} returns, or a failed one when it throws instead. */
    private static <T> CompletionStage<T> attempt(Supplier<CompletionStage<T>> start) {
        try {
            return Objects.requireNonNull(start.get(), "a stage returned no CompletionStage");
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static Throwable unwrap(Throwable t) {
        return t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    }
}
