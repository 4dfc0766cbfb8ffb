package dev.loraone.worker.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import dev.loraone.worker.weights.BertConfig;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.Pooling;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A BERT-family encoder with LoRA adapters and a task head: the DJL model a worker trains.
 *
 * <pre>
 *   inputs:  input_ids, token_type_ids, attention_mask          int64 [B,L]
 *   h      = BertEncoder(...)                                   [B,L,H]  last_hidden_state
 *   pooled = sum_l(h * mask) / max(sum_l(mask), 1e-9)           [B,H]    (sentence-transformers mean)
 *            or h[:, 0, :]                                      [B,H]    (CLS: an embedding head's Pooling.CLS)
 *   outputs: [embedding head] pooled, h
 *            [classification head] logits = pooled classifier.W^T + classifier.b   [B,C], h
 * </pre>
 *
 * <p>Parameters are reachable by HF/PEFT name ({@link #namedParameters()}): {@code
 * encoder.layer.0.attention.self.query.weight}, {@code ....query.lora_A.weight}, {@code
 * classifier.weight}. DJL's own {@code ParameterList} keys carry child-index prefixes and are not
 * used for import or export. New models start in LoRA mode ({@link #freezeBase()}).
 *
 * <p>Lifecycle: build with {@link #create} or {@link #fromPretrained}, then {@code initialize} it
 * once (directly, or through {@code Trainer.initialize}); pretrained weights are copied in then.
 * Not thread-safe: one worker drives one model.
 */
public final class BertLoraModel extends AbstractBlock implements AdaptedModel {

  /** The task head on top of the pooled output. */
  public sealed interface Head {
    /** Output 0 is the pooled embedding [B,H], not normalised. */
    record Embedding(Pooling pooling) implements Head {
      public Embedding {
        java.util.Objects.requireNonNull(pooling, "pooling");
      }

      /** Mean pooling (sentence-transformers' default). */
      public Embedding() {
        this(Pooling.MEAN);
      }
    }

    /** Output 0 is the logits [B,numLabels] of a Linear on the mean-pooled embedding. */
    record Classification(int numLabels) implements Head {
      public Classification {
        if (numLabels < 1) {
          throw new IllegalArgumentException("numLabels must be >= 1, got " + numLabels);
        }
      }
    }
  }

  private static final double INITIALIZER_RANGE = 0.02; // HF BertConfig.initializer_range

  private final BertConfig config;
  private final LoraConfig lora;
  private final Head head;
  private final BertEncoder encoder;
  private final Parameter classifierWeight;
  private final Parameter classifierBias;
  private final AdapterSet adapters;
  private Map<String, FloatTensor> pendingWeights;

  private BertLoraModel(BertConfig config, LoraConfig lora, Head head, Map<String, FloatTensor> pretrained,
      Map<String, NDArray> shared) {
    this.config = config;
    this.lora = lora;
    this.head = head;
    this.adapters = new AdapterSet(lora.seed());
    Map<String, Parameter> named = adapters.registry();
    long seed = lora.seed();
    Function<String, Initializer> baseInit = name ->
        pretrained != null ? Initializer.ZEROS : Seeded.normal(INITIALIZER_RANGE, seed, name);
    encoder = addChildBlock("encoder", new BertEncoder(config, baseInit, (module, in, out) ->
        new LoraLinear(module, in, out, lora.rankFor(module), lora.scaling(), lora.dropout(), seed,
            baseInit.apply(module + ".weight"))));
    if (head instanceof Head.Classification c) {
      classifierWeight = addParameter(LoraLinear.param("classifier_weight", Parameter.Type.WEIGHT,
          new Shape(c.numLabels(), config.hiddenSize()), Seeded.normal(INITIALIZER_RANGE, seed, "classifier.weight")));
      classifierBias = addParameter(LoraLinear.param("classifier_bias", Parameter.Type.BIAS,
          new Shape(c.numLabels()), Initializer.ZEROS));
    } else {
      classifierWeight = null;
      classifierBias = null;
    }
    encoder.collectParameters(named);
    if (classifierWeight != null) {
      named.put("classifier.weight", classifierWeight);
      named.put("classifier.bias", classifierBias);
    }
    for (LoraLinear lin : encoder.linears()) {
      adapters.addLinear(lin);
    }
    if (pretrained != null) {
      WeightLoading.check(named, pretrained);
      pendingWeights = pretrained;
    } else if (shared != null) {
      pendingWeights = WeightLoading.share(named, shared);
    }
    freezeBase();
  }

  /** A model with seeded random base weights (HF init: normal(0, 0.02), zero biases, unit LayerNorm). */
  public static BertLoraModel create(BertConfig config, LoraConfig lora, Head head) {
    return new BertLoraModel(config, lora, head, null, null);
  }

  /**
   * A model whose base weights come from HF-named tensors (see {@link
   * dev.loraone.worker.weights.OnnxInitializers}); names and shapes are checked now, values copied
   * at {@code initialize}. A {@code classifier.*} pair, if present, is loaded too.
   */
  public static BertLoraModel fromPretrained(BertConfig config, LoraConfig lora, Head head,
      Map<String, FloatTensor> weights) {
    return new BertLoraModel(config, lora, head, weights, null);
  }

  /**
   * A model whose base parameters are the arrays of a base model shared with other jobs ({@code
   * train.BaseModels}): read only, never closed or written by this model (W0 offsets and merges go to
   * the layer's own copy, {@link LoraLinear#ownWeight}); names and shapes are checked now. Only the
   * adapters and the head are this model's own. A {@code classifier.*} pair in {@code shared} is copied.
   */
  public static BertLoraModel fromShared(BertConfig config, LoraConfig lora, Head head, Map<String, NDArray> shared) {
    return new BertLoraModel(config, lora, head, null, java.util.Objects.requireNonNull(shared, "shared"));
  }

  @Override
  public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
    super.initialize(manager, dataType, inputShapes);
    if (pendingWeights != null) {
      WeightLoading.copy(adapters.registry(), pendingWeights);
      pendingWeights = null; // release the heap copy (90 MB for MiniLM)
    }
  }

  /** Initializes on {@code manager} for float32 inputs of any [B,L]; shapes here are nominal. */
  public void initialize(NDManager manager) {
    initialize(manager, DataType.FLOAT32, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1));
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    PairList<String, Object> forwardParams = params;
    if (training && lora.dropout() > 0) {
      long s = adapters.nextForwardSeed();
      forwardParams = new PairList<>(List.of(LoraLinear.DROPOUT_SEED), List.of(s));
    }
    NDArray hidden = encoder.forward(ps, inputs, training, forwardParams).head();
    if (head instanceof Head.Embedding e && e.pooling() == Pooling.CLS) {
      return new NDList(hidden.get(new NDIndex(":, 0, :")), hidden);
    }
    NDArray mask = inputs.get(2).toType(DataType.FLOAT32, false).expandDims(-1);
    NDArray pooled = hidden.mul(mask).sum(new int[] {1}).div(mask.sum(new int[] {1}).maximum(1e-9f));
    if (classifierWeight == null) {
      return new NDList(pooled, hidden);
    }
    Device d = hidden.getDevice();
    NDArray logits = Linear.linear(pooled, ps.getValue(classifierWeight, d, training),
        ps.getValue(classifierBias, d, training)).head();
    return new NDList(logits, hidden);
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    encoder.initialize(manager, dataType, inputShapes);
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    Shape ids = inputs[0];
    long width = head instanceof Head.Classification c ? c.numLabels() : config.hiddenSize();
    return new Shape[] {new Shape(ids.get(0), width), ids.add(config.hiddenSize())};
  }

  @Override
  public AdapterSet adapters() {
    return adapters;
  }

  /** HF names of every Linear module, adapted or not, in layer order. */
  public List<String> linearModules() {
    return adapters.linearModules();
  }

  public BertConfig config() {
    return config;
  }

  public LoraConfig loraConfig() {
    return lora;
  }

  public Head head() {
    return head;
  }
}
