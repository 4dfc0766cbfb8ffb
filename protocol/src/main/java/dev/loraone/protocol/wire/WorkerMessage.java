package dev.loraone.protocol.wire;

import static dev.loraone.protocol.wire.WireChecks.list;
import static dev.loraone.protocol.wire.WireChecks.nonNegative;
import static dev.loraone.protocol.wire.WireChecks.notNull;
import static dev.loraone.protocol.wire.WireChecks.sortedMap;

import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import java.util.List;
import java.util.Map;

/**
 * Messages the coordinator sends to a worker (DESIGN.md section 4). Commands are imperative and
 * carry the ids that make the worker's handlers idempotent: a repeated command for work the
 * worker already did is answered again, not redone.
 *
 * <pre>
 *   coordinator                               worker
 *     RegistrationAccepted | Rejected  -----&gt;   after RegisterWorker
 *     JoinJob                          -----&gt;   on join, before any work of the job
 *     AssignInitShard                  -----&gt;   GradientAccumulation
 *     SketchRequest (per round, layer) -----&gt;   SvdInit                   [chunked when large]
 *     AdapterVersion                   -----&gt;   after init and each step  [chunked when large]
 *     ComputeGradients                 -----&gt;   Training
 *     Evaluate                         -----&gt;   Evaluation
 *     Export                           -----&gt;   Export
 *     CancelJob                        -----&gt;   any phase
 * </pre>
 */
public sealed interface WorkerMessage extends WireMessage {

  /** Registration succeeded; replies and chunked uploads go to {@code coordinator}'s endpoint. */
  record RegistrationAccepted(WorkerId worker, Endpoint<CoordinatorMessage> coordinator) implements WorkerMessage {
    public RegistrationAccepted {
      notNull("worker", worker);
      notNull("coordinator", coordinator);
    }
  }

  /** Registration refused, e.g. a protocol version mismatch or a duplicate worker id. */
  record RegistrationRejected(WorkerId worker, String reason) implements WorkerMessage {
    public RegistrationRejected {
      notNull("worker", worker);
      notNull("reason", reason);
    }
  }

  /**
   * Serve this job: sent on join, before any of the job's work. The spec travels as its canonical
   * text ({@link JobSpec#render()}), so coordinator and workers read the same values.
   *
   * @param spec the job's full configuration, {@link JobSpec#render()}
   * @param baseModelHash hash of the base model's weights; a worker with another model fails the job
   */
  record JoinJob(JobId job, String spec, String baseModelHash) implements WorkerMessage {
    public JoinJob {
      notNull("job", job);
      notNull("spec", spec);
      notNull("baseModelHash", baseModelHash);
      if (baseModelHash.isBlank()) throw new IllegalArgumentException("baseModelHash must not be blank");
    }

    public static JoinJob of(JobId job, JobSpec spec, String baseModelHash) {
      return new JoinJob(job, spec.render(), baseModelHash);
    }

    /** The spec parsed back (and validated key by key). */
    public JobSpec parsedSpec() {
      return JobSpec.parseString(spec, "job " + job);
    }
  }

  /**
   * Own init shard {@code shard} of module group {@code group} ({@code init.memory-budget}; 0 when the
   * job has one): sum the full gradient of {@code modules} only over {@code microBatches} in this
   * order, and drop the sums of any other group.
   */
  record AssignInitShard(JobId job, int group, int shard, List<Integer> microBatches, List<String> modules)
      implements WorkerMessage {
    public AssignInitShard {
      notNull("job", job);
      nonNegative("group", group);
      nonNegative("shard", shard);
      modules = list("modules", modules);
      for (String m : modules) notNull("module", m);
      microBatches = list("microBatches", microBatches);
      for (int i : microBatches) nonNegative("micro-batch index", i);
    }
  }

  /**
   * One randomized-SVD round for one layer: return {@code G_s X} ({@link SketchSide#RIGHT}) or
   * {@code G_s^T Q} ({@link SketchSide#LEFT}) for each listed shard, one {@code SketchReply} each;
   * the shards are those of module group {@code group}.
   */
  record SketchRequest(JobId job, int group, int round, String layer, SketchSide side, List<Integer> shards,
      TensorBlob operand) implements WorkerMessage {
    public SketchRequest {
      notNull("job", job);
      nonNegative("group", group);
      nonNegative("round", round);
      notNull("layer", layer);
      notNull("side", side);
      shards = list("shards", shards);
      for (int s : shards) nonNegative("shard", s);
      notNull("operand", operand);
    }

    @Override
    public long tensorBytes() {
      return operand.byteSize();
    }
  }

  /**
   * The adapters after {@code step} optimizer steps ({@code 0}: the init), by PEFT parameter
   * name ({@code ...lora_A.weight}, {@code ...lora_B.weight}); they replace the worker's copy.
   */
  record AdapterVersion(JobId job, long step, Map<String, TensorBlob> adapters) implements WorkerMessage {
    public AdapterVersion {
      notNull("job", job);
      nonNegative("step", step);
      adapters = sortedMap("adapters", adapters);
    }

    @Override
    public long tensorBytes() {
      return WireMessage.tensorBytes(adapters);
    }
  }

  /** LoRA gradients of micro-batch {@code microBatch} under adapter version {@code step}. */
  record ComputeGradients(JobId job, long step, int microBatch) implements WorkerMessage {
    public ComputeGradients {
      notNull("job", job);
      nonNegative("step", step);
      nonNegative("microBatch", microBatch);
    }
  }

  /** Evaluate batch {@code batch} of the eval set under adapter version {@code step}. */
  record Evaluate(JobId job, long step, int batch) implements WorkerMessage {
    public Evaluate {
      notNull("job", job);
      nonNegative("step", step);
      nonNegative("batch", batch);
    }
  }

  /**
   * Merge adapter version {@code step} and write {@code formats} (e.g. {@code onnx}, {@code peft})
   * under {@code destination}.
   */
  record Export(JobId job, long step, String destination, List<String> formats)
      implements WorkerMessage {
    public Export {
      notNull("job", job);
      nonNegative("step", step);
      notNull("destination", destination);
      formats = list("formats", formats);
    }
  }

  /** Stop all work of the job and drop its state. */
  record CancelJob(JobId job, String reason) implements WorkerMessage {
    public CancelJob {
      notNull("job", job);
      notNull("reason", reason);
    }
  }
}
