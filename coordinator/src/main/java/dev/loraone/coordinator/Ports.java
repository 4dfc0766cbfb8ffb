package dev.loraone.coordinator;

import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.WorkerMessage;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;

/**
 * What a {@link RunningJob} may do to the world, all of it through its {@link CoordinatorActor}:
 * send to workers, watch them, report to the listener, hand files to the writer child.
 */
interface Ports {
  JobId job();

  JobSpec spec();

  JobSetup setup();

  Path outDir();

  /** The coordinator's own endpoint, for registrations. */
  Endpoint<CoordinatorMessage> endpoint();

  Logger log();

  /**
   * Sends {@code m} to a worker: told directly, or, when it carries more tensor bytes than
   * {@code loraone.coordinator.direct-send-limit}, chunked through the worker's inbox; then the
   * transfer's id is returned so a failed transfer can be blamed on its worker.
   */
  Optional<TransferId> send(Endpoint<WorkerMessage> to, WorkerMessage m);

  /** Watches a worker incarnation: its end becomes {@code Event.WorkerLeft}. */
  void watch(String worker, ActorRef<WorkerMessage> actor);

  void unwatch(ActorRef<WorkerMessage> actor);

  void report(JobEvent event);

  void checkpoint(Checkpoint checkpoint);

  void writeAdapter(PeftAdapter adapter, List<String> labels, Path dir);
}
