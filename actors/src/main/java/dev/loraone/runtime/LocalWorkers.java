package dev.loraone.runtime;

import dev.loraone.worker.actor.WorkerActor;

/** Worker actors of this JVM: the gpu-worker module's {@link WorkerActor} on the CPU. */
public final class LocalWorkers {
  private LocalWorkers() {}

  public static EmbeddedJob.WorkerFactory factory() {
    return (id, coordinator, inbox) -> WorkerActor.create(id, "cpu", coordinator.actor(), inbox);
  }
}
