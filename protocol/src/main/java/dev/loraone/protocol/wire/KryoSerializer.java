package dev.loraone.protocol.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import java.io.InputStream;
import java.io.NotSerializableException;
import java.io.OutputStream;
import java.util.Map;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.SerializerWithStringManifest;

/**
 * Pekko serializer for every {@link WireMessage}, bound in {@code reference.conf}: Kryo with
 * registration required, the ids and manifests of {@link WireRegistry}, one Kryo per thread.
 *
 * <p>Receiving side: the manifest must name a registered {@link WireMessage}, the bytes may only
 * reference registered class ids ({@link WireClassResolver} refuses class names), every record is
 * rebuilt through its validating constructor, and all bytes must be consumed. Anything else is a
 * {@link NotSerializableException}; Artery logs it and drops the message. Nothing unregistered is
 * ever loaded or instantiated.
 *
 * <p>{@code ActorRef}s inside records travel as {@link ActorRefResolver} strings (full address),
 * the same format Pekko's own serializers use, so records can carry {@code replyTo} refs.
 */
public final class KryoSerializer extends SerializerWithStringManifest {
  /** Pekko serializer id; 0-40 are Pekko's own. Never change it: it is on every message. */
  public static final int IDENTIFIER = 741_001;

  /** Per-thread output buffer: one Artery frame, reused so that chunk-sized messages never regrow it. */
  private static final int OUTPUT_BYTES = 256 * 1024;

  private final Map<Class<?>, Serializer<?>> serializers;
  private final ThreadLocal<Kryo> kryo;
  private final ThreadLocal<Output> output = ThreadLocal.withInitial(() -> new Output(OUTPUT_BYTES, -1));

  public KryoSerializer(ExtendedActorSystem system) {
    this(new ResolverCodec(system));
  }

  KryoSerializer(ActorRefCodec refs) {
    this.serializers = WireRegistry.serializers(refs);
    this.kryo = ThreadLocal.withInitial(() -> WireRegistry.newKryo(serializers));
  }

  /** The instance bound in {@code system}'s serialization (so its refs resolve in that system). */
  public static KryoSerializer of(ActorSystem<?> system) {
    var bound = SerializationExtension.get(Adapter.toClassic(system)).serializerByIdentity().get(IDENTIFIER);
    if (bound.isEmpty() || !(bound.get() instanceof KryoSerializer k)) {
      throw new IllegalStateException(
          "serializer "
              + IDENTIFIER
              + " is not KryoSerializer: is protocol's reference.conf on the classpath?");
    }
    return k;
  }

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public String manifest(Object o) {
    return messageEntry(o).manifest();
  }

  @Override
  public byte[] toBinary(Object o) {
    messageEntry(o);
    Output out = output.get();
    out.reset();
    try {
      kryo.get().writeObject(out, o);
      return out.toBytes();
    } finally {
      if (out.getBuffer().length > OUTPUT_BYTES) output.remove(); // do not keep a large message's buffer
    }
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    return read(new Input(bytes), bytes.length, manifest);
  }

  /**
   * Streams {@code o}'s bytes (as {@link #toBinary}) into {@code out}, never holding them in one
   * array: the chunked transport cuts them into chunks as they come.
   */
  public void serialize(Object o, OutputStream out) {
    messageEntry(o);
    Output output = new Output(out, 64 * 1024);
    kryo.get().writeObject(output, o);
    output.flush();
  }

  /** Reads a message of {@code length} bytes from {@code in}, with every check of {@link #fromBinary}. */
  public Object deserialize(InputStream in, long length, String manifest) throws NotSerializableException {
    return read(new SizedInput(in, length), length, manifest);
  }

  private Object read(Input in, long length, String manifest) throws NotSerializableException {
    WireRegistry.Entry entry = WireRegistry.byManifest(manifest)
        .filter(e -> WireMessage.class.isAssignableFrom(e.type()))
        .orElseThrow(() -> new NotSerializableException("unknown wire manifest \"" + manifest + "\""));
    try {
      Object message = kryo.get().readObject(in, entry.type());
      if (in.total() != length) throw new IllegalStateException((length - in.total()) + " trailing bytes");
      return message;
    } catch (RuntimeException e) {
      NotSerializableException n = new NotSerializableException("cannot read " + manifest + ": " + e.getMessage());
      n.initCause(e);
      throw n;
    }
  }

  private static WireRegistry.Entry messageEntry(Object o) {
    return WireRegistry.byClass(o.getClass())
        .filter(e -> o instanceof WireMessage)
        .orElseThrow(() -> new IllegalArgumentException(
            o.getClass().getName() + " is not a registered wire message (add it to WireRegistry)"));
  }

  /**
   * Refs via the system's {@link ActorRefResolver}, looked up on first use (the serializer is built
   * during start-up).
   */
  private static final class ResolverCodec implements ActorRefCodec {
    private final ExtendedActorSystem system;
    private volatile ActorRefResolver resolver;

    ResolverCodec(ExtendedActorSystem system) {
      this.system = system;
    }

    private ActorRefResolver resolver() {
      ActorRefResolver r = resolver;
      if (r == null) resolver = r = ActorRefResolver.get(Adapter.toTyped(system));
      return r;
    }

    @Override
    public String toWire(ActorRef<?> ref) {
      return resolver().toSerializationFormat(ref);
    }

    @Override
    public ActorRef<?> fromWire(String path) {
      return resolver().resolveActorRef(path);
    }
  }
}
