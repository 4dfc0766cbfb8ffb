package dev.loraone.protocol.wire;

import static dev.loraone.protocol.wire.WireChecks.list;
import static dev.loraone.protocol.wire.WireChecks.nonNegative;
import static dev.loraone.protocol.wire.WireChecks.notNull;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Messages between the service's scheduler and a worker node's agent (the node's guardian, listed
 * under the receptionist key {@code loraone-node}). The scheduler learns each node's capacity and
 * tells a node which of the service's coordinators to serve; a node serves no service coordinator
 * it was not told to.
 *
 * <pre>
 *   scheduler                        node agent
 *     Describe(replyTo)     -----&gt;     on seeing the agent listed
 *                           &lt;-----   Capacity(agent, node, workers, devices, memory)
 *     Serve(job, coordinator) ---&gt;     spawn one worker actor per device for that coordinator
 * </pre>
 */
public sealed interface NodeMessage extends WireMessage {

  /** Asks a node agent for its {@link Capacity}. */
  record Describe(ActorRef<NodeMessage> replyTo) implements NodeMessage {
    public Describe {
      notNull("replyTo", replyTo);
    }
  }

  /**
   * What a node offers: its worker ids (one per device) and the bytes of memory jobs may use on it
   * ({@code --memory}, beyond the node's own runtime).
   *
   * @param node the node's cluster address, {@code host:port}
   */
  record Capacity(ActorRef<NodeMessage> agent, String node, List<String> workers, List<String> devices,
      long memoryBytes) implements NodeMessage {
    public Capacity {
      notNull("agent", agent);
      notNull("node", node);
      workers = list("workers", workers);
      devices = list("devices", devices);
      nonNegative("memoryBytes", memoryBytes);
      if (workers.size() != devices.size()) {
        throw new IllegalArgumentException(workers.size() + " workers for " + devices.size() + " devices");
      }
    }
  }

  /** Serve {@code job}: spawn this node's worker actors for its coordinator (listed under the placed key). */
  record Serve(JobId job, ActorRef<CoordinatorMessage> coordinator) implements NodeMessage {
    public Serve {
      notNull("job", job);
      notNull("coordinator", coordinator);
    }
  }
}
