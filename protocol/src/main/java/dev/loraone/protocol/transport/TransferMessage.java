package dev.loraone.protocol.transport;

import static dev.loraone.protocol.wire.WireChecks.nonNegative;
import static dev.loraone.protocol.wire.WireChecks.notNull;

import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.WireMessage;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The chunked-transfer protocol between a {@link ChunkSender} and a {@link TransferInbox}. The
 * payload is one serialized {@link WireMessage} (manifest + bytes), cut into chunks that each fit
 * an ordinary Artery frame.
 *
 * <pre>
 *   ChunkSender                                  TransferInbox (receiving node)
 *     TransferStart  ---------------------------&gt;  allocates the buffer (idempotent)
 *     TransferChunk i (window of W unacked) ----&gt;  copies chunk i in (idempotent)
 *                    &lt;---------------------------  ChunkAck i
 *     ... retransmit any chunk unacked for T; resend TransferStart while nothing is acked ...
 *                    &lt;---------------------------  TransferCompleted (checksum ok, delivered)
 *                    &lt;---------------------------  TransferRejected (checksum, size, manifest)
 * </pre>
 */
public sealed interface TransferMessage extends WireMessage {
  TransferId transfer();

  /**
   * Opens a transfer (and, resent after all chunks are acked, asks whether it completed).
   *
   * @param manifest the payload message's serializer manifest
   * @param totalBytes the serialized payload's size
   * @param chunkBytes payload bytes per chunk; the last chunk holds the rest
   * @param crc32c CRC-32C of the whole payload, checked after reassembly
   * @param target the actor that receives the deserialized message
   * @param replyTo the sender, for acks and the outcome
   */
  record TransferStart(
      TransferId transfer, String manifest, long totalBytes, int chunkBytes, int crc32c, ActorRef<?> target,
      ActorRef<TransferMessage> replyTo)
      implements TransferMessage {
    public TransferStart {
      notNull("transfer", transfer);
      notNull("manifest", manifest);
      nonNegative("totalBytes", totalBytes);
      if (chunkBytes < 1) throw new IllegalArgumentException("chunkBytes must be >= 1, got " + chunkBytes);
      notNull("target", target);
      notNull("replyTo", replyTo);
    }

    /** {@code ceil(totalBytes / chunkBytes)}, at least 1 (an empty payload is one empty chunk). */
    public int chunkCount() {
      return chunkCount(totalBytes, chunkBytes);
    }

    public static int chunkCount(long totalBytes, int chunkBytes) {
      return Math.toIntExact(Math.max(1, (totalBytes + chunkBytes - 1) / chunkBytes));
    }
  }

  /** Chunk {@code index}: payload bytes {@code [index*chunkBytes, ...)} as a {@link DType#U8} vector. */
  record TransferChunk(TransferId transfer, int index, TensorBlob payload) implements TransferMessage {
    public TransferChunk {
      notNull("transfer", transfer);
      nonNegative("index", index);
      notNull("payload", payload);
      if (payload.dtype() != DType.U8 || payload.shape().length != 1) {
        throw new IllegalArgumentException("chunk payload must be a U8 vector, got " + payload);
      }
    }
  }

  /** Chunk {@code index} is stored (sent again for a duplicate: acks may be lost too). */
  record ChunkAck(TransferId transfer, int index) implements TransferMessage {
    public ChunkAck {
      notNull("transfer", transfer);
      nonNegative("index", index);
    }
  }

  /** All chunks arrived, the checksum matched and the message was handed to the target. */
  record TransferCompleted(TransferId transfer) implements TransferMessage {
    public TransferCompleted {
      notNull("transfer", transfer);
    }
  }

  /** The inbox refused or abandoned the transfer; retrying the same bytes will not help. */
  record TransferRejected(TransferId transfer, String reason) implements TransferMessage {
    public TransferRejected {
      notNull("transfer", transfer);
      notNull("reason", reason);
    }
  }
}
