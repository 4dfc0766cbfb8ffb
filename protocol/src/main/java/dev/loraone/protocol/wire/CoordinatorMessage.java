package dev.loraone.protocol.wire;

import static dev.loraone.protocol.wire.WireChecks.nonNegative;
import static dev.loraone.protocol.wire.WireChecks.notNull;
import static dev.loraone.protocol.wire.WireChecks.sortedMap;

import dev.loraone.protocol.tensor.TensorBlob;
import java.util.Map;

/**
 * Messages a worker sends to the coordinator (DESIGN.md section 4). Every reply names the worker
 * and the ids of the work it answers, so the coordinator's handlers are idempotent: a redelivered
 * or late reply for work already reduced is dropped by id.
 *
 * <p>Messages holding tensors can exceed Artery's 256 KiB frame, which Artery drops silently:
 * send those through {@code transport.ChunkSender} to the coordinator's {@link Endpoint#inbox()}.
 * The inbox delivers the reassembled message to the coordinator as if it had been told directly.
 *
 * <pre>
 *   worker                                    coordinator
 *     RegisterWorker  ----------------------&gt;   (RegistrationAccepted | RegistrationRejected)
 *     Heartbeat       ----------------------&gt;   every few seconds while alive
 *     InitShardAccumulated -----------------&gt;   after AssignInitShard
 *     SketchReply (per shard, per layer) ---&gt;   after SketchRequest      [chunked when large]
 *     GradientsComputed --------------------&gt;   after ComputeGradients   [chunked when large]
 *     Evaluated ----------------------------&gt;   after Evaluate
 *     Exported -----------------------------&gt;   after Export
 *     WorkFailed ---------------------------&gt;   instead of any reply above
 * </pre>
 */
public sealed interface CoordinatorMessage extends WireMessage {

  /**
   * A worker announces itself. The coordinator rejects a different {@code protocolVersion}
   * ({@link WireRegistry#PROTOCOL_VERSION}): records serialize positionally, so both sides must
   * run the same wire classes.
   *
   * @param device e.g. {@code cpu}, {@code cuda:0}
   * @param runtime free-form facts for logs and placement: JVM, DJL engine, threads, memory
   */
  record RegisterWorker(
      WorkerId worker, int protocolVersion, String device, Map<String, String> runtime, Endpoint<WorkerMessage> endpoint)
      implements CoordinatorMessage {
    public RegisterWorker {
      notNull("worker", worker);
      notNull("device", device);
      runtime = sortedMap("runtime", runtime);
      notNull("endpoint", endpoint);
    }
  }

  /** Liveness beyond Pekko's failure detector: a worker stuck in a native call stops beating. */
  record Heartbeat(WorkerId worker, long sequence) implements CoordinatorMessage {
    public Heartbeat {
      notNull("worker", worker);
      nonNegative("sequence", sequence);
    }
  }

  /**
   * The worker summed the full gradient of every target weight over the shard's micro-batches in
   * index order and holds it for the SVD rounds.
   */
  record InitShardAccumulated(JobId job, WorkerId worker, int shard, int microBatches, double lossSum)
      implements CoordinatorMessage {
    public InitShardAccumulated {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("shard", shard);
      nonNegative("microBatches", microBatches);
    }
  }

  /** One shard's product for one layer in one SVD round: {@code [m,q]} (RIGHT) or {@code [n,q]} (LEFT). */
  record SketchReply(JobId job, WorkerId worker, int round, int shard, String layer, TensorBlob product)
      implements CoordinatorMessage {
    public SketchReply {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("round", round);
      nonNegative("shard", shard);
      notNull("layer", layer);
      notNull("product", product);
    }
  }

  /**
   * LoRA gradients of one micro-batch's summed loss, by PEFT parameter name; the coordinator sums
   * them over the step's micro-batches in index order.
   */
  record GradientsComputed(
      JobId job, WorkerId worker, long step, int microBatch, int examples, double lossSum,
      Map<String, TensorBlob> gradients)
      implements CoordinatorMessage {
    public GradientsComputed {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("step", step);
      nonNegative("microBatch", microBatch);
      nonNegative("examples", examples);
      gradients = sortedMap("gradients", gradients);
    }
  }

  /**
   * Sums over one evaluation batch; {@code sums} holds task metrics as sums (e.g. {@code correct},
   * {@code tokens}) so the coordinator can reduce batches in index order before dividing.
   */
  record Evaluated(JobId job, WorkerId worker, long step, int batch, int examples, double lossSum, Map<String, Double> sums)
      implements CoordinatorMessage {
    public Evaluated {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("step", step);
      nonNegative("batch", batch);
      nonNegative("examples", examples);
      sums = sortedMap("sums", sums);
    }
  }

  /** The export is written; {@code files} maps each file name under {@code destination} to its SHA-256 (hex). */
  record Exported(JobId job, WorkerId worker, long step, String destination, Map<String, String> files)
      implements CoordinatorMessage {
    public Exported {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("step", step);
      notNull("destination", destination);
      files = sortedMap("files", files);
    }
  }

  /** The worker could not do {@code item}; the coordinator reassigns it (the worker may be healthy). */
  record WorkFailed(JobId job, WorkerId worker, WorkItem item, String reason) implements CoordinatorMessage {
    public WorkFailed {
      notNull("job", job);
      notNull("worker", worker);
      notNull("item", item);
      notNull("reason", reason);
    }
  }
}
