package dev.loraone.worker.train;

import ai.djl.ndarray.NDArray;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.AdaptedModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One task on one model family: what {@link WorkerEngine} needs to run any job, so the engine, the
 * local driver ({@link LocalRun}) and the worker actor are written once. Adding a task or a family
 * is one implementation of this interface ({@link ClassificationWorkload}: BERT classifier;
 * {@link CausalLmWorkload}: Llama causal LM; {@link EmbeddingWorkload}: BERT sentence embeddings).
 *
 * <pre>
 *   unit            loss term L            weight w          metrics (sums)
 *   classification  mean CE of the batch   1                 correct
 *   causal-lm       summed token CE        completion tokens tokens
 *   embedding       mean in-batch-neg. CE  1                 (eval: recall@1, recall@10, mrr@10, ndcg@10)
 *   step            g = sum_k dL_k / sum_k w_k     (micro-batches k in index order)
 *   init batch i    dL_i/dW / w_i per adapted module: each init batch's mean loss, as the paper's
 *                   one-step estimate (reference 2.2) averages per-batch mean gradients
 * </pre>
 * Each unit is two calls: {@code encode*} (tokenisation and batch arrays: pure CPU, thread-safe, so
 * the worker runs it ahead on another thread) and the compute that takes its {@link Input} (DJL, on
 * the one DJL thread). The same indices encode to the same input on any thread.
 */
public interface Workload extends AutoCloseable {

  /**
   * {@code classification}, {@code causal-lm} or {@code embedding}: the layout's {@code task.type}, which
   * names metrics and PEFT's task type.
   */
  String taskType();

  /** SHA-256 of the model id and base weights, computed when the workload opened. */
  String modelHash();

  AdaptedModel model();

  /** The base model's id, the adapter's {@code base_model_name_or_path}. */
  String modelId();

  int trainSize();

  int evalSize();

  /** Class names in id order; empty for tasks without classes. */
  List<String> labels();

  /**
   * Trainable dense parameters beside the adapters ({@code classifier.weight}, {@code
   * classifier.bias}), in order; or none.
   */
  List<String> headNames();

  /** Init batch {@code i} (training examples {@code idx}) as model input. Thread-safe, no DJL: may run ahead. */
  Input encodeInit(int i, int[] idx);

  /**
   * Tokens of training example {@code i} as a micro-batch encodes it (before padding), for
   * length-bucketed micro-batches; 0 when this task's micro-batches must keep the examples the plan
   * gave them (embedding: a micro-batch is its in-batch negatives' pool). Thread-safe, no DJL.
   */
  default int trainLength(int i) {
    return 0;
  }

  /** Training micro-batch {@code index} (examples {@code idx}) as model input. Thread-safe, no DJL. */
  Input encodeTrain(long index, int[] idx);

  /** The evaluation examples {@code idx} (indices into the eval set) as model input. Thread-safe, no DJL. */
  Input encodeEval(int[] idx);

  /** Gradients of the adapted base weights {@code [out,in]} for an encoded init batch, divided by its weight. */
  default InitUnit initGradients(Input batch) {
    return initGradients(batch, model().adaptedModules());
  }

  /**
   * {@link #initGradients(Input)} of {@code modules} only (one pass of a memory-bounded estimate): only
   * their base weights take a gradient; each one's bits are those of the all-module pass.
   */
  default InitUnit initGradients(Input batch, List<String> modules) {
    Map<String, float[]> weights = new LinkedHashMap<>();
    double loss = initGradients(batch, modules, weights::put);
    return new InitUnit(loss, weights);
  }

  /**
   * {@link #initGradients(Input, List)} streamed: each module's gradient goes to {@code sink} as soon as
   * it is read, in the order of {@code modules}, and its native array is freed then; no more than one
   * module's gradient is held outside the sink. Same bits as the map form.
   *
   * @return the init batch's mean loss
   */
  double initGradients(Input batch, List<String> modules, GradientSink sink);

  /** Takes one module's init gradient {@code [out,in]} row-major, divided by its batch's weight. */
  @FunctionalInterface
  interface GradientSink {
    /** {@code gradient} is the sink's own (the caller keeps no reference). */
    void accept(String module, float[] gradient);

    /**
     * The gradient as the native float32 array it was computed in, valid only during the call (the
     * caller closes it). By default it is read to the heap for {@link #accept(String, float[])}; a sink
     * that sums natively overrides this and never copies it.
     */
    default void accept(String module, NDArray gradient) {
      accept(module, gradient.toFloatArray());
    }
  }

  /** LoRA (and head) gradients of an encoded training micro-batch. */
  TrainUnit loraGradients(Input batch, long dropoutSeed);

  /** Sums over encoded evaluation examples. */
  EvalUnit evaluate(Input examples);

  /** The {@code j}-th of the first {@code n} evaluation examples (classification spreads them over the classes). */
  int evalExample(int j, int n);

  /** The merged model to {@code dir}: {@code model.onnx} (+ external data) and the tokenizer (and config) beside it. */
  OnnxExport exportOnnx(Path dir, List<String> labels) throws IOException;

  @Override
  void close();

  /**
   * A unit's model input: token ids, masks and targets in Java arrays, no DJL. Each workload makes
   * its own from example indices ({@code encode*}) and takes only its own in the compute methods.
   */
  interface Input {}

  /** The mean loss of an init batch and the gradients of the adapted base weights, by module, row-major. */
  record InitUnit(double loss, Map<String, float[]> weights) {}

  /** A micro-batch's loss term, its weight, example count and metric sums; row-major gradients. */
  record TrainUnit(
      double lossSum,
      double weight,
      int examples,
      Map<String, Double> metrics,
      Map<String, float[][]> adapters,
      Map<String, float[]> head) {

    /**
     * {@code metrics} plus a micro-batch's padding as sums the coordinator adds up like any metric:
     * {@code positions} (attended tokens of {@code attentionMask}) and {@code slots} (rows x padded length),
     * so a step reports {@code padding = 1 - positions / slots} ({@code TaskMetrics.summarise}).
     */
    static Map<String, Double> withPadding(long[] attentionMask, Map<String, Double> metrics) {
      long real = 0;
      for (long m : attentionMask) real += m;
      Map<String, Double> out = new java.util.LinkedHashMap<>(metrics);
      out.put("positions", (double) real);
      out.put("slots", (double) attentionMask.length);
      return out;
    }
  }

  /** Summed loss over {@code weight} loss items and metric sums of evaluation examples. */
  record EvalUnit(double lossSum, double weight, int examples, Map<String, Double> sums) {}
}
