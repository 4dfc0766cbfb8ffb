package dev.loraone.worker.actor;

import dev.loraone.protocol.transport.ChunkSender;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.transport.TransferOutcome;
import dev.loraone.protocol.wire.CoordinatorMessage;
import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.WorkerId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.javadsl.ActorContext;

/**
 * A worker's way to the coordinator: replies wait in an outbox until registration names the
 * coordinator's endpoint; then small ones (and all of them to an in-JVM coordinator) go as
 * messages, larger ones through a {@link ChunkSender} to its transfer inbox, resent up to
 * {@code max-resends} times when a transfer fails. Mutable, touched only on the worker actor's thread.
 */
final class Replies {
  /** A chunked reply in flight, kept to resend it if the transfer fails. */
  private record Outgoing(CoordinatorMessage message, int resends) {}

  private final ActorContext<Object> ctx;
  private final WorkerId id;
  private final WorkerSettings settings;
  private final List<CoordinatorMessage> outbox = new ArrayList<>();
  private final Map<TransferId, Outgoing> transfers = new HashMap<>();
  private Endpoint<CoordinatorMessage> coordinator;

  Replies(ActorContext<Object> ctx, WorkerId id, WorkerSettings settings) {
    this.ctx = ctx;
    this.id = id;
    this.settings = settings;
  }

  /** The coordinator's endpoint once registration was accepted, else null. */
  Endpoint<CoordinatorMessage> coordinator() {
    return coordinator;
  }

  /** Registration accepted: replies go to {@code c} from now on, the queued ones first. */
  void connect(Endpoint<CoordinatorMessage> c) {
    coordinator = c;
    List<CoordinatorMessage> queued = List.copyOf(outbox);
    outbox.clear();
    queued.forEach(this::send);
  }

  void send(CoordinatorMessage m) {
    if (coordinator == null) {
      outbox.add(m); // sent once registration is accepted
    } else if (m.tensorBytes() <= settings.directSendLimit() || coordinator.actor().path().address().hasLocalScope()) {
      coordinator.actor().tell(m); // an in-JVM coordinator gets the object itself: nothing to serialize or chunk
    } else {
      sendChunked(m, 0);
    }
  }

  private void sendChunked(CoordinatorMessage m, int resends) {
    TransferId t = TransferId.random();
    transfers.put(t, new Outgoing(m, resends));
    ctx.spawnAnonymous(ChunkSender.create(t, m, coordinator.actor(), coordinator.inbox(), ctx.getSelf().narrow(),
        settings.transfer()));
  }

  /** A chunked reply arrived or failed: a failed one is sent again while resends are left. */
  void onTransferOutcome(TransferOutcome o) {
    Outgoing out = transfers.remove(o.transfer());
    if (out == null || o instanceof TransferOutcome.Delivered) return;
    String what = out.message().getClass().getSimpleName();
    if (out.resends() < settings.maxResends() && coordinator != null) {
      ctx.getLog().warn("worker {}: sending {} again: {}", id, what, ((TransferOutcome.Failed) o).reason());
      sendChunked(out.message(), out.resends() + 1);
    } else {
      ctx.getLog().error("worker {}: gave up sending {}: {}", id, what, ((TransferOutcome.Failed) o).reason());
    }
  }
}
