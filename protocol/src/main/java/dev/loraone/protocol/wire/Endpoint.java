package dev.loraone.protocol.wire;

import dev.loraone.protocol.transport.TransferMessage;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Where to reach a peer: its actor for small messages, and its node's transfer inbox for messages
 * larger than an Artery frame (see {@code transport.ChunkSender}). Both refs travel as Pekko's
 * serialization-format strings, resolved with {@code ActorRefResolver} on arrival.
 *
 * @param <M> the messages the actor accepts
 */
public record Endpoint<M>(ActorRef<M> actor, ActorRef<TransferMessage> inbox) {
  public Endpoint {
    WireChecks.notNull("actor", actor);
    WireChecks.notNull("inbox", inbox);
  }
}
