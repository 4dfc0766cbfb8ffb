package dev.loraone.worker.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import dev.loraone.worker.weights.BertConfig;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * One post-LayerNorm BERT encoder layer (Devlin et al. 2019; HF {@code BertLayer}), every Linear a
 * {@link LoraLinear}:
 *
 * <pre>
 *   a  = softmax(Q K^T / sqrt(d) + maskBias) V          Q,K,V:[B,heads,L,d]  d = H/heads
 *   x1 = LayerNorm(x + a W_o^T)                          (attention.output)
 *   x2 = LayerNorm(x1 + gelu_erf(x1 W_i^T) W_d^T)        (intermediate, output)
 *   inputs: x:[B,L,H], maskBias:[B,1,1,L] (0 keep, -FLT_MAX pad)   output: [B,L,H]
 * </pre>
 *
 * Dropout of the base model is not applied: training runs in the deterministic eval form and only
 * the adapters drop their inputs.
 */
final class BertLayer extends AbstractBlock {

  private final BertConfig config;
  private final LoraLinear query;
  private final LoraLinear key;
  private final LoraLinear value;
  private final LoraLinear attentionOut;
  private final LoraLinear intermediate;
  private final LoraLinear output;
  private final Parameter ln1Gamma;
  private final Parameter ln1Beta;
  private final Parameter ln2Gamma;
  private final Parameter ln2Beta;
  private final String prefix;

  /**
   * @param prefix HF name prefix, e.g. {@code encoder.layer.3.}
   * @param linear builds the {@link LoraLinear} of an HF module name with (in, out)
   */
  BertLayer(BertConfig config, String prefix, LinearFactory linear) {
    this.config = config;
    this.prefix = prefix;
    int h = config.hiddenSize();
    int i = config.intermediateSize();
    query = addChildBlock("query", linear.create(prefix + "attention.self.query", h, h));
    key = addChildBlock("key", linear.create(prefix + "attention.self.key", h, h));
    value = addChildBlock("value", linear.create(prefix + "attention.self.value", h, h));
    attentionOut = addChildBlock("attention_out", linear.create(prefix + "attention.output.dense", h, h));
    intermediate = addChildBlock("intermediate", linear.create(prefix + "intermediate.dense", h, i));
    output = addChildBlock("output", linear.create(prefix + "output.dense", i, h));
    ln1Gamma = addParameter(LoraLinear.param("ln1_gamma", Parameter.Type.GAMMA, new Shape(h), Initializer.ONES));
    ln1Beta = addParameter(LoraLinear.param("ln1_beta", Parameter.Type.BETA, new Shape(h), Initializer.ZEROS));
    ln2Gamma = addParameter(LoraLinear.param("ln2_gamma", Parameter.Type.GAMMA, new Shape(h), Initializer.ONES));
    ln2Beta = addParameter(LoraLinear.param("ln2_beta", Parameter.Type.BETA, new Shape(h), Initializer.ZEROS));
  }

  /** Builds the Linear of one HF module. */
  @FunctionalInterface
  interface LinearFactory {
    LoraLinear create(String module, int in, int out);
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.get(0);
    NDArray maskBias = inputs.get(1);
    Device d = x.getDevice();
    long b = x.getShape().get(0);
    long l = x.getShape().get(1);
    int heads = config.numHeads();
    int dh = config.headDim();
    Function<LoraLinear, NDArray> heads4d = lin -> lin.forward(ps, new NDList(x), training, params).head()
        .reshape(b, l, heads, dh).transpose(0, 2, 1, 3);
    NDArray q = heads4d.apply(query);
    NDArray k = heads4d.apply(key);
    NDArray v = heads4d.apply(value);
    NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div(Owned.scalar(q, (float) Math.sqrt(dh))).add(maskBias);
    NDArray context = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, l, config.hiddenSize());
    NDArray attended = attentionOut.forward(ps, new NDList(context), training, params).head();
    NDArray x1 = layerNorm(attended.add(x), ln1Gamma, ln1Beta, ps, d, training);
    NDArray inner = Activation.gelu(intermediate.forward(ps, new NDList(x1), training, params).head());
    NDArray ffn = output.forward(ps, new NDList(inner), training, params).head();
    return new NDList(layerNorm(ffn.add(x1), ln2Gamma, ln2Beta, ps, d, training));
  }

  private NDArray layerNorm(NDArray x, Parameter gamma, Parameter beta, ParameterStore ps, Device d, boolean training) {
    return LayerNorm.layerNorm(x, new Shape(config.hiddenSize()), ps.getValue(gamma, d, training),
        ps.getValue(beta, d, training), (float) config.layerNormEps()).head();
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape x = inputShapes[0];
    for (LoraLinear lin : List.of(query, key, value, attentionOut, intermediate)) {
      lin.initialize(manager, dataType, x);
    }
    output.initialize(manager, dataType, x.slice(0, x.dimension() - 1).add(config.intermediateSize()));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    return new Shape[] {inputs[0]};
  }

  /** The six Linear layers in HF order. */
  List<LoraLinear> linears() {
    return List.of(query, key, value, attentionOut, intermediate, output);
  }

  /** Adds this layer's parameters under HF names. */
  void collectParameters(Map<String, Parameter> into) {
    for (LoraLinear lin : linears()) {
      lin.collectParameters(into);
    }
    into.put(prefix + "attention.output.LayerNorm.weight", ln1Gamma);
    into.put(prefix + "attention.output.LayerNorm.bias", ln1Beta);
    into.put(prefix + "output.LayerNorm.weight", ln2Gamma);
    into.put(prefix + "output.LayerNorm.bias", ln2Beta);
  }
}
