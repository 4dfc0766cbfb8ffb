package dev.loraone.worker.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import dev.loraone.worker.weights.BertConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The BERT encoder (HF {@code BertModel} without pooler): embeddings, then {@code numLayers}
 * {@link BertLayer}s. Its output is what an ONNX export calls {@code last_hidden_state}.
 *
 * <pre>
 *   inputs:  input_ids, token_type_ids, attention_mask   int64 [B,L]   (mask: 1 token, 0 padding)
 *   e = LayerNorm(word[ids] + position[0..L-1] + type[typeIds])          [B,L,H]
 *   maskBias = (1 - mask) * -FLT_MAX                                     [B,1,1,L]   (as HF/ONNX)
 *   output:  last_hidden_state                                           [B,L,H]
 * </pre>
 */
public final class BertEncoder extends AbstractBlock {

  private final BertConfig config;
  private final Parameter wordEmbeddings;
  private final Parameter positionEmbeddings;
  private final Parameter tokenTypeEmbeddings;
  private final Parameter embLnGamma;
  private final Parameter embLnBeta;
  private final List<BertLayer> layers = new ArrayList<>();

  /**
   * @param baseInit initializer of each base weight matrix by HF name (embeddings and Linear W)
   * @param linear builds the Linear of an HF module with (in, out)
   */
  BertEncoder(BertConfig config, Function<String, Initializer> baseInit, BertLayer.LinearFactory linear) {
    this.config = config;
    int h = config.hiddenSize();
    wordEmbeddings = addParameter(embedding("word_embeddings", config.vocabSize(), h, baseInit));
    positionEmbeddings = addParameter(embedding("position_embeddings", config.maxPositions(), h, baseInit));
    tokenTypeEmbeddings = addParameter(embedding("token_type_embeddings", config.typeVocabSize(), h, baseInit));
    embLnGamma = addParameter(LoraLinear.param("emb_ln_gamma", Parameter.Type.GAMMA, new Shape(h), Initializer.ONES));
    embLnBeta = addParameter(LoraLinear.param("emb_ln_beta", Parameter.Type.BETA, new Shape(h), Initializer.ZEROS));
    for (int i = 0; i < config.numLayers(); i++) {
      layers.add(addChildBlock("layer" + i, new BertLayer(config, "encoder.layer." + i + ".", linear)));
    }
  }

  private static Parameter embedding(String name, int rows, int h, Function<String, Initializer> init) {
    return LoraLinear.param(name, Parameter.Type.WEIGHT, new Shape(rows, h),
        init.apply("embeddings." + name + ".weight"));
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray ids = inputs.get(0);
    NDArray typeIds = inputs.get(1);
    NDArray mask = inputs.get(2);
    Device d = ids.getDevice();
    long b = ids.getShape().get(0);
    long l = ids.getShape().get(1);
    if (l > config.maxPositions()) {
      throw new IllegalArgumentException("sequence length " + l + " exceeds max_position_embeddings "
          + config.maxPositions());
    }
    NDArray positions = ids.getManager().arange(0, (int) l, 1, DataType.INT64).reshape(1, l);
    NDArray x = lookup(ids, wordEmbeddings, ps, d, training)
        .add(lookup(typeIds, tokenTypeEmbeddings, ps, d, training))
        .add(lookup(positions, positionEmbeddings, ps, d, training));
    x = LayerNorm.layerNorm(x, new Shape(config.hiddenSize()), ps.getValue(embLnGamma, d, training),
        ps.getValue(embLnBeta, d, training), (float) config.layerNormEps()).head();
    NDArray maskBias = mask.toType(DataType.FLOAT32, false).neg().add(1f).mul(-Float.MAX_VALUE).reshape(b, 1, 1, l);
    for (BertLayer layer : layers) {
      x = layer.forward(ps, new NDList(x, maskBias), training, params).head();
    }
    return new NDList(x);
  }

  // Embedding.embedding with a null SparseFormat throws an NPE in the PyTorch engine (FEASIBILITY.md 3).
  private static NDArray lookup(NDArray idx, Parameter table, ParameterStore ps, Device d, boolean training) {
    return Embedding.embedding(idx, ps.getValue(table, d, training), SparseFormat.DENSE).head();
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape ids = inputShapes[0];
    Shape x = ids.add(config.hiddenSize());
    Shape maskBias = new Shape(ids.get(0), 1, 1, ids.get(1));
    for (BertLayer layer : layers) {
      layer.initialize(manager, dataType, x, maskBias);
    }
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    return new Shape[] {inputs[0].add(config.hiddenSize())};
  }

  public BertConfig config() {
    return config;
  }

  /** Every Linear of the encoder, layer by layer in HF order. */
  List<LoraLinear> linears() {
    List<LoraLinear> all = new ArrayList<>();
    for (BertLayer layer : layers) {
      all.addAll(layer.linears());
    }
    return all;
  }

  /** Adds the encoder's parameters under HF names ({@code embeddings.*}, {@code encoder.layer.N.*}). */
  void collectParameters(Map<String, Parameter> into) {
    into.put("embeddings.word_embeddings.weight", wordEmbeddings);
    into.put("embeddings.position_embeddings.weight", positionEmbeddings);
    into.put("embeddings.token_type_embeddings.weight", tokenTypeEmbeddings);
    into.put("embeddings.LayerNorm.weight", embLnGamma);
    into.put("embeddings.LayerNorm.bias", embLnBeta);
    for (BertLayer layer : layers) {
      layer.collectParameters(into);
    }
  }
}
