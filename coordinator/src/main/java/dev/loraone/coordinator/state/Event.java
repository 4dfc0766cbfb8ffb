package dev.loraone.coordinator.state;

/**
 * What the coordinator actor observed, as input to {@link CoordinatorState#on}. Results carry only
 * their addresses; the tensors stay in the actor's buffers, keyed by the same addresses.
 */
public sealed interface Event {
  record WorkerJoined(String worker) implements Event {}

  record WorkerLeft(String worker) implements Event {}

  /** The owner of init shard {@code shard} holds its summed gradient of module group {@code group}'s modules. */
  record ShardReady(String worker, int group, int shard) implements Event {
    /** Of module group 0 (a plan of one group). */
    public ShardReady(String worker, int shard) {
      this(worker, 0, shard);
    }
  }

  /** A shard's product for SVD round {@code round} of module group {@code group} arrived. */
  record SketchReceived(String worker, int group, int round, int shard) implements Event {
    /** Of module group 0 (a plan of one group). */
    public SketchReceived(String worker, int round, int shard) {
      this(worker, 0, round, shard);
    }
  }

  /** The LoRA gradient of training micro-batch {@code index} arrived. */
  record GradientReceived(String worker, int step, long index) implements Event {}

  /** The actor summed step {@code step}'s gradients in index order and stepped the optimizer. */
  record StepApplied(int step) implements Event {}

  record EvalReceived(String worker, int afterStep, int batch) implements Event {}

  record Exported(String worker) implements Event {}

  record Failed(String reason) implements Event {}
}
