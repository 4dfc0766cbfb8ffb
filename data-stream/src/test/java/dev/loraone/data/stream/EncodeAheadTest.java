package dev.loraone.data.stream;

import static dev.loraone.data.stream.StreamFixtures.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.testkit.javadsl.TestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link EncodeAhead} with integer units, encoded on a pool of two threads and computed on one, a
 * latch holding a compute where a test needs a slow step: order, the prefetch bound, failures
 * confined to their unit, capacity and completion.
 */
class EncodeAheadTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private static ActorSystem system;
    private static Materializer materializer;

    private final ExecutorService encoders = Executors.newFixedThreadPool(2);
    private final ExecutorService computer = Executors.newSingleThreadExecutor();

    @BeforeAll
    static void start() {
        system = StreamFixtures.system("EncodeAheadTest");
        materializer = Materializer.matFromSystem(system);
    }

    @AfterAll
    static void stop() {
        TestKit.shutdownActorSystem(system);
    }

    @AfterEach
    void shutdown() {
        encoders.shutdownNow();
        computer.shutdownNow();
    }

    /** Encodes u as "e" + u and computes "r" + u from it; unit {@code held} computes only once released. */
    private final class Recorder implements EncodeAhead.Stages<Integer, String, String> {
        final Set<Integer> encoded = ConcurrentHashMap.newKeySet();
        final Set<Integer> computing = ConcurrentHashMap.newKeySet();
        final List<String> finished = Collections.synchronizedList(new ArrayList<>());
        final List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch release = new CountDownLatch(1);
        int held = -1;
        Set<Integer> failEncode = Set.of();
        Set<Integer> failCompute = Set.of();
        int throwsOnCall = -1;

        @Override
        public CompletionStage<String> encode(Integer u) {
            if (u == throwsOnCall) {
                throw new IllegalStateException("encode " + u + " refused");
            }
            return CompletableFuture.supplyAsync(() -> {
                sleep(u % 3 == 0 ? 30 : 1); // later units often finish first
                encoded.add(u);
                if (failEncode.contains(u)) {
                    throw new IllegalArgumentException("encode " + u);
                }
                return "e" + u;
            }, encoders);
        }

        @Override
        public CompletionStage<String> compute(Integer u, String in) {
            return CompletableFuture.supplyAsync(() -> {
                computing.add(u);
                if (u == held) {
                    await(release);
                }
                if (failCompute.contains(u)) {
                    throw new IllegalArgumentException("compute " + u);
                }
                assertEquals("e" + u, in, "each unit computes its own encoding");
                return "r" + u;
            }, computer);
        }

        @Override
        public void finished(Integer u, String result, Throwable failure) {
            finished.add(u + ":" + (failure == null ? result : failure.getMessage()));
            if (failure != null) {
                failures.add(failure);
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static List<String> results(int n) {
        return IntStream.range(0, n).mapToObj(u -> u + ":r" + u).toList();
    }

    private static void offerAll(EncodeAhead<Integer, String, String> stream, int from, int to) {
        for (int u = from; u < to; u++) {
            assertTrue(stream.offer(u), "unit " + u + " accepted");
        }
    }

    private static void awaitDone(EncodeAhead<Integer, String, String> stream) throws Exception {
        stream.complete();
        stream.done().toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    @Test
    void unitsFinishInOfferOrderEachWithItsOwnEncodingWhicheverEncodesFirst() throws Exception {
        Recorder r = new Recorder();
        EncodeAhead<Integer, String, String> stream = EncodeAhead.start(new Prefetch(4, 2), 64, r, materializer);
        offerAll(stream, 0, 20);
        awaitDone(stream);
        assertEquals(results(20), r.finished);
    }

    @Test
    void encodingRunsAheadOfABlockedComputeByAtMostAheadUnits() throws Exception {
        Recorder r = new Recorder();
        r.held = 0;
        EncodeAhead<Integer, String, String> stream = EncodeAhead.start(new Prefetch(3, 2), 64, r, materializer);
        offerAll(stream, 0, 10);
        eventually("units 1..3 encoded while unit 0 computes", WAIT, () -> r.encoded.size() == 4);
        Thread.sleep(300);
        assertEquals(Set.of(0, 1, 2, 3), r.encoded, "back-pressure: nothing further is encoded");
        assertEquals(Set.of(0), r.computing);
        r.release.countDown();
        awaitDone(stream);
        assertEquals(results(10), r.finished);
    }

    @Test
    void offEncodesAUnitOnlyOnceThePreviousOneHasComputed() throws Exception {
        Recorder r = new Recorder();
        r.held = 0;
        EncodeAhead<Integer, String, String> stream = EncodeAhead.start(Prefetch.OFF, 64, r, materializer);
        offerAll(stream, 0, 5);
        eventually("unit 0 computing", WAIT, () -> r.computing.contains(0));
        Thread.sleep(300);
        assertEquals(Set.of(0), r.encoded);
        r.release.countDown();
        awaitDone(stream);
        assertEquals(results(5), r.finished);
    }

    @Test
    void aFailedEncodeOrComputeFailsOnlyItsOwnUnit() throws Exception {
        Recorder r = new Recorder();
        r.failEncode = Set.of(2);
        r.failCompute = Set.of(4);
        r.throwsOnCall = 6;
        EncodeAhead<Integer, String, String> stream = EncodeAhead.start(new Prefetch(2, 1), 64, r, materializer);
        offerAll(stream, 0, 8);
        awaitDone(stream);
        assertEquals(List.of("0:r0", "1:r1", "2:encode 2", "3:r3", "4:compute 4", "5:r5", "6:encode 6 refused", "7:r7"),
                r.finished);
        assertFalse(r.computing.contains(2), "a unit whose encoding failed is not computed");
        r.failures.forEach(f -> assertInstanceOf(RuntimeException.class, f, "the stage's own exception, unwrapped"));
        r.failures.forEach(f -> assertNull(f.getCause()));
    }

    @Test
    void offersBeyondCapacityOrAfterCompleteAreRefusedAndTheAcceptedUnitsStillFinish() throws Exception {
        Recorder r = new Recorder();
        r.held = 0;
        EncodeAhead<Integer, String, String> stream = EncodeAhead.start(new Prefetch(1, 1), 2, r, materializer);
        offerAll(stream, 0, 1);
        eventually("unit 0 computing", WAIT, () -> r.computing.contains(0));
        offerAll(stream, 1, 2);
        eventually("unit 1 encoded ahead", WAIT, () -> r.encoded.contains(1));
        offerAll(stream, 2, 4); // the queue's two places
        assertFalse(stream.offer(4), "the queue is full");
        stream.complete();
        assertFalse(stream.offer(5), "the stream takes no unit after complete");
        r.release.countDown();
        stream.done().toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(results(4), r.finished);
    }
}
