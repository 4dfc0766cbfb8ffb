package dev.loraone.protocol.transport;

import dev.loraone.protocol.transport.TransferMessage.ChunkAck;
import dev.loraone.protocol.transport.TransferMessage.TransferChunk;
import dev.loraone.protocol.transport.TransferMessage.TransferCompleted;
import dev.loraone.protocol.transport.TransferMessage.TransferRejected;
import dev.loraone.protocol.transport.TransferMessage.TransferStart;
import dev.loraone.protocol.wire.KryoSerializer;
import dev.loraone.protocol.wire.WireMessage;
import dev.loraone.protocol.wire.WireRegistry;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import java.io.NotSerializableException;

/**
 * Receives chunked transfers for every actor on its node (one inbox per node, published in the
 * node's {@code Endpoint}s) and delivers each reassembled message to its target as if the sender
 * had told it directly. The sending side is {@link ChunkSender}; the protocol is in
 * {@link TransferMessage}.
 *
 * <p>Idempotent by (transfer id, chunk index): a repeated start is ignored, a repeated chunk is
 * acknowledged again but stored once, and a start or chunk of a finished transfer gets its
 * outcome again (the last {@code remember-completed} outcomes are kept), so a message is delivered
 * at most once per transfer id. Chunks of a transfer it has no start for are dropped; the sender
 * resends the start. A transfer idle for {@code idle-timeout} (its sender died) is dropped.
 *
 * <p>It refuses transfers over {@code max-transfer-size}, manifests that are not registered wire
 * messages, and targets on other nodes (it never relays: onward delivery would be an ordinary,
 * size-limited remote send). Chunks are kept as separate arrays until the last one arrives.
 */
public final class TransferInbox extends AbstractBehavior<Object> {
  /** The name to spawn it under, next to the guardian's other children: {@code /user/transfer-inbox}. */
  public static final String NAME = "transfer-inbox";

  /** Bounds the per-transfer chunk table a peer can make us allocate (1M chunks of 192 KiB = 192 GB). */
  static final long MAX_CHUNKS = 1_000_000;

  private enum Sweep { INSTANCE }

  /** One transfer in progress. */
  private static final class Incoming {
    final TransferStart start;
    final Reassembly parts;
    long lastActivity = System.nanoTime();

    Incoming(TransferStart start) {
      this.start = start;
      this.parts = new Reassembly(start.totalBytes(), start.chunkBytes());
    }
  }

  /** The answer to repeat for a finished transfer, and where to send it. */
  private record Finished(TransferMessage outcome, ActorRef<TransferMessage> replyTo) {}

  private final TransferSettings settings;
  private final KryoSerializer wire;
  private final Map<TransferId, Incoming> active = new HashMap<>();
  private final LinkedHashMap<TransferId, Finished> finished;

  public static Behavior<TransferMessage> create(TransferSettings settings) {
    return Behaviors.<Object>setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startTimerWithFixedDelay(Sweep.INSTANCE, settings.idleTimeout().dividedBy(4));
      return new TransferInbox(ctx, settings);
    })).unsafeCast();
  }

  private TransferInbox(ActorContext<Object> ctx, TransferSettings settings) {
    super(ctx);
    this.settings = settings;
    this.wire = KryoSerializer.of(ctx.getSystem());
    this.finished = new LinkedHashMap<>(16, 0.75f, false) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<TransferId, Finished> eldest) {
        return size() > settings.rememberCompleted();
      }
    };
  }

  @Override
  public Receive<Object> createReceive() {
    return newReceiveBuilder()
        .onMessage(TransferStart.class, this::onStart)
        .onMessage(TransferChunk.class, this::onChunk)
        .onMessageEquals(Sweep.INSTANCE, this::onSweep)
        .build();
  }

  private Behavior<Object> onStart(TransferStart s) {
    Finished done = finished.get(s.transfer());
    if (done != null) {
      s.replyTo().tell(done.outcome());
      return this;
    }
    if (active.containsKey(s.transfer())) return this;
    String refusal = refusal(s);
    if (refusal != null) {
      finish(s, new TransferRejected(s.transfer(), refusal));
      return this;
    }
    active.put(s.transfer(), new Incoming(s));
    return this;
  }

  private String refusal(TransferStart s) {
    if (s.totalBytes() > settings.maxTransferSize()) {
      return s.totalBytes() + " bytes exceed loraone.transfer.max-transfer-size = " + settings.maxTransferSize();
    }
    if (s.totalBytes() / s.chunkBytes() >= MAX_CHUNKS) {
      return "more than " + MAX_CHUNKS + " chunks of " + s.chunkBytes() + " bytes";
    }
    if (!s.target().path().address().hasLocalScope()) {
      // Delivering onwards would be an ordinary (size-limited) remote send: never relay.
      return "target " + s.target().path() + " is not on this node";
    }
    boolean known = WireRegistry.byManifest(s.manifest())
        .filter(e -> WireMessage.class.isAssignableFrom(e.type()) && !TransferMessage.class.isAssignableFrom(e.type()))
        .isPresent();
    return known ? null : "unknown or forbidden manifest \"" + s.manifest() + "\"";
  }

  private Behavior<Object> onChunk(TransferChunk c) {
    Incoming in = active.get(c.transfer());
    if (in == null) {
      Finished done = finished.get(c.transfer());
      if (done != null) {
        done.replyTo().tell(done.outcome()); // a resend after a lost ack or outcome
      } else {
        getContext().getLog().debug("dropping chunk {} of unknown transfer {}", c.index(), c.transfer());
      }
      return this;
    }
    in.lastActivity = System.nanoTime();
    try {
      in.parts.accept(c.index(), c.payload());
    } catch (IllegalArgumentException e) {
      finish(in.start, new TransferRejected(c.transfer(), e.getMessage()));
      return this;
    }
    in.start.replyTo().tell(new ChunkAck(c.transfer(), c.index()));
    if (in.parts.complete()) deliver(in);
    return this;
  }

  private void deliver(Incoming in) {
    TransferStart s = in.start;
    int crc = in.parts.crc32c();
    if (crc != s.crc32c()) {
      finish(
          s,
          new TransferRejected(
              s.transfer(),
              String.format("CRC-32C mismatch: got %08x, expected %08x", crc, s.crc32c())));
      return;
    }
    Object message;
    try {
      message = wire.deserialize(in.parts.stream(), s.totalBytes(), s.manifest());
    } catch (NotSerializableException e) {
      finish(s, new TransferRejected(s.transfer(), e.getMessage()));
      return;
    }
    @SuppressWarnings("unchecked")
    ActorRef<Object> target = (ActorRef<Object>) s.target();
    target.tell(message);
    finish(s, new TransferCompleted(s.transfer()));
  }

  private void finish(TransferStart s, TransferMessage outcome) {
    active.remove(s.transfer());
    finished.put(s.transfer(), new Finished(outcome, s.replyTo()));
    if (outcome instanceof TransferRejected r) {
      getContext().getLog().warn("transfer {} rejected: {}", s.transfer(), r.reason());
    }
    s.replyTo().tell(outcome);
  }

  private Behavior<Object> onSweep() {
    long now = System.nanoTime();
    long idle = settings.idleTimeout().toNanos();
    active.values().stream()
        .filter(in -> now - in.lastActivity > idle)
        .map(in -> in.start)
        .toList()
        .forEach(s -> finish(s, new TransferRejected(s.transfer(), "idle for more than " + settings.idleTimeout())));
    return this;
  }
}
