package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.wire.NodeMessage;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The scheduler's placement, order and explanations, on made-up nodes (no cluster). */
class SchedulerTest {
  static final ActorTestKit KIT = ActorTestKit.create();
  static final long MIB = 1L << 20;

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  static NodeMessage.Capacity node(String name, int devices, long mib) {
    ActorRef<NodeMessage> agent = KIT.<NodeMessage>createTestProbe().ref();
    List<String> ids = java.util.stream.IntStream.range(0, devices).mapToObj(i -> name + "-" + i).toList();
    return new NodeMessage.Capacity(agent, name, ids, java.util.Collections.nCopies(devices, "cpu"), mib * MIB);
  }

  static Scheduler.Queued job(String id, int priority, long seq, long mib) {
    return new Scheduler.Queued(id, priority, seq, mib * MIB, 1);
  }

  static String started(Optional<Map.Entry<Scheduler.Queued, List<String>>> next) {
    return next.map(e -> e.getKey().id() + "@" + e.getValue()).orElse("none");
  }

  @Test
  void higherPriorityFirstThenSubmissionOrderAndNoOvertakingOfAJobThatCouldRun() {
    Scheduler s = new Scheduler();
    s.enqueue(job("a", 0, 1, 800));
    s.enqueue(job("b", 0, 2, 200));
    s.enqueue(job("c", 5, 3, 300));
    assertTrue(s.why("a", null).startsWith("waits for a worker node"), s.why("a", null));
    assertEquals("none", started(s.next(true)));
    s.node(node("n1", 1, 1000));
    assertEquals("c@[n1]", started(s.next(true)));
    assertEquals("priority 0: 1 job(s) ahead", s.why("b", null));
    assertEquals("none", started(s.next(true)), "a needs 800 MiB, n1 has 700 free: b (200) must not overtake it");
    assertEquals("needs 800 MiB per worker, largest free: 700 MiB on n1 (1 job(s) running)", s.why("a", null));
    s.release("c");
    assertEquals("a@[n1]", started(s.next(true)));
    assertEquals("none", started(s.next(false)), "no slot");
    assertEquals("waits for a slot", s.why("b", "waits for a slot"));
    assertEquals("b@[n1]", started(s.next(true)));
    assertEquals(0, s.nodes().get("n1").free(), "a and b reserve all 1000 MiB");
  }

  @Test
  void aJobNoNodeCouldEverHoldIsHeldAsideAndBlocksNobody() {
    Scheduler s = new Scheduler();
    s.node(node("n1", 2, 1000));
    s.enqueue(job("huge", 9, 1, 600)); // 2 devices: 1200 MiB on n1
    s.enqueue(job("small", 0, 2, 400));
    assertEquals("small@[n1]", started(s.next(true)));
    assertTrue(s.why("huge", null).contains("held until a larger node joins"), s.why("huge", null));
    s.node(node("n2", 1, 2000));
    assertEquals("huge@[n2]", started(s.next(true)));
  }

  @Test
  void aRunningJobGrowsOntoAJoiningNodeOnlyWhileNothingRunnableWaitsAndALeavingNodeFreesItsReservations() {
    Scheduler s = new Scheduler();
    s.node(node("n1", 1, 1000));
    s.enqueue(job("a", 0, 1, 500));
    assertEquals("a@[n1]", started(s.next(true)));
    s.enqueue(job("b", 0, 2, 800));
    s.node(node("n2", 1, 1000));
    assertEquals(List.of(), s.grow("a", s.placement("a")), "b could run: a must not take n2");
    assertEquals("b@[n2]", started(s.next(true)));
    s.node(node("n3", 1, 1000));
    assertEquals(List.of("n3"), s.grow("a", s.placement("a")));
    assertEquals(List.of("n1", "n3"), s.placement("a"));
    s.retain(Set.of("n1", "n2"));
    assertEquals(List.of("n1"), s.placement("a"));
    s.release("a");
    assertEquals(1000 * MIB, s.nodes().get("n1").free());
  }
}
