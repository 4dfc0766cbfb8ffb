package dev.loraone.data.stream;

import com.typesafe.config.ConfigFactory;
import dev.loraone.data.TextTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.ActorSystem;

/** Test helpers: an actor system for stream tests and the real MiniLM {@code tokenizer.json}. */
final class StreamFixtures {

    static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    static final long CLS = 101;
    static final long SEP = 102;

    private StreamFixtures() {}

    /**
     * An actor system for stream tests. pekko-stream-testkit is pinned to 1.2.1 (the newest Maven
     * Central serves) while the rest of Pekko is 1.7.0, so the mixed-version check is off here.
     */
    static ActorSystem system(String name) {
        return ActorSystem.create(name, ConfigFactory.parseString("pekko.fail-mixed-versions = off\n"
                        + "pekko.loglevel = WARNING\n")
                .withFallback(ConfigFactory.load()));
    }

    /** Polls {@code condition} every 10 ms until it holds; fails with {@code what} after {@code timeout}. */
    static void eventually(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for: " + what);
            }
            Thread.sleep(10);
        }
    }

    static TextTokenizer miniLm(int maxLength) {
        try (InputStream in = StreamFixtures.class.getClassLoader().getResourceAsStream(TOKENIZER_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(TOKENIZER_RESOURCE + " not on the test classpath");
            }
            return TextTokenizer.fromJson(in, maxLength);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
