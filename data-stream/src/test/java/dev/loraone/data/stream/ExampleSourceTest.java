package dev.loraone.data.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.data.BadRecordException;
import dev.loraone.data.DataFormat;
import dev.loraone.data.Example;
import dev.loraone.data.ExampleReader;
import dev.loraone.data.OnBadRecord;
import dev.loraone.data.ReadOptions;
import dev.loraone.data.ReadResult;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.testkit.javadsl.TestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ExampleSource}: bad-record policy through the stream, the report, and closing the reader. */
class ExampleSourceTest {

    private static final String DATA = "{\"text\":\"a good one\",\"label\":\"pos\"}\n"
            + "{\"text\":\"no label here\"}\n"
            + "{\"text\":\"fine\",\"label\":\"neg\"}\n"
            + "not json\n"
            + "{\"text\":\"last\",\"label\":\"pos\"}\n";

    private static ActorSystem system;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        system = StreamFixtures.system("ExampleSourceTest");
    }

    @AfterAll
    static void stop() {
        TestKit.shutdownActorSystem(system);
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    private static String text(Example e) {
        return ((Example.Classification) e).text();
    }

    private static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void failPolicyFailsTheStreamWithFileAndLine() throws Exception {
        Path file = write("train.jsonl", DATA);
        Pair<CompletionStage<ReadReport>, TestSubscriber.Probe<Example>> run = ExampleSource
                .fromFile(file, ReadOptions.DEFAULT)
                .toMat(TestSink.create(system), Keep.both())
                .run(system);
        TestSubscriber.Probe<Example> probe = run.second();
        probe.request(10);
        assertEquals("a good one", text(probe.expectNext()));
        Throwable error = probe.expectError();
        BadRecordException bad = assertInstanceOf(BadRecordException.class, error);
        assertEquals(2, bad.location().line());
        assertTrue(bad.getMessage().startsWith(file + ":2: missing key \"label\""), bad.getMessage());
        ExecutionException reportError = assertThrows(ExecutionException.class, () -> await(run.first()));
        assertSame(bad, reportError.getCause());
    }

    @Test
    void skipPolicyCompletesAndReportsCountAndFirstMessages() throws Exception {
        Path file = write("train.jsonl", DATA);
        Pair<CompletionStage<ReadReport>, TestSubscriber.Probe<Example>> run = ExampleSource
                .fromFile(file, ReadOptions.DEFAULT.with(OnBadRecord.SKIP))
                .toMat(TestSink.create(system), Keep.both())
                .run(system);
        TestSubscriber.Probe<Example> probe = run.second();
        probe.request(10);
        assertEquals(List.of("a good one", "fine", "last"),
                List.of(text(probe.expectNext()), text(probe.expectNext()), text(probe.expectNext())));
        probe.expectComplete();
        ReadReport report = await(run.first());
        assertEquals(3, report.examples());
        assertEquals(2, report.skippedCount());
        assertTrue(report.reachedEnd());
        assertTrue(report.skippedMessages().get(0).startsWith(file + ":2: missing key \"label\""), report.summary());
        assertTrue(report.skippedMessages().get(1).startsWith(file + ":4: invalid JSON"), report.summary());
        assertTrue(report.summary().startsWith(file + ": 3 examples, 2 skipped (first: " + file + ":2:"), report.summary());
    }

    @Test
    void readAllThroughTheStreamEqualsThePlainReader() throws Exception {
        Path file = write("train.tsv", "text\tlabel\nalpha\tx\nbeta\ty\ngamma\n");
        ReadOptions skip = ReadOptions.DEFAULT.with(OnBadRecord.SKIP);
        ReadResult streamed = await(ExampleSource.readAll(file, skip, system));
        ReadResult plain = ExampleReader.readAll(file, skip);
        assertEquals(plain, streamed);
        assertEquals(1, streamed.skippedCount());
    }

    @Test
    void cancellingDownstreamClosesTheReaderAndReportsAPartialRead() throws Exception {
        AtomicBoolean closed = new AtomicBoolean();
        // Long enough that the reading stage's input buffer (16 by default) cannot reach the end.
        byte[] bytes = DATA.repeat(200).getBytes(StandardCharsets.UTF_8);
        Pair<CompletionStage<ReadReport>, TestSubscriber.Probe<Example>> run = ExampleSource
                .fromReader("mem.jsonl", () -> ExampleReader.open(new ByteArrayInputStream(bytes) {
                    @Override
                    public void close() throws IOException {
                        closed.set(true);
                        super.close();
                    }
                }, "mem.jsonl", DataFormat.JSONL, ReadOptions.DEFAULT.with(OnBadRecord.SKIP)))
                .toMat(TestSink.create(system), Keep.both())
                .run(system);
        TestSubscriber.Probe<Example> probe = run.second();
        probe.request(1);
        assertEquals("a good one", text(probe.expectNext()));
        probe.cancel();
        ReadReport report = await(run.first());
        assertFalse(report.reachedEnd());
        assertTrue(report.examples() >= 1 && report.examples() < 600, report.summary());
        StreamFixtures.eventually("reader closed after cancel", Duration.ofSeconds(5), closed::get);
    }

    @Test
    void missingFileFailsTheStreamAndTheReport() {
        Path missing = dir.resolve("absent.jsonl");
        CompletionStage<ReadReport> report = ExampleSource.fromFile(missing, ReadOptions.DEFAULT)
                .toMat(TestSink.create(system), Keep.left())
                .run(system);
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(report));
        assertInstanceOf(IOException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("absent.jsonl"), e.getCause().getMessage());
    }
}
