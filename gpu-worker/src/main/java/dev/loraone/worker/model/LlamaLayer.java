package dev.loraone.worker.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import dev.loraone.worker.weights.LlamaConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One pre-norm Llama decoder layer (HF {@code LlamaDecoderLayer}):
 *
 * <pre>
 *   h = x + attention(rmsnorm(x, w_in))            (input_layernorm, self_attn)
 *   y = h + mlp(rmsnorm(h, w_post))                (post_attention_layernorm, mlp)
 *   inputs: x:[B,L,H], cos, sin:[L,d], maskBias:[B,1,L,T] or none    output: [B,L,H]
 * </pre>
 */
final class LlamaLayer extends AbstractBlock {

  /** Builds the Linear of an HF module name with (in, out). */
  @FunctionalInterface
  interface LinearFactory {
    LoraLinear create(String module, int in, int out);
  }

  private final LlamaConfig config;
  private final String prefix;
  private final LlamaAttention attention;
  private final LlamaMlp mlp;
  private final Parameter inputNorm;
  private final Parameter postNorm;

  /** @param prefix HF name prefix, e.g. {@code model.layers.3.} */
  LlamaLayer(LlamaConfig config, int index, String prefix, LinearFactory linear) {
    this.config = config;
    this.prefix = prefix;
    attention = addChildBlock("self_attn", new LlamaAttention(config, index, prefix + "self_attn.", linear));
    mlp = addChildBlock("mlp", new LlamaMlp(config, prefix + "mlp.", linear));
    Shape h = new Shape(config.hiddenSize());
    inputNorm = addParameter(LoraLinear.param("input_layernorm", Parameter.Type.GAMMA, h, Initializer.ONES));
    postNorm = addParameter(LoraLinear.param("post_attention_layernorm", Parameter.Type.GAMMA, h, Initializer.ONES));
  }

  @Override
  protected NDList forwardInternal(ParameterStore ps, NDList in, boolean training, PairList<String, Object> params) {
    NDArray maskBias = in.size() > 3 ? in.get(3) : null;
    return new NDList(run(ps, in.get(0), in.get(1), in.get(2), maskBias, null, training, params));
  }

  /** The layer output {@code [B,L,H]}, reading and extending {@code cache} when one is given. */
  NDArray run(ParameterStore ps, NDArray x, NDArray cos, NDArray sin, NDArray maskBias, KvCache cache,
      boolean training, PairList<String, Object> params) {
    Device d = x.getDevice();
    float eps = (float) config.rmsNormEps();
    NDArray a = RmsNorm.apply(x, ps.getValue(inputNorm, d, training), eps);
    NDArray h = x.add(attention.attend(ps, a, cos, sin, maskBias, cache, training, params));
    NDArray m = RmsNorm.apply(h, ps.getValue(postNorm, d, training), eps);
    return h.add(mlp.forward(ps, new NDList(m), training, params).head());
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    attention.initialize(manager, dataType, inputShapes[0]);
    mlp.initialize(manager, dataType, inputShapes[0]);
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    return new Shape[] {inputs[0]};
  }

  /** The seven Linear layers in HF order: q, k, v, o, gate, up, down. */
  List<LoraLinear> linears() {
    List<LoraLinear> all = new ArrayList<>(attention.linears());
    all.addAll(mlp.linears());
    return all;
  }

  /** Adds this layer's parameters under HF names. */
  void collectParameters(Map<String, Parameter> into) {
    attention.collectParameters(into);
    mlp.collectParameters(into);
    into.put(prefix + "input_layernorm.weight", inputNorm);
    into.put(prefix + "post_attention_layernorm.weight", postNorm);
  }
}
