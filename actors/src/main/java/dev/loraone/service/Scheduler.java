package dev.loraone.service;

import dev.loraone.protocol.wire.NodeMessage;
import dev.loraone.runtime.NodeMemory;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The service's placement of jobs on worker nodes by memory: the queue in order (higher {@code job.priority}
 * first, then by submission), each node's capacity ({@link NodeMessage.Capacity}) and what running jobs reserve
 * on it. Pure state, no actors: {@link JobManager} feeds it and acts on its answers.
 *
 * <p>A job needs {@code estimate x devices} on each node it uses (one worker per device, each with its own
 * engine), and at least {@code workers.min} workers. The head of the queue starts on every node whose free memory
 * covers it; the jobs behind it wait (no overtaking, so a large job is not starved by small ones), except that a
 * job no present node could hold even empty is held aside with that reason and blocks nobody. Memory is reserved
 * from the start until the job ends; a node that leaves takes its reservations with it.
 */
final class Scheduler {
  /** A queued job: {@code seq} orders jobs of one priority (resumed jobs get negative ones: they go first). */
  record Queued(String id, int priority, long seq, long estimate, int minWorkers) {}

  /** A node, with what each job placed on it reserves. */
  static final class Node {
    final NodeMessage.Capacity capacity;
    final Map<String, Long> jobs = new LinkedHashMap<>();

    Node(NodeMessage.Capacity capacity) {
      this.capacity = capacity;
    }

    long free() {
      long used = 0;
      for (long b : jobs.values()) used += b;
      return capacity.memoryBytes() - used;
    }

    long need(long estimate) {
      return estimate * capacity.devices().size();
    }
  }

  private static final Comparator<Queued> ORDER =
      Comparator.comparingInt(Queued::priority).reversed().thenComparingLong(Queued::seq);

  private final Map<String, Node> nodes = new LinkedHashMap<>();
  private final List<Queued> queue = new ArrayList<>();
  private final Map<String, Queued> running = new LinkedHashMap<>();

  /** A node joined or described itself again. */
  void node(NodeMessage.Capacity c) {
    Node old = nodes.get(c.node());
    Node n = new Node(c);
    if (old != null && old.capacity.agent().equals(c.agent())) n.jobs.putAll(old.jobs); // else: a new incarnation
    nodes.put(c.node(), n);
  }

  /** The nodes whose agents are listed no longer: their reservations go with them. */
  void retain(java.util.Set<String> present) {
    nodes.keySet().retainAll(present);
  }

  Map<String, Node> nodes() {
    return nodes;
  }

  void enqueue(Queued q) {
    queue.add(q);
    queue.sort(ORDER);
  }

  /** Takes {@code id} out of the queue (cancelled): true if it was queued. */
  boolean dequeue(String id) {
    return queue.removeIf(q -> q.id().equals(id));
  }

  List<Queued> queue() {
    return List.copyOf(queue);
  }

  /**
   * The next job to start and its nodes, reserved; empty when the queue is empty, every slot is taken, or the
   * first job that could run anywhere does not fit now.
   */
  Optional<Map.Entry<Queued, List<String>>> next(boolean slotFree) {
    if (!slotFree) return Optional.empty();
    for (Queued q : queue) {
      if (!everFits(q)) continue;
      List<String> fit = fitting(q, List.of());
      if (workers(fit) < q.minWorkers()) return Optional.empty();
      queue.remove(q);
      running.put(q.id(), q);
      reserve(q, fit);
      return Optional.of(Map.entry(q, fit));
    }
    return Optional.empty();
  }

  /**
   * The nodes a running job may also use now (a node joined, or memory was freed), reserved: only while no job
   * that could run waits, so growing never delays a queued job.
   */
  List<String> grow(String id, List<String> placed) {
    Queued q = running.get(id);
    if (q == null || queue.stream().anyMatch(this::everFits)) return List.of();
    List<String> more = fitting(q, placed);
    reserve(q, more);
    return more;
  }

  /** The job ended: its reservations are freed. */
  void release(String id) {
    running.remove(id);
    queue.removeIf(q -> q.id().equals(id));
    for (Node n : nodes.values()) n.jobs.remove(id);
  }

  /** The nodes that hold a reservation of {@code id}. */
  List<String> placement(String id) {
    List<String> out = new ArrayList<>();
    nodes.forEach((k, n) -> {
      if (n.jobs.containsKey(id)) out.add(k);
    });
    return out;
  }

  /** Why queued job {@code id} waits, as a person reads it; {@code slots}: why no slot is free, or null. */
  String why(String id, String slots) {
    int at = -1;
    for (int i = 0; i < queue.size(); i++) if (queue.get(i).id().equals(id)) at = i;
    if (at < 0) return "";
    Queued q = queue.get(at);
    String need = NodeMemory.show(q.estimate()) + " per worker";
    if (nodes.isEmpty()) return "waits for a worker node: none has joined (needs " + need + ")";
    if (!everFits(q)) {
      Node big = nodes.values().stream().max(Comparator.comparingLong(n -> n.capacity.memoryBytes())).get();
      return "needs " + need + " x " + q.minWorkers() + " worker(s); the largest node offers "
          + NodeMemory.show(big.capacity.memoryBytes()) + " in all (" + big.capacity.node()
          + "): held until a larger node joins";
    }
    int ahead = 0;
    for (int i = 0; i < at; i++) if (everFits(queue.get(i))) ahead++;
    if (ahead > 0) return "priority " + q.priority() + ": " + ahead + " job(s) ahead";
    if (slots != null) return slots;
    Node best = nodes.values().stream().max(Comparator.comparingLong(Node::free)).get();
    return "needs " + need + (q.minWorkers() > 1 ? " on " + q.minWorkers() + " workers" : "") + ", largest free: "
        + NodeMemory.show(Math.max(0, best.free())) + " on " + best.capacity.node() + " (" + best.jobs.size()
        + " job(s) running)";
  }

  /** Whether the empty cluster, as it is now, could hold {@code q}. */
  private boolean everFits(Queued q) {
    int workers = 0;
    for (Node n : nodes.values()) {
      if (n.capacity.memoryBytes() >= n.need(q.estimate())) workers += n.capacity.devices().size();
    }
    return workers >= q.minWorkers();
  }

  private List<String> fitting(Queued q, List<String> except) {
    List<String> out = new ArrayList<>();
    nodes.forEach((k, n) -> {
      if (!except.contains(k) && n.free() >= n.need(q.estimate())) out.add(k);
    });
    return out;
  }

  private int workers(List<String> names) {
    int w = 0;
    for (String k : names) w += nodes.get(k).capacity.devices().size();
    return w;
  }

  private void reserve(Queued q, List<String> on) {
    for (String k : on) {
      Node n = nodes.get(k);
      n.jobs.put(q.id(), n.need(q.estimate()));
    }
  }
}
