package dev.loraone.coordinator;

import dev.loraone.protocol.job.JobEvent;
import dev.loraone.coordinator.state.CoordinatorState;
import dev.loraone.coordinator.state.Effect;
import dev.loraone.coordinator.state.Event;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.wire.CoordinatorMessage.Evaluated;
import dev.loraone.protocol.wire.CoordinatorMessage.GradientsComputed;
import dev.loraone.protocol.wire.CoordinatorMessage.RegisterWorker;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.WireRegistry;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerMessage;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * A job past its first layout: the {@link CoordinatorState} that decides, and what its effects work
 * on (the SVD rounds, the trainer, results buffered by address, files written). Immutable apart
 * from {@link Training}; one message changes it through a {@link JobDraft}, which turns the message
 * into {@link Event}s, feeds them to the state and carries out the {@link Effect}s:
 *
 * <pre>
 *   ComputeShard      AssignInitShard(group, modules)       (the shard's old products are dropped)
 *   RequestSketch     SketchRequest per module, the owner's shards of the round in one message
 *   SketchReply       buffered by (round, shard, module); all modules of a shard in: SketchReceived
 *   ReduceSketch      per module: products summed in shard order, rounds.accept(sum)
 *   FinishGroup       init.memory-budget: the group's A0, B0 kept, the next module group's rounds start
 *   FinishInit        A0, B0 (coordinator or worker init), masters, AdapterVersion(0), checkpoint
 *   ComputeGradient   ComputeGradients; GradientsComputed buffered by micro-batch: GradientReceived
 *   ApplyStep         AdapterTrainer in index order, AdapterVersion(t), StepDone, checkpoint, StepApplied
 *   Evaluate          Evaluate; Evaluated buffered by batch, all in: JobEvent.Evaluated
 *   Export            PEFT adapter written by the writer child, then Export to the chosen worker
 *   Finished          CancelJob to every worker; the actor flushes its writes and reports the end
 * </pre>
 */
record RunningJob(
    JobLayout layout,
    Map<String, TensorBlob> reference,
    CoordinatorState state,
    Workers workers,
    SketchReduction sketches,
    Training training,
    NavigableMap<Long, GradientsComputed> gradients,
    NavigableMap<Integer, Evaluated> evals,
    JobEvent.Evaluated lastEval,
    int timedStep,
    long stepStart,
    boolean adapterRequested,
    Path adapterDir,
    String adapterSha,
    Map<String, String> exported,
    Map<TransferId, String> transfers,
    Map<WorkItem, Integer> failures,
    JobEvent end) {

  /** A unit that failed this often (on any workers) fails the job. */
  static final int MAX_ATTEMPTS = 3;
  static final String ADAPTER_DIR = "adapter";
  static final String MODEL_DIR = "model";

  static RunningJob start(JobLayout layout, Map<String, TensorBlob> reference, CoordinatorState state, Workers workers,
      SketchReduction sketches, Training training) {
    return new RunningJob(
        layout,
        reference,
        state,
        workers,
        sketches,
        training,
        new TreeMap<>(),
        new TreeMap<>(),
        null,
        -1,
        0,
        false,
        null,
        null,
        Map.of(),
        Map.of(),
        Map.of(),
        null);
  }

  public RunningJob {
    gradients = Collections.unmodifiableNavigableMap(new TreeMap<>(gradients));
    evals = Collections.unmodifiableNavigableMap(new TreeMap<>(evals));
    exported = Map.copyOf(exported);
    transfers = Map.copyOf(transfers);
    failures = Map.copyOf(failures);
  }

  /**
   * Accepts a registration: replies, watches the worker and sends it the job. Returns the new
   * registry; a worker id already registered with another actor replaces its old incarnation.
   */
  static Workers register(Ports io, Workers workers, RegisterWorker r, String modelHash) {
    Endpoint<WorkerMessage> e = r.endpoint();
    if (r.protocolVersion() != WireRegistry.PROTOCOL_VERSION) {
      e.actor().tell(new WorkerMessage.RegistrationRejected(r.worker(), "protocol version " + r.protocolVersion()
          + ", the coordinator speaks " + WireRegistry.PROTOCOL_VERSION));
      return workers;
    }
    String w = r.worker().value();
    Endpoint<WorkerMessage> old = workers.get(w);
    if (old == null || !old.actor().equals(e.actor())) {
      if (old != null) io.unwatch(old.actor());
      io.watch(w, e.actor());
      io.log().info("worker {} registered ({}, {})", w, r.device(), r.runtime());
    }
    e.actor().tell(new WorkerMessage.RegistrationAccepted(r.worker(), io.endpoint()));
    e.actor().tell(WorkerMessage.JoinJob.of(io.job(), io.spec(), modelHash));
    return workers.with(w, e);
  }

}
