package dev.loraone.worker.actor;

import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerMessage;
import dev.loraone.worker.train.WorkerEngine;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * What a {@link WorkerActor} knows about the one job it serves, apart from the engine's own state:
 * the adapter versions it holds, the units running and finished (by {@link WorkItem}), and the
 * commands waiting for a version; beside them the job's {@link UnitPipeline}. Plain bookkeeping,
 * touched only on the actor's thread.
 *
 * <pre>
 *   unit state     new -&gt; running -&gt; done (reply kept, LRU of remember-results) | failed (forgotten: a retry
 *       recomputes)
 *   versions       the keep-versions newest steps; a command for an older, dropped one fails
 *   waiting        commands whose version has not arrived, re-handled when one does
 * </pre>
 */
final class JobSession {
  final JobId job;
  final long generation;
  final CompletableFuture<WorkerEngine> engine;
  /** The job's engine work: units encoded ahead of their compute; closed when the job is left. */
  final UnitPipeline pipeline;
  /** The reply to {@code JoinJob}, once the engine is open. */
  JobJoined joined;
  /** Why the engine could not be opened, or null. */
  String failure;
  /** The job's {@code model} as its spec names it, for a {@code WorkItem.Join} failure. */
  String model = "";

  private final int keepVersions;
  private final TreeMap<Long, Map<String, TensorBlob>> versions = new TreeMap<>();
  private final Map<WorkItem, CoordinatorMessage> done;
  private final Set<WorkItem> running = new HashSet<>();
  private final List<WorkerMessage> waiting = new ArrayList<>();
  private final Set<WorkItem> waitingItems = new HashSet<>();
  private boolean shardsReleased;

  JobSession(JobId job, long generation, CompletableFuture<WorkerEngine> engine, UnitPipeline pipeline,
      int rememberResults, int keepVersions) {
    this.job = job;
    this.generation = generation;
    this.engine = engine;
    this.pipeline = pipeline;
    this.keepVersions = keepVersions;
    this.done = new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<WorkItem, CoordinatorMessage> eldest) {
        return size() > rememberResults;
      }
    };
  }

  /** The kept reply of a finished unit, or null. */
  CoordinatorMessage reply(WorkItem item) {
    return done.get(item);
  }

  boolean isRunning(WorkItem item) {
    return running.contains(item);
  }

  boolean isWaiting(WorkItem item) {
    return waitingItems.contains(item);
  }

  void started(WorkItem item) {
    running.add(item);
  }

  void finished(WorkItem item, CoordinatorMessage reply) {
    running.remove(item);
    if (reply != null) done.put(item, reply);
  }

  /** The adapters of version {@code step}, or null when not held. */
  Map<String, TensorBlob> version(long step) {
    return versions.get(step);
  }

  /** True when {@code step} is older than the newest version held and no longer kept. */
  boolean dropped(long step) {
    return !versions.isEmpty() && step < versions.lastKey() && !versions.containsKey(step);
  }

  Set<Long> heldVersions() {
    return versions.keySet();
  }

  /**
   * Holds version {@code step}. A redelivery of the same values changes nothing (false); other
   * values for a step already held replace it and void the results computed from the old ones.
   *
   * @return whether the version is new or changed
   */
  boolean hold(long step, Map<String, TensorBlob> adapters) {
    Map<String, TensorBlob> old = versions.get(step);
    if (old != null && old.equals(adapters)) return false;
    if (old != null) {
      done.keySet()
          .removeIf(
              i ->
                  (i instanceof WorkItem.Gradients g && g.step() == step + 1)
                      || (i instanceof WorkItem.Evaluation e && e.step() == step)
                      || (i instanceof WorkItem.Export x && x.step() == step));
    }
    versions.put(step, adapters);
    while (versions.size() > keepVersions) versions.pollFirstEntry();
    return true;
  }

  /**
   * True the first time it is called: training has begun, so the init shards (and the replies
   * about them) are not needed again.
   */
  boolean releaseShardsOnce() {
    if (shardsReleased) return false;
    shardsReleased = true;
    done.keySet().removeIf(i -> i instanceof WorkItem.InitShard || i instanceof WorkItem.Sketch);
    return true;
  }

  /** Parks {@code command} until a version arrives; false when {@code max} commands already wait. */
  boolean await(WorkerMessage command, WorkItem item, int max) {
    if (waiting.size() >= max) return false;
    waiting.add(command);
    waitingItems.add(item);
    return true;
  }

  int waitingCount() {
    return waiting.size();
  }

  /** The waiting commands, in arrival order; none wait afterwards. */
  List<WorkerMessage> takeWaiting() {
    List<WorkerMessage> out = List.copyOf(waiting);
    waiting.clear();
    waitingItems.clear();
    return out;
  }
}
