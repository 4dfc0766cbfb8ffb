package dev.loraone.protocol.wire;

import org.apache.pekko.actor.typed.ActorRef;

/**
 * How {@link WireRecordSerializer} writes {@code ActorRef} record components: as Pekko's
 * serialization-format string (full address), resolved on arrival. {@link KryoSerializer} binds it
 * to its actor system; a Kryo made without one refuses refs with a clear message.
 */
interface ActorRefCodec {
  String toWire(ActorRef<?> ref);

  ActorRef<?> fromWire(String path);

  ActorRefCodec NONE = new ActorRefCodec() {
    @Override
    public String toWire(ActorRef<?> ref) {
      throw new IllegalStateException("ActorRef " + ref + " cannot be written without an actor system");
    }

    @Override
    public ActorRef<?> fromWire(String path) {
      throw new IllegalStateException("ActorRef " + path + " cannot be read without an actor system");
    }
  };
}
