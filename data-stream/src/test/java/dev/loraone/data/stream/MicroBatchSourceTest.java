package dev.loraone.data.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;
import dev.loraone.data.Example;
import dev.loraone.data.LabelVocabulary;
import dev.loraone.data.MicroBatchPlan;
import dev.loraone.data.SourceLocation;
import dev.loraone.data.Split;
import dev.loraone.data.TextTokenizer;
import dev.loraone.data.WordNetSupersense;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.testkit.javadsl.TestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link MicroBatchSource} against the plain path ({@link MicroBatchPlan} + {@link TextTokenizer}
 * or {@link CausalLmEncoder}) with the real MiniLM tokenizer: the same examples and tokens element
 * by element, order kept under parallel encoding, prefetch bounded under a slow consumer.
 */
class MicroBatchSourceTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private static ActorSystem system;
    private static TextTokenizer tokenizer;
    private static ExecutorService executor;
    private static List<Example.Classification> dataset;
    private static LabelVocabulary labels;

    @BeforeAll
    static void start() {
        system = StreamFixtures.system("MicroBatchSourceTest");
        tokenizer = StreamFixtures.miniLm(16);
        executor = MicroBatchSource.newExecutor(3);
        String[] texts = {
            "the cat sat on the mat", "a dog", "stocks fell sharply in early trading on monday", "", "rain",
            "the committee approved the new budget after a long and heated debate that lasted all night",
            "hello world", "an apple a day", "quantum entanglement", "she sells sea shells by the sea shore", "ok",
            "the quick brown fox jumps over the lazy dog"};
        List<Example.Classification> list = new ArrayList<>();
        for (int i = 0; i < texts.length; i++) {
            list.add(new Example.Classification(texts[i], List.of("news", "pets", "misc").get(i % 3),
                    new SourceLocation("mem.jsonl", i + 1)));
        }
        dataset = List.copyOf(list);
        labels = LabelVocabulary.fromExamples(dataset);
    }

    @AfterAll
    static void stop() {
        TestKit.shutdownActorSystem(system);
        executor.shutdownNow();
        tokenizer.close();
    }

    /** 12 examples in micro-batches of 5: 3 per epoch, the last one short (12 = 5 + 5 + 2). */
    private static MicroBatchSource<Example.Classification, LabelledTokenBatch> source(Prefetch prefetch) {
        return MicroBatchSource.classification(dataset, new MicroBatchPlan(dataset.size(), 5, 42), tokenizer, labels,
                executor, prefetch);
    }

    /** The oracle: the plain data layer, no stream and no executor. */
    private static MicroBatch<LabelledTokenBatch> expected(List<Example.Classification> data, LabelVocabulary vocabulary,
            TextTokenizer tok, MicroBatchPlan plan, long g) {
        int perEpoch = plan.microBatchesPerEpoch();
        int[] rows = plan.microBatch(g);
        List<String> texts = new ArrayList<>();
        int[] ids = new int[rows.length];
        for (int r = 0; r < rows.length; r++) {
            texts.add(data.get(rows[r]).text());
            ids[r] = vocabulary.id(data.get(rows[r]).label());
        }
        return new MicroBatch<>(g, g / perEpoch, (int) (g % perEpoch), rows, new LabelledTokenBatch(tok.encode(texts), ids));
    }

    private static MicroBatch<LabelledTokenBatch> expected(MicroBatchPlan plan, long g) {
        return expected(dataset, labels, tokenizer, plan, g);
    }

    /** Runs a finite source into a TestSink and expects exactly {@code n} elements, then completion. */
    private static <T> List<T> collect(Source<T, NotUsed> source, int n) {
        TestSubscriber.Probe<T> probe = source.runWith(TestSink.create(system), system);
        probe.request(n + 1);
        List<T> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(probe.expectNext(WAIT));
        }
        probe.expectComplete();
        return out;
    }

    private static List<Integer> sortedExamples(List<? extends MicroBatch<?>> batches) {
        List<Integer> all = new ArrayList<>();
        for (MicroBatch<?> m : batches) {
            for (int i : m.exampleIndices()) {
                all.add(i);
            }
        }
        Collections.sort(all);
        return all;
    }

    @Test
    void rangeAcrossEpochBoundariesEqualsPlanPlusTokenizerElementByElement() {
        MicroBatchSource<Example.Classification, LabelledTokenBatch> source = source(new Prefetch(3, 4));
        MicroBatchPlan plan = source.plan();
        // Global indices 2..8: the last of epoch 0, all of epoch 1, two of epoch 2.
        List<MicroBatch<LabelledTokenBatch>> streamed = collect(source.range(2, 7), 7);
        for (int k = 0; k < streamed.size(); k++) {
            long g = 2 + k;
            MicroBatch<LabelledTokenBatch> want = expected(plan, g);
            MicroBatch<LabelledTokenBatch> got = streamed.get(k);
            assertEquals(g, got.globalIndex());
            assertEquals(g / 3, got.epoch());
            assertEquals(g % 3, got.index());
            assertArrayEquals(plan.microBatch(g), got.exampleIndices(), "examples of " + g);
            assertArrayEquals(want.batch().tokens().inputIds(), got.batch().tokens().inputIds(), "tokens of " + g);
            assertArrayEquals(want.batch().tokens().attentionMask(), got.batch().tokens().attentionMask(), "mask of " + g);
            assertArrayEquals(want.batch().labels(), got.batch().labels(), "labels of " + g);
            assertEquals(want, got);
            assertEquals(StreamFixtures.CLS, got.batch().tokens().inputIds(0)[0]);
        }
        assertEquals(2, streamed.get(0).size());
        // Epoch 1 covers every example once, in another order than epoch 0.
        assertEquals(IntStream.range(0, 12).boxed().toList(), sortedExamples(streamed.subList(1, 4)));
        assertNotEquals(IntStream.of(plan.permutation(0)).boxed().toList(), IntStream.of(plan.permutation(1)).boxed().toList());
        List<Integer> epoch1Order = new ArrayList<>();
        streamed.subList(1, 4).forEach(m -> IntStream.of(m.exampleIndices()).forEach(epoch1Order::add));
        assertEquals(IntStream.of(plan.permutation(1)).boxed().toList(), epoch1Order);
        // The long text is cut at the tokenizer's max length, 16.
        assertTrue(streamed.stream().anyMatch(m -> m.batch().tokens().sequenceLength() == 16));
    }

    @Test
    void anyMicroBatchIsTheSameFromTheFunctionASingleStreamAndARange() throws Exception {
        MicroBatchSource<Example.Classification, LabelledTokenBatch> source = source(Prefetch.DEFAULT);
        for (long g : new long[] {0, 4, 7, 30}) {
            MicroBatch<LabelledTokenBatch> direct = source.microBatch(g);
            assertEquals(expected(source.plan(), g), direct);
            assertEquals(List.of(direct), collect(source.single(g), 1));
        }
        assertEquals(collect(source.range(3, 3), 3),
                source.epoch(1).runWith(Sink.seq(), system).toCompletableFuture().get(10, TimeUnit.SECONDS));
        assertThrows(IllegalArgumentException.class, () -> source.microBatch(-1));
        assertThrows(IllegalArgumentException.class, () -> source.range(-1, 2));
    }

    @Test
    void orderIsKeptWhenEncodingFinishesOutOfOrder() throws Exception {
        // Every other task waits 100 ms before it runs, so with parallelism 4 later indices finish first.
        ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(4);
        try {
            AtomicInteger submitted = new AtomicInteger();
            List<Integer> finished = Collections.synchronizedList(new ArrayList<>());
            MicroBatchSource<Example.Classification, LabelledTokenBatch> plain = source(Prefetch.DEFAULT);
            MicroBatchSource<Example.Classification, LabelledTokenBatch> jittery = new MicroBatchSource<>(dataset,
                    plain.plan(), MicroBatchEncoder.classification(tokenizer, labels), command -> {
                        int n = submitted.getAndIncrement();
                        scheduler.schedule(() -> {
                            command.run();
                            finished.add(n);
                        }, n % 2 == 0 ? 100 : 0, TimeUnit.MILLISECONDS);
                    }, new Prefetch(4, 2));
            List<MicroBatch<LabelledTokenBatch>> streamed = collect(jittery.range(0, 12), 12);
            for (int k = 0; k < 12; k++) {
                assertEquals(plain.microBatch(k), streamed.get(k), "micro-batch " + k);
            }
            List<Integer> inOrder = IntStream.range(0, 12).boxed().toList();
            StreamFixtures.eventually("all tasks recorded", WAIT, () -> finished.size() == 12);
            assertNotEquals(inOrder, finished, "encoding should have finished out of order");
            assertEquals(inOrder, sortedFinished(finished));
        } finally {
            scheduler.shutdownNow();
        }
    }

    private static List<Integer> sortedFinished(List<Integer> finished) {
        List<Integer> copy = new ArrayList<>(finished);
        Collections.sort(copy);
        return copy;
    }

    @Test
    void slowConsumerPullsAtMostBufferPlusParallelismAhead() throws Exception {
        Prefetch prefetch = new Prefetch(2, 3);
        MicroBatchSource<Example.Classification, LabelledTokenBatch> source = source(prefetch);
        AtomicLong pulled = new AtomicLong();
        Source<Long, NotUsed> endless = Source.<Long>fromIterator(() -> LongStream.iterate(0, g -> g + 1).iterator())
                .map(g -> {
                    pulled.incrementAndGet();
                    return g;
                });
        TestSubscriber.Probe<MicroBatch<LabelledTokenBatch>> probe =
                endless.via(source.flow()).runWith(TestSink.create(system), system);
        probe.request(1);
        assertEquals(0, probe.expectNext(WAIT).globalIndex());
        // The delivered one, plus bufferSize finished and parallelism in flight: then back-pressure.
        long bound = 1 + prefetch.maxAhead();
        StreamFixtures.eventually("prefetch to fill", WAIT, () -> pulled.get() >= bound);
        probe.expectNoMessage(Duration.ofMillis(300));
        assertEquals(bound, pulled.get());
        probe.request(2);
        assertEquals(1, probe.expectNext(WAIT).globalIndex());
        assertEquals(2, probe.expectNext(WAIT).globalIndex());
        StreamFixtures.eventually("prefetch to refill", WAIT, () -> pulled.get() >= bound + 2);
        probe.expectNoMessage(Duration.ofMillis(300));
        assertEquals(bound + 2, pulled.get());
        probe.cancel();
    }

    @Test
    void causalLmRangeEqualsTheEncoderOnThePlansExamples() {
        List<Example.Generation> pairs = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            pairs.add(new Example.Generation("question " + i + ": what is " + i + " plus one?", "it is " + (i + 1),
                    new SourceLocation("qa.jsonl", i + 1)));
        }
        CausalLmEncoder encoder = new CausalLmEncoder(tokenizer, OptionalLong.of(StreamFixtures.CLS),
                OptionalLong.of(StreamFixtures.SEP));
        MicroBatchPlan plan = new MicroBatchPlan(pairs.size(), 3, 5);
        MicroBatchSource<Example.Generation, CausalLmBatch> source =
                MicroBatchSource.causalLm(pairs, plan, encoder, executor, new Prefetch(2, 2));
        // 7 examples in micro-batches of 3: 3 per epoch; indices 1..5 span epochs 0 and 1.
        List<MicroBatch<CausalLmBatch>> streamed = collect(source.range(1, 5), 5);
        for (int k = 0; k < streamed.size(); k++) {
            long g = 1 + k;
            int[] rows = plan.microBatch(g);
            List<Example.Generation> examples = IntStream.of(rows).mapToObj(pairs::get).toList();
            MicroBatch<CausalLmBatch> got = streamed.get(k);
            assertArrayEquals(rows, got.exampleIndices());
            assertEquals(encoder.encodeExamples(examples), got.batch(), "micro-batch " + g);
            assertTrue(got.batch().labelledTokens() > 0);
        }
        assertEquals(1, streamed.get(1).size(), "7 = 3 + 3 + 1");
    }

    @Test
    void anEncodingErrorFailsTheStreamNamingTheRecord() {
        LabelVocabulary partial = LabelVocabulary.of(List.of("news", "pets"));
        MicroBatchSource<Example.Classification, LabelledTokenBatch> source = MicroBatchSource.classification(dataset,
                new MicroBatchPlan(dataset.size(), 5, 42), tokenizer, partial, executor, Prefetch.DEFAULT);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> source.range(0, 3).runWith(Sink.seq(), system).toCompletableFuture().get(10, TimeUnit.SECONDS));
        IllegalArgumentException cause = assertInstanceOf(IllegalArgumentException.class, e.getCause());
        assertTrue(cause.getMessage().matches("mem\\.jsonl:\\d+: unknown label \"misc\".*"), cause.getMessage());
    }

    @Test
    void wordNetSupersensesStreamOneEpochEndToEnd() throws Exception {
        WordNetSupersense nouns = WordNetSupersense.load(WordNetSupersense.Inventory.NOUNS);
        List<Example.Classification> sample = nouns.balancedExamples(Split.TRAIN, 4, 11);
        assertEquals(26 * 4, sample.size());
        try (TextTokenizer tok = StreamFixtures.miniLm(32)) {
            MicroBatchPlan plan = new MicroBatchPlan(sample.size(), 16, 11);
            MicroBatchSource<Example.Classification, LabelledTokenBatch> source = MicroBatchSource.classification(
                    sample, plan, tok, nouns.classes(), executor, new Prefetch(2, 4));
            List<MicroBatch<LabelledTokenBatch>> epoch = collect(source.epoch(0), plan.microBatchesPerEpoch());
            assertEquals(7, epoch.size(), "104 examples in micro-batches of 16");
            assertEquals(IntStream.range(0, sample.size()).boxed().toList(), sortedExamples(epoch));
            for (MicroBatch<LabelledTokenBatch> m : epoch) {
                assertEquals(expected(sample, nouns.classes(), tok, plan, m.globalIndex()), m);
                for (int r = 0; r < m.size(); r++) {
                    assertEquals(nouns.classes().id(sample.get(m.exampleIndices()[r])), m.batch().labels()[r]);
                }
            }
            // Padding to the longest row, capped at 32 tokens: long glosses are cut.
            assertTrue(epoch.stream().allMatch(m -> m.batch().tokens().sequenceLength() <= 32));
            assertTrue(epoch.stream().anyMatch(m -> m.batch().tokens().sequenceLength() == 32));
        }
    }
}
