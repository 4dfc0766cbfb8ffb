package dev.loraone.worker.export;

import static dev.loraone.worker.export.BertOnnxGraph.mergedWeightInOut;
import static dev.loraone.worker.export.BertOnnxGraph.scope;
import static dev.loraone.worker.export.OnnxGraphBuilder.intAttr;
import static dev.loraone.worker.export.OnnxGraphBuilder.intsAttr;

import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraLinear;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.util.List;

/**
 * The ONNX ops of a {@link LlamaLoraModel} with its adapters merged, op for op as the DJL forward
 * ({@code LlamaLoraModel}, {@code LlamaLayer}, {@code LlamaAttention}, {@code LlamaMlp}, {@code
 * RmsNorm}, {@code Rotary}, {@code KvCache}) computes it, so the two agree to float32 round-off.
 * One graph serves prefill and decode (the "with past" decoder of HF optimum and onnxruntime-genai):
 * L new tokens after P cached positions, T = P + L. Standard opset-17 ops only (no contrib RMSNorm,
 * rotary or attention kernels):
 *
 * <pre>
 *   inputs   input_ids, position_ids [B,L]; attention_mask [B,T] (1 token, 0 padding) int64
 *            past_key_values.{i}.key, .value [B,kv,P,d] float (P = 0 on the first call: empty tensors)
 *   cos, sin = Gather(cos_table, position_ids), same for sin     [B,1,L,d]   tables [maxPositions,d], float32 as
 *                                                                Rotary, from one inv_freq (LlamaConfig.ropeInvFreq)
 *   maskBias = (causal(j <= T-L+i) * mask[j] - 1) * FLT_MAX      [B,1,L,T]   query i sits at cache slot T-L+i
 *   x        = Gather(embed_tokens, ids)                         [B,L,H]
 *   layer    : h = x + attn(rms(x)); x = h + down(silu(gate(rms(h))) * up(rms(h)))
 *   attn     : q = rot(x Wq'^T + bq); present.{i}.key = Concat(past key, rot(x Wk'^T + bk)) [B,kv,T,d],
 *              present.{i}.value likewise with x Wv'^T + bv (biases: Qwen2 only; keys after RoPE, as KvCache);
 *              k,v repeated over the GQA group (Unsqueeze, Expand, Reshape);
 *              softmax(q k^T / sqrt(d) + maskBias) v, Wo'^T       W' = W0 + s B A
 *   rms(x)   = x / Sqrt(ReduceMean(Pow(x, 2)) + eps) * w
 *   rot(x)   = x * cos + Concat(-x[.., d/2:], x[.., :d/2]) * sin
 *   logits   = rms(x, model.norm) lm_head^T  (embed_tokens^T when tied)   [B,L,V]
 * </pre>
 *
 * <p>Names follow torch.onnx as {@link BertOnnxGraph}: a Linear weight is stored transposed as
 * {@code onnx::MatMul_<module>}; biases, embeddings and norm weights keep their HF names.
 */
final class LlamaOnnxGraph {

  static final String INPUT_IDS = "input_ids";
  static final String ATTENTION_MASK = "attention_mask";
  static final String POSITION_IDS = "position_ids";
  static final String LOGITS = "logits";
  static final String BATCH = "batch";
  static final String SEQUENCE = "sequence";
  static final String PAST_SEQUENCE = "past_sequence";
  static final String TOTAL_SEQUENCE = "total_sequence";
  static final String COS_TABLE = "model.rotary_emb.cos_table";
  static final String SIN_TABLE = "model.rotary_emb.sin_table";

  private final OnnxGraphBuilder g;
  private final LlamaLoraModel model;
  private final LlamaConfig config;
  private String qShape;
  private String kvShape;
  private String groupedShape;
  private String contextShape;
  private String expandGroup;

  private LlamaOnnxGraph(OnnxGraphBuilder g, LlamaLoraModel model) {
    this.g = g;
    this.model = model;
    this.config = model.config();
  }

  /** Input {@code past_key_values.{layer}.key} or {@code .value}. */
  static String past(int layer, boolean key) {
    return "past_key_values." + layer + (key ? ".key" : ".value");
  }

  /** Output {@code present.{layer}.key} or {@code .value}: the past with this call's positions appended. */
  static String present(int layer, boolean key) {
    return "present." + layer + (key ? ".key" : ".value");
  }

  /** Adds the whole model (inputs, weights, nodes, outputs) to {@code g}. */
  static void build(OnnxGraphBuilder g, LlamaLoraModel model) throws IOException {
    new LlamaOnnxGraph(g, model).build();
  }

  /**
   * The rotary tables {cos, sin}, each {@code [positions, d]} row-major, computed as {@code
   * Rotary.table}: float32 angles from the given inverse frequencies, halves duplicated (rotate-half
   * layout).
   */
  static float[][] rotaryTables(int positions, int headDim, float[] invFreq) {
    int half = headDim / 2;
    float[] cos = new float[positions * headDim];
    float[] sin = new float[positions * headDim];
    for (int p = 0; p < positions; p++) {
      for (int i = 0; i < half; i++) {
        float angle = (float) p * invFreq[i];
        int row = p * headDim;
        cos[row + i] = cos[row + half + i] = (float) Math.cos(angle);
        sin[row + i] = sin[row + half + i] = (float) Math.sin(angle);
      }
    }
    return new float[][] {cos, sin};
  }

  private void build() throws IOException {
    String ids = g.input(INPUT_IDS, DataType.INT64, BATCH, SEQUENCE);
    String mask = g.input(ATTENTION_MASK, DataType.INT64, BATCH, TOTAL_SEQUENCE);
    String positions = g.input(POSITION_IDS, DataType.INT64, BATCH, SEQUENCE);
    int d = config.headDim();
    for (int i = 0; i < config.numLayers(); i++) {
      for (boolean key : new boolean[] {true, false}) {
        g.input(past(i, key), DataType.FLOAT, BATCH, config.numKvHeads(), PAST_SEQUENCE, d);
      }
    }
    qShape = g.constant("/model", 0, 0, config.numHeads(), d);
    kvShape = g.constant("/model", 0, 0, config.numKvHeads(), d);
    groupedShape = g.constant("/model", 0, config.numHeads(), -1, d);
    contextShape = g.constant("/model", 0, 0, (long) config.numHeads() * d);
    expandGroup = g.constant("/model", 1, 1, config.groupSize(), 1, 1);

    String embed = g.initializer("model.embed_tokens.weight", values("model.embed_tokens.weight"),
        config.vocabSize(), config.hiddenSize());
    String x = g.node("/model/embed_tokens", "Gather", List.of(embed, ids));
    float[][] tables = rotaryTables(config.maxPositions(), d, config.ropeInvFreq());
    String cos = rotaryTable(COS_TABLE, tables[0], positions);
    String sin = rotaryTable(SIN_TABLE, tables[1], positions);
    String maskBias = maskBias(ids, mask);
    for (int i = 0; i < config.numLayers(); i++) {
      x = layer(i, x, cos, sin, maskBias);
    }
    String h = rmsNorm(x, "model.norm");
    if (config.tieWordEmbeddings()) {
      String embedT = g.node("/lm_head", "Transpose", List.of(embed), intsAttr("perm", 1, 0));
      g.nodeTo(LOGITS, "/lm_head", "MatMul", List.of(h, embedT));
    } else {
      linear(h, "lm_head", LOGITS);
    }
    g.output(LOGITS, DataType.FLOAT, BATCH, SEQUENCE, config.vocabSize());
    for (int i = 0; i < config.numLayers(); i++) {
      for (boolean key : new boolean[] {true, false}) {
        g.output(present(i, key), DataType.FLOAT, BATCH, config.numKvHeads(), TOTAL_SEQUENCE, d);
      }
    }
  }

  /** The rows of a rotary table at {@code position_ids}, as {@code [B,1,L,d]} to broadcast over heads. */
  private String rotaryTable(String name, float[] table, String positions) throws IOException {
    String scope = "/model/rotary_emb";
    String t = g.initializer(name, table, config.maxPositions(), config.headDim());
    return g.node(scope, "Unsqueeze", List.of(g.node(scope, "Gather", List.of(t, positions)), g.constant(scope, 1)));
  }

  /** Dimension {@code axis} of {@code x} as an int64 scalar. */
  private String dim(String scope, String x, int axis) {
    String length = g.node(scope, "Shape", List.of(x), intAttr("start", axis), intAttr("end", axis + 1));
    return g.node(scope, "Squeeze", List.of(length, g.constant(scope, 0)));
  }

  /**
   * 0 where query i may see key j ({@code j <= T-L+i}, its own cache slot, and {@code mask[j] = 1}),
   * -FLT_MAX elsewhere; {@code [B,1,L,T]}.
   */
  private String maskBias(String ids, String mask) {
    String scope = "/model/attention_mask";
    String total = dim(scope, mask, 1);
    String past = g.node(scope, "Sub", List.of(total, dim(scope, ids, 1)));
    String one = g.constant(scope, new long[] {1}, new long[0]);
    String keySlots = g.node(scope, "Range", List.of(g.constant(scope, new long[] {0}, new long[0]), total, one));
    String querySlots = g.node(scope, "Range", List.of(past, total, one));
    String query = g.node(scope, "Unsqueeze", List.of(querySlots, g.constant(scope, 1))); // [L,1]
    String key = g.node(scope, "Unsqueeze", List.of(keySlots, g.constant(scope, 0)));     // [1,T]
    String causal = g.node(scope, "Cast", List.of(g.node(scope, "LessOrEqual", List.of(key, query))),
        intAttr("to", DataType.FLOAT_VALUE));
    String maskF = g.node(scope, "Cast", List.of(mask), intAttr("to", DataType.FLOAT_VALUE));
    String keys = g.node(scope, "Unsqueeze", List.of(maskF, g.constant(scope, 1, 2))); // [B,1,1,T]
    String allowed = g.node(scope, "Mul", List.of(causal, keys));
    String shifted = g.node(scope, "Sub", List.of(allowed, g.scalar(scope, 1f)));
    return g.node(scope, "Mul", List.of(shifted, g.scalar(scope, Float.MAX_VALUE)));
  }

  private String layer(int i, String x, String cos, String sin, String maskBias) throws IOException {
    String p = "model.layers." + i + ".";
    String a = rmsNorm(x, p + "input_layernorm");
    String h = g.node(scope(p + "self_attn"), "Add", List.of(x, attention(i, a, cos, sin, maskBias)));
    String m = rmsNorm(h, p + "post_attention_layernorm");
    return g.node(scope(p + "mlp"), "Add", List.of(h, mlp(p + "mlp.", m)));
  }

  private String attention(int layer, String x, String cos, String sin, String maskBias) throws IOException {
    String p = "model.layers." + layer + ".self_attn.";
    String scope = scope(p.substring(0, p.length() - 1));
    String q = rotate(heads(linear(x, p + "q_proj", null), qShape, scope), cos, sin, scope);
    String kNew = rotate(heads(linear(x, p + "k_proj", null), kvShape, scope), cos, sin, scope);
    String vNew = heads(linear(x, p + "v_proj", null), kvShape, scope);
    String k = repeatKv(g.nodeTo(present(layer, true), scope, "Concat", List.of(past(layer, true), kNew),
        intAttr("axis", 2)), scope);
    String v = repeatKv(g.nodeTo(present(layer, false), scope, "Concat", List.of(past(layer, false), vNew),
        intAttr("axis", 2)), scope);
    String kT = g.node(scope, "Transpose", List.of(k), intsAttr("perm", 0, 1, 3, 2));
    String sqrtD = g.scalar(scope, (float) Math.sqrt(config.headDim()));
    String scores = g.node(scope, "Div", List.of(g.node(scope, "MatMul", List.of(q, kT)), sqrtD));
    String probs =
        g.node(
            scope,
            "Softmax",
            List.of(g.node(scope, "Add", List.of(scores, maskBias))),
            intAttr("axis", -1));
    String context = g.node(scope, "Transpose", List.of(g.node(scope, "MatMul", List.of(probs, v))),
        intsAttr("perm", 0, 2, 1, 3));
    return linear(g.node(scope, "Reshape", List.of(context, contextShape)), p + "o_proj", null);
  }

  /** {@code [B,L,n*d] -> [B,n,L,d]}. */
  private String heads(String x, String shape, String scope) {
    return g.node(
        scope,
        "Transpose",
        List.of(g.node(scope, "Reshape", List.of(x, shape))),
        intsAttr("perm", 0, 2, 1, 3));
  }

  /** HF {@code repeat_kv}: {@code [B,kv,L,d] -> [B,kv*g,L,d]}, query head h reading kv head h / g. */
  private String repeatKv(String x, String scope) {
    if (config.groupSize() == 1) {
      return x;
    }
    String grouped = g.node(scope, "Unsqueeze", List.of(x, g.constant(scope, 2))); // [B,kv,1,L,d]
    String expanded = g.node(scope, "Expand", List.of(grouped, expandGroup));      // [B,kv,g,L,d]
    return g.node(scope, "Reshape", List.of(expanded, groupedShape));
  }

  /** Rotate-half RoPE of {@code x:[B,n,L,d]} with {@code cos, sin:[B,1,L,d]}. */
  private String rotate(String x, String cos, String sin, String scope) {
    int d = config.headDim();
    String axis = g.constant(scope, 3);
    String first = g.node(scope, "Slice", List.of(x, g.constant(scope, 0), g.constant(scope, d / 2), axis));
    String second = g.node(scope, "Slice", List.of(x, g.constant(scope, d / 2), g.constant(scope, d), axis));
    String rotated =
        g.node(
            scope,
            "Concat",
            List.of(g.node(scope, "Neg", List.of(second)), first),
            intAttr("axis", -1));
    return g.node(
        scope,
        "Add",
        List.of(
            g.node(scope, "Mul", List.of(x, cos)), g.node(scope, "Mul", List.of(rotated, sin))));
  }

  private String mlp(String p, String x) throws IOException {
    String scope = scope(p.substring(0, p.length() - 1));
    String gate = linear(x, p + "gate_proj", null);
    String up = linear(x, p + "up_proj", null);
    String silu = g.node(scope + "/act_fn", "Mul", List.of(gate, g.node(scope + "/act_fn", "Sigmoid", List.of(gate))));
    return linear(g.node(scope, "Mul", List.of(silu, up)), p + "down_proj", null);
  }

  /** {@code x W'^T} as MatMul with the merged, transposed weight, then Add of the bias if any (Qwen2 q, k, v). */
  private String linear(String x, String module, String output) throws IOException {
    LoraLinear lin = model.linear(module);
    String w =
        g.initializer(
            "onnx::MatMul_" + module,
            mergedWeightInOut(model, lin),
            lin.inFeatures(),
            lin.outFeatures());
    if (!lin.hasBias()) {
      return g.nodeTo(output, scope(module), "MatMul", List.of(x, w));
    }
    String y = g.node(scope(module), "MatMul", List.of(x, w));
    String b = g.initializer(module + ".bias", values(module + ".bias"), lin.outFeatures());
    return g.nodeTo(output, scope(module), "Add", List.of(y, b));
  }

  private String rmsNorm(String x, String module) throws IOException {
    String scope = scope(module);
    String w = g.initializer(module + ".weight", values(module + ".weight"), config.hiddenSize());
    String meanSquare = g.node(scope, "ReduceMean", List.of(g.node(scope, "Pow", List.of(x, g.scalar(scope, 2f)))),
        intsAttr("axes", -1), intAttr("keepdims", 1));
    String rms =
        g.node(
            scope,
            "Sqrt",
            List.of(
                g.node(
                    scope,
                    "Add",
                    List.of(meanSquare, g.scalar(scope, (float) config.rmsNormEps())))));
    return g.node(scope, "Mul", List.of(g.node(scope, "Div", List.of(x, rms)), w));
  }

  private float[] values(String name) {
    return model.namedParameters().get(name).getArray().toFloatArray();
  }
}
