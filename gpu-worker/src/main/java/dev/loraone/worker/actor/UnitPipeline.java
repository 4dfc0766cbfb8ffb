package dev.loraone.worker.actor;

import dev.loraone.data.stream.EncodeAhead;
import dev.loraone.data.stream.Prefetch;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.worker.train.WorkerEngine;
import dev.loraone.worker.train.Encoded;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.apache.pekko.stream.Materializer;

/**
 * The engine work of one job on one worker, as an {@link EncodeAhead} stream: each unit's model
 * input is encoded (tokens and batch arrays, no DJL) on the encode dispatcher up to
 * {@code prefetch} units ahead of the one computing on the DJL thread, so the encoding of unit
 * g+1 overlaps the compute of unit g. Units compute one at a time in the order they were run, and
 * each ends in exactly one {@link Done#finished} call. A host unit (plain Java on the engine's data,
 * no DJL: a randomized-SVD sketch, an export without ONNX) computes on the encode dispatcher
 * instead, still in its turn, so it neither waits behind another job's DJL units nor holds the
 * DJL thread from them; the job's next unit starts after it, so the engine is never used from two
 * threads at once.
 *
 * <pre>
 *   run(unit)   -&gt; queue (max-waiting) -&gt; encode (encode dispatcher) -&gt; compute (DJL thread) -&gt; finished
 *   host unit   -&gt; queue -&gt; compute (encode dispatcher) -&gt; finished
 *   encodeAhead -&gt; encode now, kept for the unit's run: a command parked until its adapter version arrives
 *   close       -&gt; queued units end cancelled; the engine is closed on the DJL thread once no encode runs
 *   prefetch 0  -&gt; each unit encoded on the DJL thread right before its compute, nothing kept
 * </pre>
 *
 * Encoded inputs are kept by address ({@link WorkItem}) in a small LRU, so a unit recomputed after
 * its adapter version changed, or run again after a failure, is not encoded again; an address
 * always encodes to the same input, so this changes no bit. Thread-safe: the actor runs units, the
 * stages run on the stream's and the dispatchers' threads.
 */
final class UnitPipeline {
  /** Encoded inputs kept: more than a step's micro-batches or an evaluation's batches on one worker. */
  static final int KEEP_ENCODED = 32;

  /**
   * One unit of engine work.
   *
   * @param encode its model input, or null for work without one (a sketch, an export)
   * @param compute the DJL work, given the engine and the encoded input (null without one)
   * @param host the compute uses no DJL (and no input): it runs on the encode dispatcher
   */
  record Unit(WorkItem item, Function<WorkerEngine, Encoded> encode,
      BiFunction<WorkerEngine, Encoded, CoordinatorMessage> compute, boolean host) {
    /** A unit of DJL work. */
    Unit(WorkItem item, Function<WorkerEngine, Encoded> encode,
        BiFunction<WorkerEngine, Encoded, CoordinatorMessage> compute) {
      this(item, encode, compute, false);
    }

    /** A host unit: plain Java work without an input. */
    static Unit host(WorkItem item, BiFunction<WorkerEngine, Encoded, CoordinatorMessage> compute) {
      return new Unit(item, null, compute, true);
    }
  }

  /** Where each unit's outcome goes (the actor, as a message). */
  @FunctionalInterface
  interface Done {
    void finished(WorkItem item, CoordinatorMessage reply, Throwable failure);
  }

  private final CompletableFuture<WorkerEngine> engine;
  private final Prefetch prefetch;
  private final Executor encoder;
  private final Executor djl;
  /** Where host units compute: the encode dispatcher. */
  private final Executor host;
  private final Map<WorkItem, CompletableFuture<Encoded>> kept = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<WorkItem, CompletableFuture<Encoded>> eldest) {
      return size() > KEEP_ENCODED;
    }
  };
  private final EncodeAhead<Unit, Encoded, CoordinatorMessage> stream;
  private volatile boolean cancelled;

  /**
   * @param capacity units queued behind the one computing before {@link #run} refuses one
   * @param encoder the encode dispatcher (the host units' thread; when prefetch is off the DJL thread encodes)
   */
  UnitPipeline(CompletableFuture<WorkerEngine> engine, Prefetch prefetch, int capacity, Executor encoder, Executor djl,
      Materializer materializer, Done done) {
    this.engine = engine;
    this.prefetch = prefetch;
    this.encoder = prefetch.off() ? djl : encoder;
    this.djl = djl;
    this.host = encoder;
    this.stream = EncodeAhead.start(prefetch, capacity, new EncodeAhead.Stages<>() {
      @Override
      public CompletionStage<Encoded> encode(Unit u) {
        return encoded(u);
      }

      @Override
      public CompletionStage<CoordinatorMessage> compute(Unit u, Encoded in) {
        return engine.thenApplyAsync(e -> u.compute().apply(live(e), in), u.host() ? host : djl);
      }

      @Override
      public void finished(Unit u, CoordinatorMessage reply, Throwable failure) {
        done.finished(u.item(), reply, failure);
      }
    }, materializer);
  }

  /** Queues {@code unit}; false when {@code capacity} units already wait or the pipeline is closed. */
  boolean run(Unit unit) {
    return stream.offer(unit);
  }

  /**
   * Starts encoding {@code unit}, which cannot run yet (it waits for its adapter version), and keeps
   * the input for its run. Nothing when prefetch is off or the unit has no input.
   */
  void encodeAhead(Unit unit) {
    if (!prefetch.off() && unit.encode() != null) encoded(unit);
  }

  /**
   * Takes no further unit: those queued end with a {@link CancellationException} instead of running,
   * and the engine is closed on the DJL thread after the last of them and any encoding under way.
   */
  void close() {
    cancelled = true;
    stream.complete();
    List<CompletableFuture<?>> running = new ArrayList<>();
    running.add(stream.done().toCompletableFuture());
    synchronized (kept) {
      running.addAll(kept.values());
    }
    CompletableFuture.allOf(running.toArray(CompletableFuture[]::new))
        .handle((ok, failure) -> engine.thenAcceptAsync(WorkerEngine::close, djl));
  }

  private CompletableFuture<Encoded> encoded(Unit u) {
    if (u.encode() == null) return CompletableFuture.completedFuture(null);
    if (prefetch.off()) return engine.thenApplyAsync(e -> u.encode().apply(live(e)), encoder);
    synchronized (kept) {
      CompletableFuture<Encoded> f = kept.get(u.item());
      if (f != null) return f;
      CompletableFuture<Encoded> started = engine.thenApplyAsync(e -> u.encode().apply(live(e)), encoder);
      kept.put(u.item(), started);
      started.whenComplete((in, failure) -> { // a failed encoding is not kept: a retry encodes again
        if (failure != null) {
          synchronized (kept) {
            kept.remove(u.item(), started);
          }
        }
      });
      return started;
    }
  }

  /** {@code e}, unless the job was left: then queued work does nothing. */
  private WorkerEngine live(WorkerEngine e) {
    if (cancelled) throw new CancellationException("the job was left");
    return e;
  }
}
