package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.function.UnaryOperator;

/**
 * One training forward and backward of a {@link LlamaLoraModel} with activation checkpointing per
 * decoder layer (Chen et al. 2016, arXiv:1604.06174; torch.utils.checkpoint): the forward keeps only
 * each layer's input, the backward recomputes one layer at a time.
 *
 * <pre>
 *   forward   x_0 = embed(ids)                                   recorded (a graph only if the embedding trains)
 *             x_{i+1} = layer_i(x_i), autograd off               keeps x_i [B,L,H]; the layer's temporaries are freed
 *             h = detach(x_N), requiring grad; loss = head(h)     recorded, in a scope of its own
 *   backward  backward(loss)                    head grads, g_N = dL/dh; the head scope is freed
 *             for i = N-1 .. lo: x' = detach(x_i), requiring grad (layer lo: only if x_0 has a graph)
 *                                y = layer_i(x')  recorded;  backward(y, g_{i+1})  -> layer i's grads, g_i = dL/dx'
 *             backward(x_0, g_0) when x_0 has a graph (a trainable embedding)
 *             lo = 0 when x_0 has a graph, else the lowest layer with a parameter that trains
 * </pre>
 *
 * <p>The gradients are those of the plain forward, bit for bit: each layer recomputes the same
 * float operations from the same input with the same forward parameters (the adapter dropout masks
 * follow the forward's seed and the module name, so they repeat), and the vector-Jacobian product
 * of each piece is fed exactly the gradient the whole graph would pass it. Every parameter is used
 * once per forward except a tied embedding, whose two contributions (head, lookup) then arrive in
 * two backward calls: their sum is PyTorch's accumulation of two terms, which does not depend on
 * their order. Detached inputs cut each piece's graph, so no backward reaches below its layer and
 * nothing is counted twice.
 *
 * <p>Memory: the layer temporaries live in a sub-manager per layer, closed as soon as the layer
 * is done (DJL keeps every array of a manager alive until it closes, whether autograd needs it
 * or not). Costs one more forward of the layers. PyTorch engine only; run inside an open gradient
 * collector, on the thread that opened it (grad mode is per thread).
 */
public final class CheckpointedPass implements AutoCloseable {

  /**
   * One decoder layer's training forward, {@code [B,L,H] -> [B,L,H]}, and whether any of its
   * parameters trains. Said here because DJL cannot tell: {@code NDArray.hasGradient()} is false on
   * every non-leaf tensor, graph or not.
   */
  record Layer(UnaryOperator<NDArray> forward, boolean trains) {}

  private final NDManager step;
  private final List<Layer> layers;
  private final List<NDArray> inputs = new ArrayList<>();
  private final boolean embeddingTrains;
  private final NDManager headScope;
  private final NDArray headInput;
  private final NDArray[] loss;
  private boolean done;

  /**
   * Runs the forward: {@code x0} (in {@code step}'s manager; with a graph when {@code
   * embeddingTrains}) through {@code layers} without recording, then {@code head} (final norm, LM
   * head and loss: the summed loss and the labelled count) with recording.
   */
  CheckpointedPass(NDManager step, NDArray x0, boolean embeddingTrains, List<Layer> layers,
      Function<NDArray, NDArray[]> head) {
    this.step = step;
    this.layers = layers;
    this.embeddingTrains = embeddingTrains;
    NDArray x = x0;
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      for (Layer layer : layers) {
        inputs.add(x);
        try (NDManager scope = step.newSubManager()) {
          x.tempAttach(scope); // the layer's arrays are made in its input's manager; x returns to step on close
          NDArray y = layer.forward().apply(x);
          y.attach(step);
          x = y;
        }
      }
    } finally {
      JniUtils.setGradMode(grad);
    }
    headScope = step.newSubManager();
    headInput = x.stopGradient();
    headInput.attach(headScope);
    headInput.setRequiresGradient(true);
    x.close();
    loss = head.apply(headInput);
  }

  /** Builds the per-layer closures of a model's decoder layers over one batch's rope table and mask. */
  static List<Layer> layers(List<LlamaLayer> layers, ParameterStore ps, NDArray cos, NDArray sin, NDArray maskBias,
      PairList<String, Object> params) {
    List<Layer> out = new ArrayList<>();
    for (LlamaLayer layer : layers) {
      boolean trains = layer.getParameters().values().stream().anyMatch(Parameter::requiresGradient)
          || layer.linears().stream().anyMatch(LoraLinear::takesWeightGradient);
      out.add(new Layer(x -> layer.run(ps, x, cos, sin, maskBias, null, true, params), trains));
    }
    return out;
  }

  /**
   * The summed token loss (with a graph back to the last layer's output) and the labelled count, as
   * {@link CausalLmLoss#sumAndCount}. They live in the head's scope, which {@link #backward} closes: read
   * them first.
   */
  public NDArray[] loss() {
    return loss;
  }

  /**
   * Back-propagates the scalar {@code loss} ({@link #loss()}'s sum) through the head, then
   * through each layer recomputed in reverse; parameter gradients accumulate as in one backward.
   * Once only.
   */
  public void backward(NDArray loss) {
    backward(loss, i -> { });
  }

  /**
   * {@link #backward(NDArray)}, telling {@code layerDone} each layer's index as soon as its parameters'
   * gradients are complete (the top layer first), so a caller can read and free them before the layers
   * below run. Under a frozen embedding the backward stops at the lowest layer that trains: nothing
   * below it needs a gradient (the one-step estimate of a module group in the upper layers recomputes
   * only those).
   */
  public void backward(NDArray loss, IntConsumer layerDone) {
    if (done) {
      throw new IllegalStateException("backward has already run");
    }
    done = true;
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(true);
    try {
      vjp(loss, loss.getManager().ones(loss.getShape(), loss.getDataType())); // as GradientCollector.backward
      NDArray g = headInput.getGradient();
      g.attach(step);
      headScope.close();
      int lowest = 0;
      while (!embeddingTrains && lowest < layers.size() && !layers.get(lowest).trains()) lowest++;
      for (int i = layers.size() - 1; i >= lowest; i--) {
        g = recompute(i, g, i > lowest || embeddingTrains);
        layerDone.accept(i);
      }
      if (g != null && embeddingTrains) {
        vjp(inputs.get(0), g);
      }
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  /**
   * Layer i's forward again, with recording, and its backward from {@code gOut}; returns dL/d(input),
   * or null where nothing below needs it ({@code needInput} false: the lowest layer that trains under a
   * frozen embedding).
   */
  private NDArray recompute(int i, NDArray gOut, boolean needInput) {
    NDArray saved = inputs.get(i);
    NDArray gIn = null;
    try (NDManager scope = step.newSubManager()) {
      NDArray x = saved.stopGradient();
      x.attach(scope);
      if (needInput) {
        x.setRequiresGradient(true);
      }
      NDArray y = layers.get(i).forward().apply(x);
      if (needInput || layers.get(i).trains()) { // else y has no graph, and backward would throw
        vjp(y, gOut);
        if (needInput) {
          gIn = x.getGradient();
          gIn.attach(step);
        }
      }
    }
    gOut.close();
    if (i > 0) {
      saved.close(); // layer 0's input may still need its own backward (a trainable embedding)
    }
    return gIn;
  }

  /** Adds to the leaves' gradients the vector-Jacobian product {@code g^T dy/dleaves}, freeing y's graph. */
  private static void vjp(NDArray y, NDArray g) {
    JniUtils.backward((PtNDArray) y, (PtNDArray) g, false, false);
  }

  @Override
  public void close() {
    headScope.close();
    inputs.forEach(NDArray::close);
  }
}
