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
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * A Llama-family causal LM (HF {@code LlamaForCausalLM}, also Mistral and Qwen2) with LoRA adapters:
 * the DJL model a worker fine-tunes on prompt/completion pairs.
 *
 * <pre>
 *   inputs:  input_ids, attention_mask            int64 [B,L]   (mask: 1 token, 0 padding; optional)
 *   x      = embed_tokens[ids]                                   [B,L,H]
 *   x      = LlamaLayer_n(x, rope(positions 0..L-1), causal AND padding mask)   n = 0..layers-1
 *            rope: inv_freq scaled as rope_scaling says (LlamaConfig.ropeInvFreq, as the ONNX export)
 *   logits = rmsnorm(x, model.norm) lm_head^T                    [B,L,V]  (lm_head = embed_tokens if tied)
 *   loss   = {@link CausalLmLoss} (shifted, -100 ignored)
 * </pre>
 *
 * <p>Positions are 0..L-1 for every row, as HF's forward without {@code position_ids}: batches are
 * right-padded ({@link dev.loraone.data.CausalLmEncoder}). All projections are {@link LoraLinear}s,
 * bias-free but for Qwen2's q, k and v, whose biases are frozen base weights (LoRA adapts the weight
 * only, so a merge leaves the bias as it is). LoRA targets follow {@link LoraConfig} ({@code
 * q_proj,v_proj}, ...), where {@code all-linear} means every projection of the layers but never
 * {@code lm_head}, as in PEFT.
 * Parameters are reachable by HF/PEFT name ({@link #namedParameters()}). {@link #generate} decodes
 * greedily with a {@link KvCache}.
 *
 * <p>Lifecycle as {@link BertLoraModel}: build with {@link #create} or {@link #fromPretrained},
 * {@code initialize} once (pretrained weights are copied in then); starts in LoRA mode. Not
 * thread-safe.
 */
public final class LlamaLoraModel extends AbstractBlock implements AdaptedModel {

  private static final double INITIALIZER_RANGE = 0.02; // HF LlamaConfig.initializer_range
  private static final String LM_HEAD = "lm_head";

  private final LlamaConfig config;
  private final LoraConfig lora;
  private final Parameter embedTokens;
  private final List<LlamaLayer> layers = new ArrayList<>();
  private final Parameter finalNorm;
  private final LoraLinear lmHead; // null when tied to embed_tokens
  private final Rotary rotary;
  private final AdapterSet adapters;
  private Map<String, FloatTensor> pendingWeights;

  private LlamaLoraModel(LlamaConfig config, LoraConfig lora, Map<String, FloatTensor> pretrained,
      Map<String, NDArray> shared) {
    this.config = config;
    this.lora = lora;
    this.adapters = new AdapterSet(lora.seed());
    Map<String, Parameter> named = adapters.registry();
    this.rotary = new Rotary(config.headDim(), config.ropeInvFreq());
    long seed = lora.seed();
    Function<String, Initializer> baseInit = name ->
        pretrained != null ? Initializer.ZEROS : Seeded.normal(INITIALIZER_RANGE, seed, name);
    LlamaLayer.LinearFactory linear = (module, in, out) -> new LoraLinear(module, in, out, rankFor(module),
        lora.scaling(), lora.dropout(), seed, baseInit.apply(module + ".weight"), hasBias(config, module));
    int h = config.hiddenSize();
    embedTokens = addParameter(LoraLinear.param("embed_tokens", Parameter.Type.WEIGHT,
        new Shape(config.vocabSize(), h), baseInit.apply("model.embed_tokens.weight")));
    for (int i = 0; i < config.numLayers(); i++) {
      layers.add(addChildBlock("layer" + i, new LlamaLayer(config, i, "model.layers." + i + ".", linear)));
    }
    finalNorm = addParameter(LoraLinear.param("norm", Parameter.Type.GAMMA, new Shape(h), Initializer.ONES));
    if (config.tieWordEmbeddings() && rankFor(LM_HEAD) > 0) {
      throw new IllegalArgumentException("lm_head is tied to model.embed_tokens (tie_word_embeddings), "
          + "so it cannot carry a LoRA adapter; remove it from the targets " + lora.targets());
    }
    lmHead = config.tieWordEmbeddings() ? null : addChildBlock(LM_HEAD, linear.create(LM_HEAD, h, config.vocabSize()));

    named.put("model.embed_tokens.weight", embedTokens);
    layers.forEach(layer -> layer.collectParameters(named));
    named.put("model.norm.weight", finalNorm);
    layers.forEach(layer -> layer.linears().forEach(adapters::addLinear));
    if (lmHead != null) {
      lmHead.collectParameters(named);
      adapters.addLinear(lmHead);
    }
    if (pretrained != null) {
      WeightLoading.check(named, pretrained);
      pendingWeights = pretrained;
    } else if (shared != null) {
      pendingWeights = WeightLoading.share(named, shared);
    }
    freezeBase();
  }

  /** A model with seeded random base weights (HF init: normal(0, 0.02), unit RMSNorm weights). */
  public static LlamaLoraModel create(LlamaConfig config, LoraConfig lora) {
    return new LlamaLoraModel(config, lora, null, null);
  }

  /** A model whose base weights come from HF-named tensors; checked now, copied at {@code initialize}. */
  public static LlamaLoraModel fromPretrained(LlamaConfig config, LoraConfig lora, Map<String, FloatTensor> weights) {
    return new LlamaLoraModel(config, lora, weights, null);
  }

  /**
   * A model whose base parameters are arrays shared with other jobs (see {@link
   * BertLoraModel#fromShared}); only the adapters are its own.
   */
  public static LlamaLoraModel fromShared(LlamaConfig config, LoraConfig lora, Map<String, NDArray> shared) {
    return new LlamaLoraModel(config, lora, null, java.util.Objects.requireNonNull(shared, "shared"));
  }

  /** A model from a loaded HF folder ({@link LlamaCheckpoint#load}). */
  public static LlamaLoraModel fromCheckpoint(LlamaCheckpoint checkpoint, LoraConfig lora) {
    return fromPretrained(checkpoint.config(), lora, checkpoint.weights());
  }

  /** The two inputs (input_ids, attention_mask), int64 {@code [B,L]}, of an encoded batch. */
  public static NDList inputs(NDManager manager, CausalLmBatch batch) {
    Shape s = new Shape(batch.batchSize(), batch.sequenceLength());
    return new NDList(
        Owned.copy(manager.create(batch.inputIds(), s)),
        Owned.copy(manager.create(batch.attentionMask(), s)));
  }

  /**
   * The (query, key) pairs per head whose scores a training or evaluation forward of {@code l}
   * positions computes: the attention runs in causal query blocks, each against the keys up to its
   * last position, so fewer than {@code l * l} (what a FLOP count of the executed step needs).
   */
  public static long attentionScorePairs(int l) {
    return LlamaAttention.scorePairs(l);
  }

  /** Qwen2's q, k and v projections carry a (frozen, base) bias; nothing else does. */
  private static boolean hasBias(LlamaConfig config, String module) {
    return config.qkvBias()
        && (module.endsWith(".q_proj") || module.endsWith(".k_proj") || module.endsWith(".v_proj"));
  }

  private int rankFor(String module) {
    boolean allLinear = lora.targets().equals(List.of(LoraConfig.ALL_LINEAR));
    return module.equals(LM_HEAD) && allLinear ? 0 : lora.rankFor(module);
  }

  @Override
  public void initialize(NDManager manager, DataType dataType, Shape... inputShapes) {
    super.initialize(manager, dataType, inputShapes);
    if (pendingWeights != null) {
      WeightLoading.copy(adapters.registry(), pendingWeights);
      pendingWeights = null; // release the heap copy
    }
  }

  /** Initializes on {@code manager} for float32 activations and inputs of any [B,L]. */
  public void initialize(NDManager manager) {
    initialize(manager, DataType.FLOAT32, new Shape(1, 1), new Shape(1, 1));
  }

  /** Output 0: logits {@code [B,L,V]} float32. */
  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    PairList<String, Object> forwardParams = forwardParams(training, params);
    NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
    NDArray hidden = hidden(ps, inputs.get(0), mask, null, training, forwardParams);
    return new NDList(logits(ps, hidden, training, forwardParams));
  }

  /** The forward parameters of one forward: a training forward with dropout draws the next dropout seed. */
  private PairList<String, Object> forwardParams(boolean training, PairList<String, Object> params) {
    if (training && lora.dropout() > 0) {
      long s = adapters.nextForwardSeed();
      return new PairList<>(List.of(LoraLinear.DROPOUT_SEED), List.of(s));
    }
    return params;
  }

  /**
   * The projections of decoder layer {@code layer} by module name, for {@link
   * CheckpointedPass#backward(NDArray, IntConsumer)}.
   */
  public List<String> layerModules(int layer) {
    return layers.get(layer).linears().stream().map(LoraLinear::module).toList();
  }

  /**
   * A training forward of {@link #inputs} that keeps only each decoder layer's input, with a
   * backward that recomputes layer by layer ({@link CheckpointedPass}); the same loss and gradients as
   * {@code loss(ps, inputs, labels, true)} and a backward, bit for bit, and the same dropout seeds. Call
   * inside a gradient collector.
   */
  public CheckpointedPass forwardCheckpointed(ParameterStore ps, NDList inputs, NDArray labels) {
    PairList<String, Object> params = forwardParams(true, null);
    NDArray ids = inputs.get(0);
    NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
    int l = Math.toIntExact(ids.getShape().get(1));
    requireFits(l);
    NDManager m = ids.getManager();
    Device d = ids.getDevice();
    NDArray x = Embedding.embedding(ids, ps.getValue(embedTokens, d, true), SparseFormat.DENSE).head();
    NDList rope = rotary.table(m, 0, l);
    NDArray maskBias = maskBias(m, mask, ids.getShape().get(0), l, 0);
    List<CheckpointedPass.Layer> steps =
        CheckpointedPass.layers(layers, ps, rope.get(0), rope.get(1), maskBias, params);
    return new CheckpointedPass(m, x, embedTokens.requiresGradient(), steps, h -> headLoss(ps,
        RmsNorm.apply(h, ps.getValue(finalNorm, d, true), (float) config.rmsNormEps()), labels, true, params));
  }

  /**
   * The final-norm hidden states {@code [B,L,H]} of {@code ids:[B,L]}, which sit at positions
   * {@code T..T+L-1} after the T positions already in {@code cache} (none without a cache). A mask,
   * if given, covers all {@code T+L} positions.
   */
  NDArray hidden(ParameterStore ps, NDArray ids, NDArray mask, KvCache cache, boolean training,
      PairList<String, Object> params) {
    long b = ids.getShape().get(0);
    int l = Math.toIntExact(ids.getShape().get(1));
    int past = cache == null ? 0 : cache.length();
    requireFits(past + l);
    NDManager m = ids.getManager();
    Device d = ids.getDevice();
    // Embedding.embedding with a null SparseFormat throws an NPE in the PyTorch engine (FEASIBILITY.md 3).
    NDArray x = Embedding.embedding(ids, ps.getValue(embedTokens, d, training), SparseFormat.DENSE).head();
    NDList rope = rotary.table(m, past, l);
    NDArray maskBias = maskBias(m, mask, b, l, past);
    boolean scoped = !JniUtils.isGradMode(); // no graph: free a layer's temporaries (a KV cache keeps its own)
    for (LlamaLayer layer : layers) {
      if (!scoped) {
        x = layer.run(ps, x, rope.get(0), rope.get(1), maskBias, cache, training, params);
        continue;
      }
      try (NDManager scope = m.newSubManager()) { // as CheckpointedPass: without it an evaluation holds every
        x.tempAttach(scope); // layer's activations to its end (gigabytes at the 1B shape and 512 tokens)
        NDArray y = layer.run(ps, x, rope.get(0), rope.get(1), maskBias, cache, training, params);
        y.attach(m);
        x = y;
      }
    }
    return RmsNorm.apply(x, ps.getValue(finalNorm, d, training), (float) config.rmsNormEps());
  }

  /**
   * The summed next-token loss and the labelled count of a batch ({@link CausalLmLoss#sumAndCount}), with a graph
   * to every trained parameter when grad mode is on (a training forward: dropout, full-gradient mode). A head that
   * takes no gradient is applied chunk by chunk ({@link CausalLmLoss#fromHidden}), so the {@code [B,L,V]} logits
   * never exist whole.
   */
  public NDArray[] loss(ParameterStore ps, NDList inputs, NDArray labels, boolean training) {
    PairList<String, Object> forwardParams = forwardParams(training, null);
    NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
    NDArray hidden = hidden(ps, inputs.get(0), mask, null, training, forwardParams);
    return headLoss(ps, hidden, labels, training, forwardParams);
  }

  private NDArray[] headLoss(ParameterStore ps, NDArray hidden, NDArray labels, boolean training,
      PairList<String, Object> params) {
    NDArray head = frozenHead(ps, hidden.getDevice());
    if (head == null) {
      return CausalLmLoss.sumAndCount(logits(ps, hidden, training, params), labels);
    }
    return CausalLmLoss.fromHidden(hidden, head, labels, JniUtils.isGradMode());
  }

  /**
   * The LM head's weight {@code [V,H]} when the head takes no gradient: tied to an embedding that does not
   * train, or an untied lm_head without adapter, bias or full-gradient mode. Null otherwise.
   */
  private NDArray frozenHead(ParameterStore ps, Device d) {
    if (lmHead == null) {
      return embedTokens.requiresGradient() ? null : ps.getValue(embedTokens, d, false);
    }
    return lmHead.rank() > 0 || lmHead.takesWeightGradient() || lmHead.hasBias() ? null : lmHead.weightArray();
  }

  private NDArray logits(ParameterStore ps, NDArray hidden, boolean training, PairList<String, Object> params) {
    if (lmHead == null) {
      return Linear.linear(hidden, ps.getValue(embedTokens, hidden.getDevice(), training)).head();
    }
    return lmHead.forward(ps, new NDList(hidden), training, params).head();
  }

  /**
   * The additive attention mask {@code [B,1,L,T+L]}: 0 where query i (position past+i) may see key
   * j, i.e. {@code j <= past+i} and {@code mask[j] = 1}; -FLT_MAX elsewhere (once, never summed to
   * -inf, so a fully masked padding row stays finite). Null when nothing is masked.
   */
  private static NDArray maskBias(NDManager m, NDArray mask, long b, int l, int past) {
    int t = past + l;
    if (mask == null && l == 1) {
      return null;
    }
    float[] causal = new float[l * t];
    for (int i = 0; i < l; i++) {
      Arrays.fill(causal, i * t, i * t + past + i + 1, 1f);
    }
    NDArray allowed = Owned.copy(m.create(causal, new Shape(1, 1, l, t)));
    if (mask != null) {
      if (!mask.getShape().equals(new Shape(b, t))) {
        throw new IllegalArgumentException("attention_mask must be [" + b + "," + t + "], got " + mask.getShape());
      }
      allowed = allowed.mul(mask.toType(DataType.FLOAT32, false).reshape(b, 1, 1, t));
    }
    return allowed.sub(1f).mul(Float.MAX_VALUE);
  }

  private void requireFits(int positions) {
    if (positions > config.maxPositions()) {
      throw new IllegalArgumentException(
          positions + " positions exceed max_position_embeddings " + config.maxPositions());
    }
    if (config.slidingWindow() > 0 && positions > config.slidingWindow()) {
      throw new IllegalArgumentException(positions + " positions exceed sliding_window " + config.slidingWindow()
          + ", which this model does not implement");
    }
  }

  /**
   * Greedy decoding with a KV cache: the prompt is fed once, then one token per step, each the
   * argmax of the last logits (ties to the lowest id). Runs in inference mode, with adapters as they
   * are (active or merged); call outside a gradient collector.
   *
   * @param promptIds at least one token
   * @param maxNewTokens how many tokens to generate at most
   * @param eosId generation stops after emitting it; negative for none
   * @return the new tokens only (not the prompt), ending with {@code eosId} if it was produced
   */
  public int[] generate(int[] promptIds, int maxNewTokens, int eosId) {
    return generate(promptIds, maxNewTokens, eosId < 0 ? Set.of() : Set.of(eosId));
  }

  /** As {@link #generate(int[], int, int)}, stopping after any of {@code eosIds} (Llama 3 has several). */
  public int[] generate(int[] promptIds, int maxNewTokens, Set<Integer> eosIds) {
    if (promptIds.length == 0 || maxNewTokens < 0) {
      throw new IllegalArgumentException("need a non-empty prompt and maxNewTokens >= 0, got "
          + promptIds.length + " prompt tokens and maxNewTokens " + maxNewTokens);
    }
    for (int id : promptIds) {
      if (id < 0 || id >= config.vocabSize()) {
        throw new IllegalArgumentException(
            "prompt token " + id + " is outside the vocabulary [0," + config.vocabSize() + ")");
      }
    }
    requireFits(promptIds.length + Math.max(0, maxNewTokens - 1)); // the last token is never fed back
    int[] out = new int[maxNewTokens];
    int n = 0;
    // no autograd graph (the adapters require a gradient): the prefill would keep every layer's activations
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager generation = embedTokens.getArray().getManager().newSubManager()) {
      ParameterStore ps = new ParameterStore(generation, false);
      KvCache cache = new KvCache(generation, layers.size());
      long[] feed = Arrays.stream(promptIds).asLongStream().toArray();
      while (n < maxNewTokens) {
        try (NDManager step = generation.newSubManager()) {
          NDArray ids = step.create(feed, new Shape(1, feed.length));
          NDArray last = hidden(ps, ids, null, cache, false, null).get(":, " + (feed.length - 1) + ":, :");
          int next = Math.toIntExact(logits(ps, last, false, null).argMax(-1).toLongArray()[0]);
          out[n++] = next;
          if (eosIds.contains(next)) {
            break;
          }
          feed = new long[] {next};
        }
      }
    } finally {
      JniUtils.setGradMode(grad);
    }
    return Arrays.copyOf(out, n);
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape x = inputShapes[0].add(config.hiddenSize());
    for (LlamaLayer layer : layers) {
      layer.initialize(manager, dataType, x);
    }
    if (lmHead != null) {
      lmHead.initialize(manager, dataType, x);
    }
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    return new Shape[] {inputs[0].add(config.vocabSize())};
  }

  @Override
  public AdapterSet adapters() {
    return adapters;
  }

  public LlamaConfig config() {
    return config;
  }

  public LoraConfig loraConfig() {
    return lora;
  }
}
