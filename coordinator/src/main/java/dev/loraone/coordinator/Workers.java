package dev.loraone.coordinator;

import dev.loraone.protocol.wire.Endpoint;
import dev.loraone.protocol.wire.WorkerMessage;
import java.util.Collections;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The workers whose registration the coordinator accepted, by id, with the endpoint of their
 * current incarnation (a restarted worker registers again under its id with new refs). Whether a
 * worker also serves the job (its layout matched) is {@code CoordinatorState.workers()}.
 */
record Workers(NavigableMap<String, Endpoint<WorkerMessage>> endpoints) {
  private static final Workers NONE = new Workers(new TreeMap<>());

  Workers {
    endpoints = Collections.unmodifiableNavigableMap(new TreeMap<>(endpoints));
  }

  Endpoint<WorkerMessage> get(String worker) {
    return endpoints.get(worker);
  }

  Workers with(String worker, Endpoint<WorkerMessage> endpoint) {
    TreeMap<String, Endpoint<WorkerMessage>> m = new TreeMap<>(endpoints);
    m.put(worker, endpoint);
    return new Workers(m);
  }

  Workers without(String worker) {
    if (!endpoints.containsKey(worker)) return this;
    TreeMap<String, Endpoint<WorkerMessage>> m = new TreeMap<>(endpoints);
    m.remove(worker);
    return new Workers(m);
  }

  /** Whether {@code worker}'s current incarnation is the one whose actor is {@code actor}. */
  boolean isCurrent(String worker, Object actor) {
    Endpoint<WorkerMessage> e = endpoints.get(worker);
    return e != null && e.actor().equals(actor);
  }

  static Workers none() {
    return NONE;
  }

  @Override
  public String toString() {
    return endpoints.keySet().toString();
  }
}
