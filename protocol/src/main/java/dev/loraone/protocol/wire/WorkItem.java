package dev.loraone.protocol.wire;

/**
 * One unit of work the coordinator hands out, named by the ids that make its handlers idempotent.
 * Carried by {@link CoordinatorMessage.WorkFailed} so the coordinator knows exactly what to
 * reassign.
 */
public sealed interface WorkItem {
  /** Sum the full gradient over one init shard's micro-batches. */
  record InitShard(int group, int shard) implements WorkItem {
    public InitShard {
      WireChecks.nonNegative("group", group);
      WireChecks.nonNegative("shard", shard);
    }
  }

  /** One randomized-SVD product for one layer of one shard. */
  record Sketch(int group, int round, String layer, int shard) implements WorkItem {
    public Sketch {
      WireChecks.nonNegative("group", group);
      WireChecks.nonNegative("round", round);
      WireChecks.notNull("layer", layer);
      WireChecks.nonNegative("shard", shard);
    }
  }

  /** LoRA gradients of one training micro-batch. */
  record Gradients(long step, int microBatch) implements WorkItem {
    public Gradients {
      WireChecks.nonNegative("step", step);
      WireChecks.nonNegative("microBatch", microBatch);
    }
  }

  /** Loss and metrics of one evaluation batch. */
  record Evaluation(long step, int batch) implements WorkItem {
    public Evaluation {
      WireChecks.nonNegative("step", step);
      WireChecks.nonNegative("batch", batch);
    }
  }

  /** The merged-model and adapter export. */
  record Export(long step) implements WorkItem {
    public Export {
      WireChecks.nonNegative("step", step);
    }
  }

  /**
   * Opening the job on the worker ({@code JoinJob}): loading {@code model} and the data. A failure
   * here names the file or key at fault.
   */
  record Join(String model) implements WorkItem {
    public Join {
      WireChecks.notNull("model", model);
    }
  }
}
