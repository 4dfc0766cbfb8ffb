package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.management.HealthCheckSettings;
import org.apache.pekko.management.javadsl.HealthChecks;
import org.junit.jupiter.api.Test;

class HttpReadinessTest {
  @Test
  void pekkoManagementLoadsTheCheckAndItIsReadyOnlyWhileTheHttpPortIsBound() throws Exception {
    Config config = ConfigFactory.parseMap(java.util.Map.of(
            HttpReadiness.KEY, HttpReadiness.class.getName(),
            // this test's actor system is no cluster member: only the HTTP check counts here
            "pekko.management.health-checks.readiness-checks.cluster-membership", "",
            "pekko.actor.provider", "local"))
        .withFallback(ConfigFactory.load());
    ActorSystem system = ActorSystem.create("readiness", config);
    try {
      HealthChecks checks = new HealthChecks((ExtendedActorSystem) system,
          HealthCheckSettings.create(config.getConfig("pekko.management.health-checks")));
      // with no check loaded, ready() would hold from the start
      assertFalse(checks.ready().toCompletableFuture().get(5, TimeUnit.SECONDS), "before the bind");
      HttpReadiness.set(system, true);
      assertTrue(checks.ready().toCompletableFuture().get(5, TimeUnit.SECONDS), "bound");
      HttpReadiness.set(system, false);
      assertFalse(checks.ready().toCompletableFuture().get(5, TimeUnit.SECONDS), "unbound at shutdown");
    } finally {
      system.terminate();
    }
  }
}
