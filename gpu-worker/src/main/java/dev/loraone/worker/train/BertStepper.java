package dev.loraone.worker.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.loss.Loss;
import dev.loraone.data.TokenBatch;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.Owned;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The DJL work of one micro-batch on a {@link BertLoraModel} with a classification head: LoRA
 * gradients, the full gradient of the adapted base weights (LoRA-One's one-step estimate), and
 * evaluation. Loss is the mean softmax cross-entropy over the micro-batch.
 *
 * <p>No optimizer lives here: gradients leave as float arrays, and the caller sums them in
 * micro-batch index order and steps a {@code lora-core} optimizer, which is what makes the result
 * independent of which worker computed which micro-batch. Every call runs in its own sub-manager
 * that is closed before returning, so native memory stays flat; gradients are zeroed after reading
 * because PyTorch accumulates them. DJL allows one open gradient collector per JVM, so calls on
 * steppers that share a JVM must not overlap.
 */
public final class BertStepper implements AutoCloseable {
  private final BertLoraModel model;
  private final NDManager manager;
  private final ParameterStore store;
  private final Loss loss = Loss.softmaxCrossEntropyLoss();

  /**
   * LoRA gradients of one micro-batch, row-major: per module {@code gA:[r,in]}, {@code gB:[out,r]};
   * head grads.
   */
  public record LoraGradients(
      double loss,
      int correct,
      int examples,
      Map<String, float[][]> adapters,
      Map<String, float[]> head) {}

  /** Full gradients of the adapted base weights {@code [out,in]} for one micro-batch. */
  public record FullGradients(double loss, Map<String, float[]> weights) {}

  /** Evaluation of one micro-batch: summed loss, correct count and predicted class per example. */
  public record Evaluation(double lossSum, int correct, int examples, int[] predictions) {}

  public BertStepper(BertLoraModel model) {
    this(model, Device.cpu());
  }

  /** A stepper whose model, activations and gradients live on {@code device}; only read-outs cross to the host. */
  public BertStepper(BertLoraModel model, Device device) {
    this.model = model;
    this.manager = NDManager.newBaseManager(device, "PyTorch");
    model.initialize(manager);
    this.store = new ParameterStore(manager, false);
  }

  public BertLoraModel model() {
    return model;
  }

  /** Forward + backward in LoRA mode; dropout masks follow {@code dropoutSeed}. */
  public LoraGradients loraGradients(ClassificationBatch batch, long dropoutSeed) {
    model.freezeBase();
    model.setDropoutSeed(dropoutSeed);
    try (NDManager step = manager.newSubManager()) {
      Forward f = forwardBackward(step, batch);
      Map<String, float[][]> adapters = new LinkedHashMap<>();
      Map<String, Parameter> named = model.namedParameters();
      for (String m : model.adaptedModules()) {
        adapters.put(
            m,
            new float[][] {
              takeGradient(named.get(m + ".lora_A.weight")),
              takeGradient(named.get(m + ".lora_B.weight"))
            });
      }
      Map<String, float[]> head = new LinkedHashMap<>();
      for (String h : List.of("classifier.weight", "classifier.bias")) head.put(h, takeGradient(named.get(h)));
      return new LoraGradients(f.loss, f.correct, batch.size(), adapters, head);
    }
  }

  /** Forward + backward in full-gradient mode: gradients of the adapted modules' base weights only. */
  public FullGradients fullGradients(ClassificationBatch batch) {
    return fullGradients(batch, model.adaptedModules());
  }

  /** {@link #fullGradients(ClassificationBatch)} of {@code modules} only: the others' weights take no gradient. */
  public FullGradients fullGradients(ClassificationBatch batch, List<String> modules) {
    Map<String, float[]> grads = new LinkedHashMap<>();
    double loss = fullGradients(batch, modules, grads::put);
    return new FullGradients(loss, grads);
  }

  /**
   * {@link #fullGradients(ClassificationBatch, List)} streamed: each module's gradient is read, its native
   * array handed to {@code sink} and freed, in module order; returns the batch's mean loss.
   */
  public double fullGradients(ClassificationBatch batch, List<String> modules, Workload.GradientSink sink) {
    model.fullGradientMode(modules);
    try (NDManager step = manager.newSubManager()) {
      Forward f = forwardBackward(step, batch);
      for (String m : modules) {
        try (NDArray g = model.linear(m).takeWeightGradient()) {
          sink.accept(m, g);
        }
      }
      return f.loss;
    } finally {
      model.freezeBase();
    }
  }

  /** Inference-mode forward (no dropout, no gradients). */
  public Evaluation evaluate(ClassificationBatch batch) {
    try (NDManager step = manager.newSubManager()) {
      NDArray logits = model.forward(store, inputs(step, batch.tokens()), false).head();
      NDArray labels = labelArray(step, batch.labels());
      double lossSum = loss.evaluate(new NDList(labels), new NDList(logits)).getFloat() * (double) batch.size();
      int[] pred = toInts(logits.argMax(1));
      int correct = 0;
      for (int i = 0; i < pred.length; i++) if (pred[i] == batch.labels()[i]) correct++;
      return new Evaluation(lossSum, correct, batch.size(), pred);
    }
  }

  private record Forward(double loss, int correct) {}

  private Forward forwardBackward(NDManager step, ClassificationBatch batch) {
    NDList in = inputs(step, batch.tokens());
    NDArray labels = labelArray(step, batch.labels());
    try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
      NDArray logits = model.forward(store, in, true).head();
      NDArray l = loss.evaluate(new NDList(labels), new NDList(logits));
      gc.backward(l);
      int[] pred = toInts(logits.argMax(1));
      int correct = 0;
      for (int i = 0; i < pred.length; i++) if (pred[i] == batch.labels()[i]) correct++;
      return new Forward(l.getFloat(), correct);
    }
  }

  /** Reads and zeroes a parameter's gradient (PyTorch accumulates until zeroed). */
  static float[] takeGradient(Parameter p) {
    try (NDArray g = p.getArray().getGradient()) {
      float[] values = g.toFloatArray();
      g.subi(g);
      return values;
    }
  }

  static NDList inputs(NDManager m, TokenBatch t) {
    Shape s = new Shape(t.batchSize(), t.sequenceLength());
    return new NDList(Owned.copy(m.create(t.inputIds(), s)), Owned.copy(m.create(t.tokenTypeIds(), s)),
        Owned.copy(m.create(t.attentionMask(), s)));
  }

  private static NDArray labelArray(NDManager m, int[] labels) {
    float[] f = new float[labels.length];
    for (int i = 0; i < f.length; i++) f[i] = labels[i];
    return Owned.copy(m.create(f));
  }

  private static int[] toInts(NDArray a) {
    long[] l = a.toLongArray();
    int[] out = new int[l.length];
    for (int i = 0; i < l.length; i++) out[i] = (int) l[i];
    return out;
  }

  @Override
  public void close() {
    manager.close();
  }
}
