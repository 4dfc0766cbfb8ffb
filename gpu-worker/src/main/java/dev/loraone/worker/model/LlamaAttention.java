package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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
 * stacked into one axis of L*g rows (position-major: row p*g+j is query head kv*g+j at position p),
 * the same as HF's {@code repeat_kv} followed by plain attention, since HF's head h likewise reads kv
 * head h / g.
 *
 * <p>The queries run in blocks of {@link #QUERY_BLOCK} positions, each against the
 * keys up to its last position only: the keys it skips are the ones the causal mask would drop
 * (weight exp(-FLT_MAX - max) = 0), so the softmax is the same up to rounding, and the upper
 * triangle of the scores beyond the block diagonal is never formed (62.5 % of the full products and
 * softmax at 4 blocks). A row whose keys are all masked (an all-padding row) spreads evenly over the
 * keys of its block rather than over all of them; nothing reads it (no label, masked as a key).
 *
 * <p>Where sqrt(d) is a power of two (d = 16, 64, 256), q's rotary table is divided by it instead
 * of the scores: exact (scaling by a power of two moves the exponent only), on {@code [L,d]}
 * instead of {@code [L,T]}.
 */
final class LlamaAttention extends AbstractBlock {

  /**
   * Query positions per block of the causal attention: a block's queries attend only to the keys up
   * to its last position, so the all-masked upper triangle beyond the block diagonal is never formed.
   */
  static final int QUERY_BLOCK = 128;

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
    int l = Math.toIntExact(x.getShape().get(1));
    int heads = config.numHeads();
    int kvHeads = config.numKvHeads();
    int d = config.headDim();
    int g = Math.toIntExact(config.groupSize());
    float root = (float) Math.sqrt(d);
    boolean exact = Exact.isPowerOfTwo(root); // then q / root is exact: fold it into q's rotary table
    NDArray qCos = exact ? cos.div(Owned.scalar(cos, root)) : cos;
    NDArray qSin = exact ? sin.div(Owned.scalar(sin, root)) : sin;
    NDList qkv = LoraLinear.forwardShared(ps, x, List.of(q, k, v), training, params);
    NDArray qr = Rotary.apply(heads(qkv.get(0), heads), qCos.reshape(l, 1, d), qSin.reshape(l, 1, d));
    NDArray kh = Rotary.apply(heads(qkv.get(1), kvHeads), cos.reshape(l, 1, d), sin.reshape(l, 1, d))
        .transpose(0, 2, 1, 3);
    NDArray vh = heads(qkv.get(2), kvHeads).transpose(0, 2, 1, 3);
    if (cache != null) {
      NDList kv = cache.append(layer, kh, vh);
      kh = kv.get(0);
      vh = kv.get(1);
    }
    int past = Math.toIntExact(kh.getShape().get(2)) - l;
    // rows (position, query head of the group): a block of positions is a block of rows
    NDArray grouped = qr.reshape(b, l, kvHeads, g, d).transpose(0, 2, 1, 3, 4).reshape(b, kvHeads, (long) l * g, d);
    int blocks = blocks(l);
    NDList qBlocks = blocks == 1 ? new NDList(grouped) : grouped.split(rowSplits(l, g, blocks), 2);
    NDList contexts = new NDList(blocks);
    for (int i = 0; i < blocks; i++) {
      int p0 = (int) ((long) l * i / blocks);
      int p1 = (int) ((long) l * (i + 1) / blocks);
      int keys = past + p1; // query p sees keys 0..past+p: the keys after the block's last query are all masked
      NDArray kb = keys == past + l ? kh : prefix(kh, keys);
      NDArray vb = keys == past + l ? vh : prefix(vh, keys);
      NDArray scores = qBlocks.get(i).matMul(kb.transpose(0, 1, 3, 2)); // [B,kv,(p1-p0)*g,keys]
      if (!exact) {
        scores = scores.div(Owned.scalar(scores, root));
      }
      if (maskBias != null) {
        NDArray m = maskBias.get(new NDIndex(":, :, {}:{}, :{}", p0, p1, keys)).reshape(-1, 1, p1 - p0, 1, keys);
        scores = scores.reshape(b, kvHeads, p1 - p0, g, keys).add(m).reshape(b, kvHeads, (long) (p1 - p0) * g, keys);
      }
      contexts.add(scores.softmax(-1).matMul(vb));
    }
    NDArray context = blocks == 1 ? contexts.head() : NDArrays.concat(contexts, 2);
    context = context.reshape(b, kvHeads, l, g, d).transpose(0, 2, 1, 3, 4).reshape(b, l, (long) heads * d);
    return o.forward(ps, new NDList(context), training, params).head();
  }

  /** How many query blocks {@code l} positions run in. */
  static int blocks(int l) {
    return l > QUERY_BLOCK ? (l + QUERY_BLOCK - 1) / QUERY_BLOCK : 1;
  }

  /** The (query, key) pairs whose scores a forward of {@code l} positions without a cache forms, per head. */
  static long scorePairs(int l) {
    int blocks = blocks(l);
    long pairs = 0;
    for (int i = 0; i < blocks; i++) {
      long p0 = (long) l * i / blocks;
      long p1 = (long) l * (i + 1) / blocks;
      pairs += (p1 - p0) * p1;
    }
    return pairs;
  }

  /**
   * Positions {@code 0..n-1} of {@code x:[B,kv,T,d]}, a view. A split, not DJL's {@code get}, which
   * slices every axis: each slice costs a zero-fill and a copy of the whole of x in backward.
   */
  private static NDArray prefix(NDArray x, int n) {
    return x.split(new long[] {n}, 2).get(0);
  }

  /** Row indices {@code p_i * g} where query block i of {@code blocks} over {@code l} positions starts, i >= 1. */
  private static long[] rowSplits(int l, int g, int blocks) {
    long[] at = new long[blocks - 1];
    for (int i = 1; i < blocks; i++) {
      at[i - 1] = (long) l * i / blocks * g;
    }
    return at;
  }

  /** A projection's output {@code [B,L,heads*d]} as {@code [B,L,heads,d]}. */
  private static NDArray heads(NDArray projected, int heads) {
    Shape s = projected.getShape();
    return projected.reshape(s.get(0), s.get(1), heads, -1);
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
