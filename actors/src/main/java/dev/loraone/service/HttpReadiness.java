package dev.loraone.service;

import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * The service's readiness check beside cluster membership ({@code /ready} on the management port,
 * {@code loraone serve --discovery}): ready while its HTTP port is bound. Pekko Management makes one
 * per actor system from {@code pekko.management.health-checks.readiness-checks.loraone-http}.
 */
public final class HttpReadiness implements Supplier<CompletionStage<Boolean>> {
  /** The config key naming this check. */
  static final String KEY = "pekko.management.health-checks.readiness-checks.loraone-http";

  private static final Map<ActorSystem, Boolean> BOUND = Collections.synchronizedMap(new WeakHashMap<>());

  private final ActorSystem system;

  public HttpReadiness(ActorSystem system) {
    this.system = system;
  }

  /** The service's HTTP port is bound ({@code true}) or unbound ({@code false}). */
  static void set(ActorSystem system, boolean bound) {
    BOUND.put(system, bound);
  }

  @Override
  public CompletionStage<Boolean> get() {
    return CompletableFuture.completedFuture(BOUND.getOrDefault(system, false));
  }
}
