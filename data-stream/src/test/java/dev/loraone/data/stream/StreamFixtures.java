package dev.loraone.data.stream;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.apache.pekko.actor.ActorSystem;

/** Test helpers: an actor system for stream tests and polling. */
final class StreamFixtures {

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
}
