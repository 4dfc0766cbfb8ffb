package dev.loraone.worker.export;

import static dev.loraone.worker.export.OnnxGraphBuilder.floatAttr;
import static dev.loraone.worker.export.OnnxGraphBuilder.intAttr;
import static dev.loraone.worker.export.OnnxGraphBuilder.intsAttr;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import dev.loraone.worker.model.AdaptedModel;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraLinear;
import dev.loraone.worker.weights.BertConfig;
import dev.loraone.worker.weights.Pooling;
import java.io.IOException;
import java.util.List;

/**
 * The ONNX ops of a {@link BertLoraModel} with its adapters merged, op for op as the DJL forward
 * ({@code BertEncoder}, {@code BertLayer}, {@code BertLoraModel}) computes it, so the two agree to
 * float32 round-off:
 *
 * <pre>
 *   e        = LayerNorm((word[ids] + type[typeIds]) + position[0..L-1])    Gather, Shape+Slice
 *   maskBias = (1 - mask) * -FLT_MAX                                        [B,1,1,L]
 *   layer    : x1 = LN(attention(x) + x); x2 = LN(gelu_erf(x1 Wi') Wd' + x1)   Wi' = (W0 + s B A)^T
 *   h        = x after the last layer                                       last_hidden_state [B,L,H]
 *   pooled   = sum_l(h * mask) / max(sum_l(mask), 1e-9)                     sentence_embedding [B,H]
 *              or h[:, 0, :] for an embedding head with CLS pooling         (Gather index 0 on axis 1)
 *   logits   = Gemm(pooled, classifier.weight, classifier.bias, transB=1)   logits [B,C]
 * </pre>
 *
 * <p>Names follow torch.onnx, so that {@link dev.loraone.worker.weights.OnnxInitializers} reads an
 * export back as HF-named weights: a Linear weight is stored transposed ({@code [in,out]}) as the
 * anonymous initializer {@code onnx::MatMul_<module>}, consumed by the node {@code
 * /encoder/layer.N/.../<module>/MatMul}; biases, embeddings, LayerNorm and classifier tensors keep
 * their HF names.
 */
final class BertOnnxGraph {

  static final String INPUT_IDS = "input_ids";
  static final String ATTENTION_MASK = "attention_mask";
  static final String TOKEN_TYPE_IDS = "token_type_ids";
  static final String LAST_HIDDEN_STATE = "last_hidden_state";
  static final String SENTENCE_EMBEDDING = "sentence_embedding";
  static final String LOGITS = "logits";
  static final String BATCH = "batch";
  static final String SEQUENCE = "sequence";

  private static final float POOLING_MIN_COUNT = 1e-9f; // sentence-transformers' clamp, as BertLoraModel

  private final OnnxGraphBuilder g;
  private final BertLoraModel model;
  private final BertConfig config;
  private String headsShape;
  private String hiddenShape;

  private BertOnnxGraph(OnnxGraphBuilder g, BertLoraModel model) {
    this.g = g;
    this.model = model;
    this.config = model.config();
  }

  /** Adds the whole model (inputs, weights, nodes, outputs) to {@code g}. */
  static void build(OnnxGraphBuilder g, BertLoraModel model) throws IOException {
    new BertOnnxGraph(g, model).build();
  }

  /**
   * A Linear layer's effective weight, transposed to {@code [in,out]}: {@code (W0 + s B A)^T} while
   * the adapter is unmerged, {@code W^T} when it is merged or absent. Computed in a scratch manager;
   * the layer's arrays are only read.
   */
  static float[] mergedWeightInOut(AdaptedModel model, LoraLinear lin) {
    NDArray w = lin.weightArray();
    try (NDManager scratch = w.getManager().newSubManager()) {
      NDArray merged = w;
      if (lin.rank() > 0 && !lin.isMerged()) {
        NDArray a = model.namedParameters().get(lin.module() + ".lora_A.weight").getArray();
        NDArray b = model.namedParameters().get(lin.module() + ".lora_B.weight").getArray();
        NDArray ba = b.matMul(a);
        ba.attach(scratch); // an op's result lives in its first operand's manager: the model's
        merged = ba.mul(lin.scaling()).add(w); // the value LoraLinear.merge adds: W + s*B*A
      }
      NDArray transposed = merged.transpose();
      transposed.attach(scratch);
      return transposed.toFloatArray();
    }
  }

  private void build() throws IOException {
    String ids = g.input(INPUT_IDS, DataType.INT64, BATCH, SEQUENCE);
    String mask = g.input(ATTENTION_MASK, DataType.INT64, BATCH, SEQUENCE);
    String typeIds = g.input(TOKEN_TYPE_IDS, DataType.INT64, BATCH, SEQUENCE);
    headsShape = g.constant("/encoder", 0, 0, config.numHeads(), config.headDim());
    hiddenShape = g.constant("/encoder", 0, 0, config.hiddenSize());

    String x = embeddings(ids, typeIds);
    String maskF = g.node("", "Cast", List.of(mask), intAttr("to", DataType.FLOAT_VALUE));
    String maskBias = maskBias(maskF);
    for (int i = 0; i < config.numLayers(); i++) {
      x = layer(i, x, maskBias, i == config.numLayers() - 1 ? LAST_HIDDEN_STATE : null);
    }
    String pooled = model.head() instanceof BertLoraModel.Head.Embedding e && e.pooling() == Pooling.CLS
        ? clsPool(x) : meanPool(x, maskF);

    int h = config.hiddenSize();
    g.output(LAST_HIDDEN_STATE, DataType.FLOAT, BATCH, SEQUENCE, h);
    g.output(SENTENCE_EMBEDDING, DataType.FLOAT, BATCH, h);
    if (model.head() instanceof BertLoraModel.Head.Classification c) {
      String w = g.initializer("classifier.weight", values("classifier.weight"), c.numLabels(), h);
      String b = g.initializer("classifier.bias", values("classifier.bias"), c.numLabels());
      g.nodeTo(LOGITS, "/classifier", "Gemm", List.of(pooled, w, b), intAttr("transB", 1));
      g.output(LOGITS, DataType.FLOAT, BATCH, c.numLabels());
    }
  }

  private String embeddings(String ids, String typeIds) throws IOException {
    int h = config.hiddenSize();
    String scope = "/embeddings";
    String word = g.initializer("embeddings.word_embeddings.weight",
        values("embeddings.word_embeddings.weight"), config.vocabSize(), h);
    String type = g.initializer("embeddings.token_type_embeddings.weight",
        values("embeddings.token_type_embeddings.weight"), config.typeVocabSize(), h);
    String position = g.initializer("embeddings.position_embeddings.weight",
        values("embeddings.position_embeddings.weight"), config.maxPositions(), h);
    String wordE = g.node(scope + "/word_embeddings", "Gather", List.of(word, ids));
    String typeE = g.node(scope + "/token_type_embeddings", "Gather", List.of(type, typeIds));
    // position[0..L-1]: the first L rows of the table, broadcast over the batch
    String length = g.node(scope, "Shape", List.of(ids), intAttr("start", 1), intAttr("end", 2));
    String zero = g.constant(scope, 0);
    String positionE = g.node(scope + "/position_embeddings", "Slice", List.of(position, zero, length, zero));
    String sum = g.node(scope, "Add", List.of(g.node(scope, "Add", List.of(wordE, typeE)), positionE));
    return layerNorm(sum, "embeddings.LayerNorm", null);
  }

  private String maskBias(String maskF) {
    String scope = "/attention_mask";
    String inverted = g.node(scope, "Sub", List.of(g.scalar(scope, 1f), maskF));
    String bias = g.node(scope, "Mul", List.of(inverted, g.scalar(scope, -Float.MAX_VALUE)));
    return g.node(scope, "Unsqueeze", List.of(bias, g.constant(scope, 1, 2))); // [B,1,1,L]
  }

  private String layer(int i, String x, String maskBias, String output) throws IOException {
    String p = "encoder.layer." + i + ".";
    String attended = attention(p, x, maskBias);
    String x1 = layerNorm(g.node(scope(p + "attention.output"), "Add", List.of(attended, x)),
        p + "attention.output.LayerNorm", null);
    String inner = geluErf(linear(x1, p + "intermediate.dense"), scope(p + "intermediate.intermediate_act_fn"));
    String ffn = linear(inner, p + "output.dense");
    return layerNorm(g.node(scope(p + "output"), "Add", List.of(ffn, x1)), p + "output.LayerNorm", output);
  }

  private String attention(String p, String x, String maskBias) throws IOException {
    String scope = scope(p + "attention.self");
    String q = heads(linear(x, p + "attention.self.query"), scope, 0, 2, 1, 3); // [B,heads,L,d]
    String kT = heads(linear(x, p + "attention.self.key"), scope, 0, 2, 3, 1); // [B,heads,d,L]
    String v = heads(linear(x, p + "attention.self.value"), scope, 0, 2, 1, 3);
    String sqrtD = g.scalar(scope, (float) Math.sqrt(config.headDim()));
    String scores = g.node(scope, "Div", List.of(g.node(scope, "MatMul", List.of(q, kT)), sqrtD));
    String probs = g.node(scope, "Softmax", List.of(g.node(scope, "Add", List.of(scores, maskBias))),
        intAttr("axis", -1));
    String context = g.node(scope, "Transpose", List.of(g.node(scope, "MatMul", List.of(probs, v))),
        intsAttr("perm", 0, 2, 1, 3));
    return linear(g.node(scope, "Reshape", List.of(context, hiddenShape)), p + "attention.output.dense");
  }

  private String heads(String x, String scope, long... perm) {
    return g.node(scope, "Transpose", List.of(g.node(scope, "Reshape", List.of(x, headsShape))),
        intsAttr("perm", perm));
  }

  /** x W'^T + b as MatMul with the merged, transposed weight, then Add of the bias (if the layer has one). */
  private String linear(String x, String module) throws IOException {
    LoraLinear lin = model.linear(module);
    String w = g.initializer("onnx::MatMul_" + module, mergedWeightInOut(model, lin),
        lin.inFeatures(), lin.outFeatures());
    String scope = scope(module);
    String y = g.node(scope, "MatMul", List.of(x, w));
    if (!model.namedParameters().containsKey(module + ".bias")) {
      return y;
    }
    String b = g.initializer(module + ".bias", values(module + ".bias"), lin.outFeatures());
    return g.node(scope, "Add", List.of(y, b));
  }

  /** 0.5 * x * (1 + erf(x / sqrt(2))), in the op order ONNX Runtime fuses into one Gelu. */
  private String geluErf(String x, String scope) {
    String erf = g.node(scope, "Erf", List.of(g.node(scope, "Div", List.of(x, g.scalar(scope, (float) Math.sqrt(2))))));
    String onePlus = g.node(scope, "Add", List.of(erf, g.scalar(scope, 1f)));
    return g.node(scope, "Mul", List.of(g.node(scope, "Mul", List.of(x, onePlus)), g.scalar(scope, 0.5f)));
  }

  private String layerNorm(String x, String module, String output) throws IOException {
    int h = config.hiddenSize();
    String gamma = g.initializer(module + ".weight", values(module + ".weight"), h);
    String beta = g.initializer(module + ".bias", values(module + ".bias"), h);
    return g.nodeTo(output, scope(module), "LayerNormalization", List.of(x, gamma, beta),
        intAttr("axis", -1), floatAttr("epsilon", (float) config.layerNormEps()));
  }

  private String meanPool(String h, String maskF) {
    String scope = "/pooling";
    String axis1 = g.constant(scope, 1);
    String m = g.node(scope, "Unsqueeze", List.of(maskF, g.constant(scope, 2))); // [B,L,1]
    String sum = g.node(scope, "ReduceSum", List.of(g.node(scope, "Mul", List.of(h, m)), axis1),
        intAttr("keepdims", 0));
    String count = g.node(scope, "ReduceSum", List.of(m, axis1), intAttr("keepdims", 0)); // [B,1]
    String clamped = g.node(scope, "Max", List.of(count, g.scalar(scope, POOLING_MIN_COUNT)));
    return g.nodeTo(SENTENCE_EMBEDDING, scope, "Div", List.of(sum, clamped));
  }

  /** The first token's state: {@code Gather(h, 0, axis=1)} of a scalar index drops the sequence axis. */
  private String clsPool(String h) {
    String first = g.constant("/pooling", new long[] {0}, new long[0]); // rank 0
    return g.nodeTo(SENTENCE_EMBEDDING, "/pooling", "Gather", List.of(h, first), intAttr("axis", 1));
  }

  private float[] values(String name) {
    return model.namedParameters().get(name).getArray().toFloatArray();
  }

  /** torch.onnx's scope of an HF module: {@code encoder.layer.0.attention.self -> /encoder/layer.0/attention/self}. */
  static String scope(String module) {
    return "/" + module.replaceAll("\\.(?!\\d)", "/");
  }
}
