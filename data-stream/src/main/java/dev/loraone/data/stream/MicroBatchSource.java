package dev.loraone.data.stream;

import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;
import dev.loraone.data.Example;
import dev.loraone.data.LabelVocabulary;
import dev.loraone.data.MicroBatchPlan;
import dev.loraone.data.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.Supervision;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Streams of tokenised micro-batches addressed by global index, over an in-memory dataset.
 *
 * <p>Role: the data feed of a worker. The coordinator hands out micro-batch indices, never data;
 * this class turns indices into batches, the same on every worker:
 *
 * <pre>
 *   global index g -> (epoch, index) = (g / perEpoch, g % perEpoch)      MicroBatchPlan
 *                  -> example indices = slice of epoch's permutation     DeterministicShuffle
 *                  -> examples -> encoded batch                          MicroBatchEncoder
 * </pre>
 *
 * {@link #microBatch(long)} is that function, synchronous and pure; {@link #flow()} runs it for a
 * stream of indices with {@code mapAsync(parallelism)} on a dedicated {@link Executor} (tokenisation
 * is CPU-bound native work that must not run on Pekko's dispatcher), keeps index order whatever
 * finishes first, and prefetches into a bounded back-pressured buffer ({@link Prefetch}), so a slow
 * consumer never makes memory grow. {@link #range} covers consecutive indices, possibly spanning
 * epochs; {@link #single} is the one-element stream of any index. Supervision is pinned to "stop":
 * a micro-batch that fails to encode fails the stream rather than silently going missing.
 *
 * <p>Immutable and thread-safe; the streams may be materialised any number of times. The executor
 * belongs to the caller ({@link #newExecutor} makes a suitable one).
 *
 * @param <E> the example kind
 * @param <B> the encoded batch
 */
public final class MicroBatchSource<E extends Example, B> {

    private final List<E> dataset;
    private final MicroBatchPlan plan;
    private final MicroBatchEncoder<E, B> encoder;
    private final Executor executor;
    private final Prefetch prefetch;
    private final Flow<Long, MicroBatch<B>, NotUsed> flow;

    /**
     * @param dataset the examples, in the order the plan's indices refer to
     * @param plan the addressing; its dataset size must equal {@code dataset.size()}
     * @param encoder turns a micro-batch's examples into its batch; called concurrently
     * @param executor runs the encoder
     * @param prefetch parallelism and buffer
     */
    public MicroBatchSource(List<E> dataset, MicroBatchPlan plan, MicroBatchEncoder<E, B> encoder, Executor executor,
            Prefetch prefetch) {
        this.dataset = List.copyOf(dataset);
        this.plan = Objects.requireNonNull(plan, "plan");
        this.encoder = Objects.requireNonNull(encoder, "encoder");
        this.executor = Objects.requireNonNull(executor, "executor");
        this.prefetch = Objects.requireNonNull(prefetch, "prefetch");
        if (plan.datasetSize() != this.dataset.size()) {
            throw new IllegalArgumentException("plan is for " + plan.datasetSize() + " examples but the dataset has "
                    + this.dataset.size());
        }
        Flow<Long, MicroBatch<B>, NotUsed> f = Flow.<Long>create().mapAsync(prefetch.parallelism(), this::encodeAsync);
        if (prefetch.bufferSize() > 0) {
            f = f.buffer(prefetch.bufferSize(), OverflowStrategy.backpressure());
        }
        this.flow = f.named("microBatches")
                .addAttributes(ActorAttributes.withSupervisionStrategy(Supervision.getStoppingDecider()));
    }

    /** Classification: texts tokenised by {@code tokenizer}, labels by {@code labels}. */
    public static MicroBatchSource<Example.Classification, LabelledTokenBatch> classification(
            List<Example.Classification> dataset, MicroBatchPlan plan, TextTokenizer tokenizer, LabelVocabulary labels,
            Executor executor, Prefetch prefetch) {
        return new MicroBatchSource<>(dataset, plan, MicroBatchEncoder.classification(tokenizer, labels), executor, prefetch);
    }

    /** Causal-LM fine-tuning: prompt/completion pairs encoded by {@code encoder}. */
    public static MicroBatchSource<Example.Generation, CausalLmBatch> causalLm(
            List<Example.Generation> dataset, MicroBatchPlan plan, CausalLmEncoder encoder, Executor executor,
            Prefetch prefetch) {
        return new MicroBatchSource<>(dataset, plan, MicroBatchEncoder.causalLm(encoder), executor, prefetch);
    }

    /**
     * A fixed pool of daemon threads named {@code loraone-encode-N} for the encoder; the caller
     * shuts it down.
     */
    public static ExecutorService newExecutor(int threads) {
        AtomicInteger n = new AtomicInteger();
        return Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "loraone-encode-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** The addressing in use. */
    public MicroBatchPlan plan() {
        return plan;
    }

    /** The prefetch settings in use. */
    public Prefetch prefetch() {
        return prefetch;
    }

    /**
     * The micro-batch with a global index, computed on the calling thread: the function every
     * stream of this source runs, so any worker can materialise any micro-batch.
     *
     * @throws IllegalArgumentException if {@code globalIndex < 0}
     */
    public MicroBatch<B> microBatch(long globalIndex) {
        if (globalIndex < 0) {
            throw new IllegalArgumentException("global micro-batch index must be >= 0, got " + globalIndex);
        }
        int perEpoch = plan.microBatchesPerEpoch();
        long epoch = globalIndex / perEpoch;
        int index = (int) (globalIndex % perEpoch);
        int[] rows = plan.microBatch(epoch, index);
        List<E> examples = new ArrayList<>(rows.length);
        for (int row : rows) {
            examples.add(dataset.get(row));
        }
        return new MicroBatch<>(globalIndex, epoch, index, rows, encoder.encode(examples));
    }

    /**
     * Global indices in, micro-batches out, in the same order: encoding runs on the executor,
     * {@link Prefetch#parallelism()} at a time, with {@link Prefetch#bufferSize()} finished ones
     * kept ready. Suits indices that arrive one by one from the coordinator.
     */
    public Flow<Long, MicroBatch<B>, NotUsed> flow() {
        return flow;
    }

    /**
     * The micro-batches with global indices {@code first .. first+count-1}, in index order;
     * the range may span epochs.
     */
    public Source<MicroBatch<B>, NotUsed> range(long first, long count) {
        if (first < 0 || count < 0) {
            throw new IllegalArgumentException("need first >= 0 and count >= 0, got first " + first + ", count " + count);
        }
        long end = Math.addExact(first, count);
        return Source.<Long>fromIterator(() -> LongStream.range(first, end).iterator()).via(flow);
    }

    /** The micro-batches of one whole epoch. */
    public Source<MicroBatch<B>, NotUsed> epoch(long epoch) {
        int perEpoch = plan.microBatchesPerEpoch();
        return range(Math.multiplyExact(epoch, (long) perEpoch), perEpoch);
    }

    /** The one-element stream of a micro-batch: the streamed path for one index. */
    public Source<MicroBatch<B>, NotUsed> single(long globalIndex) {
        return range(globalIndex, 1);
    }

    /** Runs {@link #microBatch(long)} on the executor; the future fails with the encoder's own exception. */
    private CompletionStage<MicroBatch<B>> encodeAsync(long globalIndex) {
        CompletableFuture<MicroBatch<B>> result = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    result.complete(microBatch(globalIndex));
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            });
        } catch (RuntimeException rejected) {
            result.completeExceptionally(rejected);
        }
        return result;
    }
}
