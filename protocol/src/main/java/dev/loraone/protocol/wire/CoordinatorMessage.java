package dev.loraone.protocol.wire;

import static dev.loraone.protocol.wire.WireChecks.nonNegative;
import static dev.loraone.protocol.wire.WireChecks.notNull;
import static dev.loraone.protocol.wire.WireChecks.sortedMap;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
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
 *     JobJoined ----------------------------&gt;   after JoinJob            [chunked when large]
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
   * A worker announces itself. The coordinator rejects a different {@code protocolVersion} ({@link
   * WireRegistry#PROTOCOL_VERSION}): records serialize positionally, so both sides must run the
   * same wire classes.
   *
   * @param device e.g. {@code cpu}, {@code cuda:0}
   * @param runtime free-form facts for logs and placement: JVM, DJL engine, threads, memory
   */
  record RegisterWorker(
      WorkerId worker,
      int protocolVersion,
      String device,
      Map<String, String> runtime,
      Endpoint<WorkerMessage> endpoint)
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
   * The worker opened the job ({@code JoinJob}): it loaded the model and the data, ran the init
   * locally when that needs no gradient (LoRA, Gaussian, PiSSA, whose W0 offset it applied to its
   * own copy), and describes what it holds. Every worker of a job sends the same layout; the
   * coordinator keeps the first and checks the others against it.
   *
   * <pre>
   *   key                    dtype shape     meaning
   *   &lt;module&gt;.shape         I64  [2]       {out, in} of each adapted module (PEFT: A:[r,in], B:[out,r])
   *   &lt;module&gt;.index         I64  [1]       its position in model order (seeds its init: Seeds.MODULE_SVD +
   *       index)
   *   classifier.weight      F32  [C,H]     the head's initial values
   *   classifier.bias        F32  [C]
   *   &lt;module&gt;.lora_A        F32  [r,in]    A0, only when the init ran on the worker
   *   &lt;module&gt;.lora_B        F32  [out,r]   B0, likewise
   *   init.modifies-base     I64  [1]       1 when the init moved part of W0 into the adapter (PiSSA)
   *   data.train-examples    I64  [1]       training examples (micro-batches address them)
   *   data.eval-examples     I64  [1]       evaluation examples used: Evaluate batches of 32 cover them
   *   data.labels            U8   [bytes]   class names in id order, a UTF-8 JSON array
   *   model.sha256           U8   [64]      hex SHA-256 of the model id and base weights
   *   model.id               U8   [bytes]   the base model's id (UTF-8), the adapter's base_model_name_or_path
   *   task.type              U8   [bytes]   classification | causal-lm | embedding (UTF-8): metrics and PEFT task type
   *   device.kind            U8   [bytes]   cpu | cuda: a worker of another kind sends another layout and is refused
   *   eval.step-zero         I64  [1]       1: evaluate the model as opened (Evaluate at step 0) before the init
   * </pre>
   *
   * The accessors below decode it, so neither side spells a key twice.
   */
  record JobJoined(JobId job, WorkerId worker, Map<String, TensorBlob> layout)
      implements CoordinatorMessage {
    public static final String SHAPE = ".shape";
    public static final String INDEX = ".index";
    public static final String LORA_A = ".lora_A";
    public static final String LORA_B = ".lora_B";
    public static final String HEAD_WEIGHT = "classifier.weight";
    public static final String HEAD_BIAS = "classifier.bias";
    public static final String MODIFIES_BASE = "init.modifies-base";
    public static final String TRAIN_EXAMPLES = "data.train-examples";
    public static final String EVAL_EXAMPLES = "data.eval-examples";
    public static final String LABELS = "data.labels";
    public static final String MODEL_SHA256 = "model.sha256";
    public static final String MODEL_ID = "model.id";
    public static final String TASK_TYPE = "task.type";
    public static final String DEVICE_KIND = "device.kind";
    public static final String EVAL_STEP_ZERO = "eval.step-zero";
    /** Examples per {@code Evaluate} batch. */
    public static final int EVAL_BATCH = 32;

    private static final ObjectMapper JSON = new ObjectMapper();

    public JobJoined {
      notNull("job", job);
      notNull("worker", worker);
      layout = sortedMap("layout", layout);
    }

    @Override
    public long tensorBytes() {
      return WireMessage.tensorBytes(layout);
    }

    /** The adapted modules in model order. */
    public List<String> modules() {
      List<String> out = new ArrayList<>();
      layout.keySet().stream()
          .filter(k -> k.endsWith(SHAPE))
          .forEach(k -> out.add(k.substring(0, k.length() - SHAPE.length())));
      out.sort(Comparator.comparingLong(m -> scalar(m + INDEX)));
      return out;
    }

    /** {@code {out, in}} of an adapted module. */
    public int[] shape(String module) {
      long[] s = longs(require(module + SHAPE));
      return new int[] {Math.toIntExact(s[0]), Math.toIntExact(s[1])};
    }

    /** The head's initial values: {@code classifier.weight} [C,H] and {@code classifier.bias} [C]. */
    public Map<String, TensorBlob> head() {
      return Map.of(HEAD_WEIGHT, require(HEAD_WEIGHT), HEAD_BIAS, require(HEAD_BIAS));
    }

    /**
     * A0 and B0 by {@code <module>.lora_A} / {@code <module>.lora_B} when the worker ran the init;
     * empty when the coordinator must.
     */
    public Map<String, TensorBlob> initAdapters() {
      Map<String, TensorBlob> out = new LinkedHashMap<>();
      layout.forEach((k, v) -> {
        if (k.endsWith(LORA_A) || k.endsWith(LORA_B)) out.put(k, v);
      });
      return out;
    }

    /** True when the init changed W0 (PiSSA): the exported adapter is then {@code s(BA - B0A0)} at rank 2r. */
    public boolean initModifiesBase() {
      return scalar(MODIFIES_BASE) != 0;
    }

    /** Whether the job evaluates the model as opened, before its init (optional key: absent is no). */
    public boolean evaluatesStepZero() {
      return layout.containsKey(EVAL_STEP_ZERO) && scalar(EVAL_STEP_ZERO) != 0;
    }

    public int trainExamples() {
      return Math.toIntExact(scalar(TRAIN_EXAMPLES));
    }

    /** Evaluation examples used; batch {@code b} holds examples {@code [32b, min(n, 32b+32))}. */
    public int evalExamples() {
      return Math.toIntExact(scalar(EVAL_EXAMPLES));
    }

    public int evalBatches() {
      return (evalExamples() + EVAL_BATCH - 1) / EVAL_BATCH;
    }

    /** Class names in id order (logit order). */
    public List<String> labels() {
      try {
        return JSON.readValue(require(LABELS).bytes(), new TypeReference<List<String>>() {});
      } catch (java.io.IOException e) {
        throw new IllegalArgumentException(
            "layout key " + LABELS + " is not a JSON array of strings: " + e.getMessage());
      }
    }

    public String modelHash() {
      return new String(require(MODEL_SHA256).bytes(), StandardCharsets.UTF_8);
    }

    /** The task type ({@code classification} when absent). */
    public String taskType() {
      TensorBlob t = layout.get(TASK_TYPE);
      return t == null ? "classification" : new String(t.bytes(), StandardCharsets.UTF_8);
    }

    /** An {@code I64 [n]} tensor, for the scalar and shape entries. */
    public static TensorBlob i64(long... values) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(values.length * 8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      for (long v : values) b.putLong(v);
      return new TensorBlob(DType.I64, new long[] {values.length}, b.array());
    }

    /** A {@code U8 [n]} tensor of UTF-8 text, for the hash. */
    public static TensorBlob utf8(String text) {
      byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
      return new TensorBlob(DType.U8, new long[] {bytes.length}, bytes);
    }

    /** The labels entry: a UTF-8 JSON array. */
    public static TensorBlob labelsBlob(List<String> labels) {
      try {
        return utf8(JSON.writeValueAsString(labels));
      } catch (JsonProcessingException e) {
        throw new IllegalArgumentException("labels cannot be written as JSON", e);
      }
    }

    private TensorBlob require(String key) {
      TensorBlob t = layout.get(key);
      if (t == null)
        throw new IllegalArgumentException(
            "layout of worker " + worker + " for job " + job + " has no key " + key);
      return t;
    }

    private long scalar(String key) {
      return longs(require(key))[0];
    }

    private static long[] longs(TensorBlob t) {
      if (t.dtype() != DType.I64) throw new IllegalArgumentException("expected an I64 tensor, got " + t);
      long[] out = new long[Math.toIntExact(t.numel())];
      t.buffer().asLongBuffer().get(out);
      return out;
    }
  }

  /**
   * The worker summed the full gradient of every target weight over the shard's micro-batches in
   * index order and holds it for the SVD rounds.
   */
  record InitShardAccumulated(JobId job, WorkerId worker, int group, int shard, int microBatches, double lossSum)
      implements CoordinatorMessage {
    public InitShardAccumulated {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("group", group);
      nonNegative("shard", shard);
      nonNegative("microBatches", microBatches);
    }
  }

  /** One shard's product for one layer in one SVD round: {@code [m,q]} (RIGHT) or {@code [n,q]} (LEFT). */
  record SketchReply(JobId job, WorkerId worker, int group, int round, int shard, String layer, TensorBlob product)
      implements CoordinatorMessage {
    public SketchReply {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("group", group);
      nonNegative("round", round);
      nonNegative("shard", shard);
      notNull("layer", layer);
      notNull("product", product);
    }

    @Override
    public long tensorBytes() {
      return product.byteSize();
    }
  }

  /**
   * LoRA gradients of one micro-batch's loss term, by PEFT parameter name; the coordinator sums
   * them over the step's micro-batches in index order and divides by the summed {@code weight}.
   *
   * <pre>
   *   task             lossSum (the term whose gradient is sent)   weight              metrics
   *   classification   mean loss of the micro-batch                1                   correct
   *   causal-lm        summed token loss of the micro-batch        completion tokens   tokens
   *   step             loss = sum lossSum / sum weight;  g = sum grads / sum weight   (index order)
   * </pre>
   * So the step's result does not depend on how its micro-batches were spread over workers.
   *
   * @param metrics task sums over the micro-batch (e.g. {@code correct}), reduced like the loss
   */
  record GradientsComputed(
      JobId job, WorkerId worker, long step, int microBatch, int examples, double weight, double lossSum,
      Map<String, Double> metrics, Map<String, TensorBlob> gradients)
      implements CoordinatorMessage {
    public GradientsComputed {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("step", step);
      nonNegative("microBatch", microBatch);
      nonNegative("examples", examples);
      if (!(weight >= 0)) throw new IllegalArgumentException("weight must be >= 0, got " + weight);
      metrics = sortedMap("metrics", metrics);
      gradients = sortedMap("gradients", gradients);
    }

    @Override
    public long tensorBytes() {
      return WireMessage.tensorBytes(gradients);
    }
  }

  /**
   * Sums over one evaluation batch: {@code lossSum} over {@code weight} loss items (examples for
   * classification, tokens for causal LM) and task metrics as sums (e.g. {@code correct}), so the
   * coordinator can reduce batches in index order before dividing.
   */
  record Evaluated(
      JobId job,
      WorkerId worker,
      long step,
      int batch,
      int examples,
      double weight,
      double lossSum,
      Map<String, Double> sums)
      implements CoordinatorMessage {
    public Evaluated {
      notNull("job", job);
      notNull("worker", worker);
      nonNegative("step", step);
      nonNegative("batch", batch);
      nonNegative("examples", examples);
      if (!(weight >= 0)) throw new IllegalArgumentException("weight must be >= 0, got " + weight);
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
