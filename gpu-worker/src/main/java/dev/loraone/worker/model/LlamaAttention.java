package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.loraone.worker.weights.LlamaConfig;
import java.util.List;
import java.util.Map;

/**
 * Causal grouped-query self-attention with rotary positions (HF {@code LlamaAttention}); q, k, v
 * and o are {@link LoraLinear}s, bias-free except Qwen2's q, k, v (the bias is added before RoPE).
 *
 * <pre>
 *   q = rot(x Wq^T [+ bq]) [B,heads,L,d]   k = rot(x Wk^T [+ bk]), v = x Wv^T [+ bv] [B,kv,L,d]   (to the cache)
 *   a = softmax(q k^T / sqrt(d) + maskBias) v                  head h reads kv head h / (heads/kv)
 *   y = a Wo^T                                                 [B,L,H]
 *   inputs: x:[B,L,H], cos, sin:[L,d], maskBias:[B,1,L,T] (0 keep, -FLT_MAX drop) or none
 * </pre>
 *
 * GQA is computed without copying k and v: the g = heads/kv query heads that share a kv head are
 * stacked into one [g*L] axis, which is the same as HF's {@code repeat_kv} followed by plain
 * attention, since HF's head h likewise reads kv head h / g.
 *
 * <p>Where sqrt(d) is a power of two (d = 16, 64, 256), q is divided by it before {@code q k^T}
 * rather than the scores after: the same bits (scaling by a power of two is exact), on {@code d}
 * columns instead of {@code T}, in the forward and in the backward.
 */
final class LlamaAttention extends AbstractBlock {

  private final LlamaConfig config;
  private final int layer;
  private final LoraLinear q;
  private final LoraLinear k;
  private final LoraLinear v;
  private final LoraLinear o;

  LlamaAttention(LlamaConfig config, int layer, String prefix, LlamaLayer.LinearFactory linear) {
    this.config = config;
    this.layer = layer;
    int h = config.hiddenSize();
    int qw = config.numHeads() * config.headDim();
    int kvw = config.numKvHeads() * config.headDim();
    q = addChildBlock("q_proj", linear.create(prefix + "q_proj", h, qw));
    k = addChildBlock("k_proj", linear.create(prefix + "k_proj", h, kvw));
    v = addChildBlock("v_proj", linear.create(prefix + "v_proj", h, kvw));
    o = addChildBlock("o_proj", linear.create(prefix + "o_proj", qw, h));
  }

  @Override
  protected NDList forwardInternal(ParameterStore ps, NDList in, boolean training, PairList<String, Object> params) {
    NDArray maskBias = in.size() > 3 ? in.get(3) : null;
    return new NDList(attend(ps, in.get(0), in.get(1), in.get(2), maskBias, null, training, params));
  }

  /** The attention output {@code [B,L,H]}; with a cache, k and v of earlier positions come from it. */
  NDArray attend(ParameterStore ps, NDArray x, NDArray cos, NDArray sin, NDArray maskBias, KvCache cache,
      boolean training, PairList<String, Object> params) {
    long b = x.getShape().get(0);
    long l = x.getShape().get(1);
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int d = config.headDim();
    long g = config.groupSize();
    NDArray qh = Rotary.apply(project(q, ps, x, heads, training, params), cos, sin);
    NDArray kh = Rotary.apply(project(k, ps, x, kvHeads, training, params), cos, sin);
    NDArray vh = project(v, ps, x, kvHeads, training, params);
    if (cache != null) {
      NDList kv = cache.append(layer, kh, vh);
      kh = kv.get(0);
      vh = kv.get(1);
    }
    long t = kh.getShape().get(2);
    float root = (float) Math.sqrt(d);
    boolean exact = Exact.isPowerOfTwo(root); // then q / root is exact: scale q [L,d], not the scores [L,T]
    NDArray scaledQ = exact ? qh.div(Owned.scalar(qh, root)) : qh;
    NDArray grouped = scaledQ.reshape(b, kvHeads, g * l, d); // query heads kv*g .. kv*g+g-1 share kv head kv
    NDArray product = grouped.matMul(kh.transpose(0, 1, 3, 2));
    NDArray scores = (exact ? product : product.div(Owned.scalar(product, root))).reshape(b, heads, l, t);
    if (maskBias != null) {
      scores = scores.add(maskBias);
    }
    NDArray probs = scores.softmax(-1).reshape(b, kvHeads, g * l, t);
    NDArray context = probs.matMul(vh).reshape(b, heads, l, d).transpose(0, 2, 1, 3).reshape(b, l, (long) heads * d);
    return o.forward(ps, new NDList(context), training, params).head();
  }

  private static NDArray project(LoraLinear lin, ParameterStore ps, NDArray x, int heads, boolean training,
      PairList<String, Object> params) {
    Shape s = x.getShape();
    return lin.forward(ps, new NDList(x), training, params).head()
        .reshape(s.get(0), s.get(1), heads, -1).transpose(0, 2, 1, 3);
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape x = inputShapes[0];
    for (LoraLinear lin : List.of(q, k, v)) {
      lin.initialize(manager, dataType, x);
    }
    o.initialize(manager, dataType, x.slice(0, x.dimension() - 1).add((long) config.numHeads() * config.headDim()));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    return new Shape[] {inputs[0]};
  }

  /** q, k, v, o in HF order. */
  List<LoraLinear> linears() {
    return List.of(q, k, v, o);
  }

  void collectParameters(Map<String, Parameter> into) {
    linears().forEach(lin -> lin.collectParameters(into));
  }
}
