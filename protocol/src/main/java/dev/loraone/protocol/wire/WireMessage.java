package dev.loraone.protocol.wire;

/**
 * Marker for every message that may cross a JVM boundary. {@code reference.conf} binds it to
 * {@link KryoSerializer}, so a message type that forgets to implement it fails on the first send
 * instead of falling back to Java serialization (which is switched off).
 *
 * <p>Not sealed: the families live in different packages ({@link CoordinatorMessage},
 * {@link WorkerMessage}, {@code transport.TransferMessage}), and sealed hierarchies must stay in
 * one package outside named modules. Each family is sealed and listed in
 * {@link WireRegistry#SEALED_ROOTS}.
 */
public interface WireMessage {
  /**
   * Bytes of tensor payload this message carries (0 for none): senders compare it with their
   * {@code direct-send-limit} to choose a direct tell or the chunked transfer, and count traffic by it.
   */
  default long tensorBytes() {
    return 0;
  }

  /** The summed byte size of {@code tensors}. */
  static long tensorBytes(java.util.Map<String, dev.loraone.protocol.tensor.TensorBlob> tensors) {
    long n = 0;
    for (dev.loraone.protocol.tensor.TensorBlob t : tensors.values()) n += t.byteSize();
    return n;
  }
}
