package dev.loraone.worker.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.worker.model.CausalLmLoss;
import dev.loraone.worker.model.CheckpointedPass;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraLinear;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * The DJL work of one micro-batch on a {@link LlamaLoraModel}: LoRA gradients, the full gradient
 * of the adapted base weights (LoRA-One's one-step estimate), and evaluation; the causal-LM
 * counterpart of {@link BertStepper}.
 *
 * <pre>
 *   L_sum  = sum over labelled positions of -log p(next token)     ({@link CausalLmLoss#sumAndCount})
 *   LoRA mode:  dL_sum/dA:[r,in], dL_sum/dB:[out,r] per adapted module
 *   full mode:  dL_sum/dW:[out,in] per adapted module (adapters frozen, still in the forward)
 * </pre>
 *
 * <p>Gradients are of the <em>summed</em> token loss and come with the token count, so the caller
 * decides the normalisation: a step divides the index-ordered sum over its micro-batches by its
 * total token count (the mean then does not depend on how the step is split, as HF's {@code
 * num_items_in_batch}); the one-step estimate divides per batch, as the official code's per-batch
 * mean loss. A micro-batch without labelled tokens gives zero gradients without a backward.
 *
 * <p>Same memory and threading rules as {@link BertStepper}: one sub-manager per call, gradients
 * zeroed after reading, one open gradient collector per JVM.
 */
public final class LlamaStepper implements AutoCloseable {
  private final LlamaLoraModel model;
  private final NDManager manager;
  private final ParameterStore store;
  private final boolean checkpointing;

  /** LoRA gradients of a micro-batch's summed token loss, row-major: per module {@code {gA:[r,in], gB:[out,r]}}. */
  public record LoraGradients(double lossSum, int tokens, Map<String, float[][]> adapters) {}

  /** Gradients of the summed token loss w.r.t. the adapted base weights {@code [out,in]}. */
  public record FullGradients(double lossSum, int tokens, Map<String, float[]> weights) {}

  /** Summed token loss and labelled-token count of a full-gradient pass whose gradients went to a sink. */
  public record FullLoss(double lossSum, int tokens) {}

  /** Summed token loss and labelled-token count of a micro-batch, without gradients or dropout. */
  public record Evaluation(double lossSum, int tokens) {}

  public LlamaStepper(LlamaLoraModel model) {
    this(model, Device.cpu());
  }

  /** A stepper whose model, activations and gradients live on {@code device}; only read-outs cross to the host. */
  public LlamaStepper(LlamaLoraModel model, Device device) {
    this(model, device, false);
  }

  /**
   * As {@link #LlamaStepper(LlamaLoraModel, Device)}; with {@code checkpointing}, training forwards
   * keep only each decoder layer's input and the backward recomputes the layers ({@code
   * train.activation-checkpointing}): the same gradient bits, less memory, one more forward of time.
   */
  public LlamaStepper(LlamaLoraModel model, Device device, boolean checkpointing) {
    this.model = model;
    this.checkpointing = checkpointing;
    this.manager = NDManager.newBaseManager(device, "PyTorch");
    model.initialize(manager);
    this.store = new ParameterStore(manager, false);
  }

  public LlamaLoraModel model() {
    return model;
  }

  /** Forward + backward in LoRA mode; adapter dropout masks follow {@code dropoutSeed}. */
  public LoraGradients loraGradients(CausalLmBatch batch, long dropoutSeed) {
    model.freezeBase();
    model.setDropoutSeed(dropoutSeed);
    try (NDManager step = manager.newSubManager()) {
      Forward f = forwardBackward(step, batch);
      Map<String, float[][]> adapters = new LinkedHashMap<>();
      Map<String, Parameter> named = model.namedParameters();
      for (String m : model.adaptedModules()) {
        LoraLinear lin = model.linear(m);
        adapters.put(m, new float[][] {
            take(f, named.get(m + ".lora_A.weight"), lin.rank() * lin.inFeatures()),
            take(f, named.get(m + ".lora_B.weight"), lin.outFeatures() * lin.rank())});
      }
      return new LoraGradients(f.lossSum, f.tokens, adapters);
    }
  }

  /** Forward + backward in full-gradient mode: gradients of the adapted modules' base weights only. */
  public FullGradients fullGradients(CausalLmBatch batch) {
    return fullGradients(batch, model.adaptedModules());
  }

  /** {@link #fullGradients(CausalLmBatch)} of {@code modules} only: the others' weights take no gradient. */
  public FullGradients fullGradients(CausalLmBatch batch, List<String> modules) {
    Map<String, float[]> grads = new HashMap<>();
    FullLoss f = fullGradients(batch, modules, false, grads::put);
    Map<String, float[]> ordered = new LinkedHashMap<>(); // module order, however the backward handed them
    for (String m : modules) ordered.put(m, grads.get(m));
    return new FullGradients(f.lossSum(), f.tokens(), ordered);
  }

  /**
   * Gradients of the mean token loss w.r.t. {@code modules}' base weights, streamed: each module's
   * gradient of the summed loss is multiplied in place by {@code 1f / max(tokens, 1)}, handed to {@code
   * sink} and freed (the one-step estimate's per-batch mean; one module's gradient at a time is held
   * outside the sink, not the pass's). In module order after a plain backward; with activation
   * checkpointing, each layer's modules as soon as that layer's backward is done, the top layer first, so
   * the gradients of the layers below are not yet computed.
   */
  public FullLoss meanGradients(CausalLmBatch batch, List<String> modules, Workload.GradientSink sink) {
    return fullGradients(batch, modules, true, sink);
  }

  private FullLoss fullGradients(CausalLmBatch batch, List<String> modules, boolean mean, Workload.GradientSink sink) {
    model.fullGradientMode(modules);
    try (NDManager step = manager.newSubManager()) {
      Set<String> unread = new LinkedHashSet<>(modules);
      float[] scale = {1f};
      IntConsumer emit = layer -> { // checkpointed: each layer's modules as soon as its backward is done
        for (String m : model.layerModules(layer)) {
          if (unread.remove(m)) emitGradient(step, m, true, mean ? scale[0] : 1f, sink);
        }
      };
      Forward f = forwardBackward(step, batch, tokens -> scale[0] = 1f / Math.max(tokens, 1), emit);
      for (String m : List.copyOf(unread)) emitGradient(step, m, f.backward, mean ? scale[0] : 1f, sink);
      return new FullLoss(f.lossSum, f.tokens);
    } finally {
      model.freezeBase();
    }
  }

  /** Module {@code m}'s weight gradient (zeros if no backward ran), times {@code scale}, to the sink; freed then. */
  private void emitGradient(NDManager step, String m, boolean backward, float scale, Workload.GradientSink sink) {
    LoraLinear lin = model.linear(m);
    try (NDArray g = backward ? lin.takeWeightGradient()
        : step.zeros(new Shape(lin.outFeatures(), lin.inFeatures()))) {
      if (scale != 1f) g.muli(scale); // float32 products, as v[k] *= scale
      sink.accept(m, g);
    }
  }

  /** Inference-mode forward: summed token loss and count. */
  public Evaluation evaluate(CausalLmBatch batch) {
    // no autograd graph: the adapters require a gradient, and a graph would keep every layer's
    // activations until the batch is done (at 1B and 512 tokens, gigabytes above a training step)
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager step = manager.newSubManager()) {
      NDArray[] sumCount =
          model.loss(store, LlamaLoraModel.inputs(step, batch), CausalLmLoss.labels(step, batch), false);
      return new Evaluation(sumCount[0].getFloat(), Math.round(sumCount[1].getFloat()));
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  private record Forward(double lossSum, int tokens, boolean backward) {}

  private Forward forwardBackward(NDManager step, CausalLmBatch batch) {
    return forwardBackward(step, batch, tokens -> { }, layer -> { });
  }

  /**
   * The forward and backward of {@code batch}; {@code counted} gets the labelled token count before the
   * backward runs, and the checkpointed backward tells {@code layerDone} each decoder layer as soon as
   * its gradients are complete (the plain one tells none: every gradient is complete when it returns).
   */
  private Forward forwardBackward(NDManager step, CausalLmBatch batch, IntConsumer counted, IntConsumer layerDone) {
    NDList in = LlamaLoraModel.inputs(step, batch);
    NDArray labels = CausalLmLoss.labels(step, batch);
    if (checkpointing) {
      return forwardBackwardCheckpointed(in, labels, counted, layerDone);
    }
    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
      NDArray[] sumCount = model.loss(store, in, labels, true);
      int tokens = Math.round(sumCount[1].getFloat());
      counted.accept(tokens);
      if (tokens == 0) {
        return new Forward(0, 0, false); // nothing to learn from; a constant loss has no graph to run backward on
      }
      gc.backward(sumCount[0]);
      return new Forward(sumCount[0].getFloat(), tokens, true);
    }
  }

  /** {@link #forwardBackward} through {@link LlamaLoraModel#forwardCheckpointed}; the loss is read before backward. */
  private Forward forwardBackwardCheckpointed(NDList in, NDArray labels, IntConsumer counted,
      IntConsumer layerDone) {
    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector();
        CheckpointedPass pass = model.forwardCheckpointed(store, in, labels)) {
      NDArray[] sumCount = pass.loss();
      int tokens = Math.round(sumCount[1].getFloat());
      counted.accept(tokens);
      if (tokens == 0) {
        return new Forward(0, 0, false);
      }
      float lossSum = sumCount[0].getFloat();
      pass.backward(sumCount[0], layerDone);
      return new Forward(lossSum, tokens, true);
    }
  }

  /** Reads and zeroes a parameter's gradient (PyTorch accumulates until zeroed); zeros if no backward ran. */
  private static float[] take(Forward f, Parameter p, int size) {
    if (!f.backward) {
      return new float[size];
    }
    try (NDArray g = p.getArray().getGradient()) {
      float[] values = g.toFloatArray();
      g.subi(g);
      return values;
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
