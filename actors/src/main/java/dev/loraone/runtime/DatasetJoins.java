package dev.loraone.runtime;

import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.ModelRefs;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkerMessage;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * A worker actor's front for jobs that name uploaded datasets: a {@code JoinJob} whose spec names
 * {@code dataset:<sha>} (task.train, task.eval, task.corpus, task.labels) reaches the worker only
 * after each dataset is a local file ({@link DatasetSource#local}, run on Pekko's blocking I/O
 * dispatcher, never on the actor's thread), with the spec's keys set to those files' paths; a job whose {@code model}
 * is {@code model:<id>} (an uploaded HF folder) reaches it likewise with the local folder ({@link
 * DatasetSource#model}). Every other message passes straight through, so the worker actor itself
 * knows nothing of uploads.
 *
 * <pre>
 *   JoinJob(task = dataset:ab12..)  -&gt;  fetch (blocking I/O)  -&gt;  JoinJob(task = cache/datasets/ab12...jsonl)
 *   fetch failed                    -&gt;  JoinJob(task = "dataset:ab12.. (not fetched: why)"): the worker's open
 *                                       fails naming the key and that value, so the job's reason says why
 *   CancelJob(job) while fetching         -&gt;  the fetched join is dropped
 * </pre>
 */
final class DatasetJoins extends BehaviorInterceptor<Object, Object> {
  private record Resolved(WorkerMessage.JoinJob join) {}

  private final DatasetSource source;
  private JobId pending;

  private DatasetJoins(DatasetSource source) {
    super(Object.class);
    this.source = source;
  }

  /** {@code worker} behind the front; {@link DatasetSource#NONE} still rewrites a failed fetch's reason. */
  static <T> Behavior<T> around(Behavior<T> worker, DatasetSource source) {
    Behavior<Object> inner = worker.unsafeCast();
    return Behaviors.intercept(() -> new DatasetJoins(source), inner).unsafeCast();
  }

  @Override
  public Behavior<Object> aroundReceive(TypedActorContext<Object> ctx, Object msg, ReceiveTarget<Object> target) {
    if (msg instanceof Resolved r) {
      if (!r.join().job().equals(pending)) return Behaviors.same(); // cancelled or replaced meanwhile
      pending = null;
      return target.apply(ctx, r.join());
    }
    if (msg instanceof WorkerMessage.CancelJob c && c.job().equals(pending)) pending = null;
    if (msg instanceof WorkerMessage.JoinJob j
        && (j.spec().contains(DatasetRefs.PREFIX) || j.spec().contains(ModelRefs.PREFIX))) {
      JobSpec spec;
      Map<String, String> refs;
      try {
        spec = j.parsedSpec();
        refs = new LinkedHashMap<>(DatasetRefs.of(spec));
        ModelRefs.of(spec).ifPresent(id -> refs.put("model", id));
      } catch (RuntimeException e) {
        return target.apply(ctx, msg); // the worker fails the join with the spec's own problem
      }
      if (!refs.isEmpty()) {
        pending = j.job();
        Executor blocking = ctx.asJava().getSystem().dispatchers().lookup(DispatcherSelector.blocking());
        ctx.asJava().pipeToSelf(CompletableFuture.supplyAsync(() -> resolve(j, spec, refs), blocking),
            (join, failure) -> new Resolved(join != null ? join : j));
        return Behaviors.same();
      }
    }
    return target.apply(ctx, msg);
  }

  /** {@code j} with each reference replaced by its local path, or by the reason it could not be fetched. */
  private WorkerMessage.JoinJob resolve(WorkerMessage.JoinJob j, JobSpec spec, Map<String, String> refs) {
    Map<String, String> paths = new LinkedHashMap<>();
    for (var e : refs.entrySet()) {
      boolean model = e.getKey().equals("model");
      String value = (model ? ModelRefs.PREFIX : DatasetRefs.PREFIX) + e.getValue();
      try {
        Path local = model ? source.model(e.getValue()) : source.local(e.getValue());
        paths.put(e.getKey(), local.toAbsolutePath().toString());
      } catch (Exception x) { // named in the job's failure through the value the worker cannot open
        paths.put(e.getKey(), value + " (not fetched: " + x.getMessage() + ")");
      }
    }
    return WorkerMessage.JoinJob.of(j.job(), DatasetRefs.with(spec, paths), j.baseModelHash());
  }
}
