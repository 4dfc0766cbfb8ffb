package dev.loraone.protocol.transport;

import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.TransferMessage.ChunkAck;
import dev.loraone.protocol.transport.TransferMessage.TransferChunk;
import dev.loraone.protocol.transport.TransferMessage.TransferCompleted;
import dev.loraone.protocol.transport.TransferMessage.TransferRejected;
import dev.loraone.protocol.transport.TransferMessage.TransferStart;
import dev.loraone.protocol.wire.KryoSerializer;
import dev.loraone.protocol.wire.WireMessage;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;

/**
 * Sends one {@link WireMessage} of any size to an actor on another node, through that node's {@link
 * TransferInbox}, without raising Artery's frame size: Artery silently drops a message over {@code
 * maximum-frame-size} (FEASIBILITY.md section 5), and the large-message lane must be configured per
 * destination on both sides and is meant for a few MiB.
 *
 * <p>Spawn one per transfer as a child of the caller; it reports one {@link TransferOutcome} to
 * {@code replyTo} and stops. The message is serialized once with the wire serializer, streamed
 * straight into {@code chunk-size} chunks ({@link ChunkingOutputStream}, no contiguous copy) and
 * sent with a sliding window of {@code window} unacknowledged chunks ({@link SlidingWindow}); the
 * inbox acknowledges each chunk, so a lost chunk (or a lost ack) is resent after {@code
 * retransmit-after}, and duplicates are harmless because everything is keyed by (transfer id, chunk
 * index). The inbox checks a CRC-32C of the whole payload after reassembly, deserializes straight
 * from the chunks, tells the target and confirms with {@code TransferCompleted}.
 *
 * <p>Why not Pekko Streams' {@code SourceRef}: a StreamRef fails the whole stream on a lost or
 * out-of-order element or a subscription timeout, so it would still need resume-and-retry on top;
 * it needs a stream materialized per transfer on both sides; and a {@code SourceRef} inside a
 * message needs Pekko's own serializer in the middle of our Kryo records. Plain acknowledged chunks
 * over ordinary Artery messages give per-chunk retransmission and idempotency in ~300 lines, with
 * every byte on the wire going through the registered Kryo classes.
 *
 * <p>Flow control: at most {@code window * chunk-size} bytes (9 MiB by default) are queued ahead of
 * the acks, so a transfer cannot flood Artery's ordinary lane and starve cluster heartbeats for
 * long. Serialization and the checksum run on this actor's thread when it starts (about 1 s per
 * GB); spawn it on a dedicated dispatcher for very large payloads if that matters.
 */
public final class ChunkSender extends AbstractBehavior<Object> {
  private enum Tick { INSTANCE }

  private final TransferSettings settings;
  private final TransferId id;
  private final ActorRef<TransferMessage> inbox;
  private final ActorRef<TransferOutcome> replyTo;
  private final TransferStart start;
  private final List<byte[]> chunks;
  private final long totalBytes;
  private final SlidingWindow window;
  private final long startedAt;
  private final long retransmitAfterNanos;
  private long startSentAt;
  private int startResends;

  /**
   * @param message the message to deliver; must be a registered wire message
   * @param target the actor on the inbox's node that receives {@code message}
   * @param inbox the {@link TransferInbox} of the target's node
   */
  public static Behavior<TransferMessage> create(
      TransferId id, WireMessage message, ActorRef<?> target, ActorRef<TransferMessage> inbox,
      ActorRef<TransferOutcome> replyTo, TransferSettings settings) {
    return Behaviors.<Object>setup(
            ctx -> {
              long t0 = System.nanoTime();
              if (message instanceof TransferMessage) {
                replyTo.tell(
                    new TransferOutcome.Failed(
                        id, "transfer messages are not sent through a transfer"));
                return Behaviors.stopped();
              }
              ChunkingOutputStream chunks = new ChunkingOutputStream(settings.chunkSize());
              String manifest;
              try {
                Serializer serializer =
                    SerializationExtension.get(Adapter.toClassic(ctx.getSystem()))
                        .findSerializerFor(message);
                if (!(serializer instanceof KryoSerializer wire)) {
                  throw new IllegalArgumentException(
                      message.getClass().getName() + " is not bound to the wire serializer");
                }
                wire.serialize(message, chunks);
                chunks.close();
                manifest = Serializers.manifestFor(serializer, message);
              } catch (RuntimeException e) {
                replyTo.tell(
                    new TransferOutcome.Failed(
                        id, "cannot serialize " + message.getClass().getSimpleName() + ": " + e));
                return Behaviors.stopped();
              }
              if (chunks.total() > settings.maxTransferSize()) {
                replyTo.tell(
                    new TransferOutcome.Failed(
                        id, chunks.total() + " bytes exceed loraone.transfer.max-transfer-size"));
                return Behaviors.stopped();
              }
              return Behaviors.withTimers(
                  timers ->
                      new ChunkSender(
                          ctx, timers, id, chunks, manifest, target, inbox, replyTo, settings, t0));
            })
        .unsafeCast();
  }

  private ChunkSender(
      ActorContext<Object> ctx,
      TimerScheduler<Object> timers,
      TransferId id,
      ChunkingOutputStream payload,
      String manifest,
      ActorRef<?> target,
      ActorRef<TransferMessage> inbox,
      ActorRef<TransferOutcome> replyTo,
      TransferSettings settings,
      long startedAt) {
    super(ctx);
    this.settings = settings;
    this.id = id;
    this.chunks = payload.chunks();
    this.totalBytes = payload.total();
    this.inbox = inbox;
    this.replyTo = replyTo;
    this.startedAt = startedAt;
    this.retransmitAfterNanos = settings.retransmitAfter().toNanos();
    ActorRef<TransferMessage> self = ctx.getSelf().narrow();
    this.start = new TransferStart(id, manifest, totalBytes, settings.chunkSize(), payload.crc32c(), target, self);
    this.window =
        new SlidingWindow(
            start.chunkCount(), settings.window(), retransmitAfterNanos, settings.maxRetransmits());
    ctx.watch(inbox);
    timers.startTimerWithFixedDelay(Tick.INSTANCE, settings.tickInterval());
    long now = System.nanoTime();
    sendStart(now);
    sendChunks(window.fill(now));
  }

  @Override
  public Receive<Object> createReceive() {
    return newReceiveBuilder()
        .onMessage(ChunkAck.class, this::onAck)
        .onMessage(TransferCompleted.class, this::onCompleted)
        .onMessage(TransferRejected.class, r -> fail("rejected by the inbox: " + r.reason()))
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onSignal(Terminated.class, t -> fail("the inbox " + inbox.path() + " terminated"))
        .build();
  }

  private Behavior<Object> onAck(ChunkAck ack) {
    if (!ack.transfer().equals(id) || !window.ack(ack.index())) return this;
    long now = System.nanoTime();
    sendChunks(window.fill(now));
    if (window.allAcked()) startSentAt = now; // the completion is due from now, not from the start
    return this;
  }

  private Behavior<Object> onCompleted(TransferCompleted done) {
    if (!done.transfer().equals(id)) return this;
    Duration elapsed = Duration.ofNanos(System.nanoTime() - startedAt);
    replyTo.tell(
        new TransferOutcome.Delivered(
            id, totalBytes, window.chunkCount(), window.totalResends() + startResends, elapsed));
    return Behaviors.stopped();
  }

  private Behavior<Object> onTick() {
    long now = System.nanoTime();
    int[] due = window.overdue(now);
    if (window.exhausted() >= 0) {
      return fail("chunk " + window.exhausted() + " unacknowledged after " + settings.maxRetransmits() + " resends");
    }
    if (due.length > 0) getContext().getLog().debug("transfer {}: resending {} chunk(s)", id, due.length);
    sendChunks(due);
    // Nothing acked yet: the start may be lost (chunks of an unknown transfer are dropped).
    // Everything acked: only the completion is missing; a repeated start asks for it again.
    if ((!window.anyAcked() || window.allAcked()) && now - startSentAt >= retransmitAfterNanos) {
      if (startResends >= settings.maxRetransmits()) {
        return fail("no answer to the transfer start after " + settings.maxRetransmits() + " resends");
      }
      startResends++;
      sendStart(now);
    }
    return this;
  }

  private Behavior<Object> fail(String reason) {
    getContext().getLog().warn("transfer {} of {} bytes failed: {}", id, totalBytes, reason);
    replyTo.tell(new TransferOutcome.Failed(id, reason));
    return Behaviors.stopped();
  }

  private void sendStart(long now) {
    startSentAt = now;
    inbox.tell(start);
  }

  private void sendChunks(int[] indices) {
    for (int i : indices) {
      byte[] chunk = chunks.get(i);
      inbox.tell(new TransferChunk(id, i, new TensorBlob(DType.U8, new long[] {chunk.length}, chunk)));
    }
  }
}
