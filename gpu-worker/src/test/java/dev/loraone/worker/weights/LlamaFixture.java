package dev.loraone.worker.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Writes tiny random Llama-family checkpoints (config.json, safetensors, optionally sharded or bf16,
 * and a word-level tokenizer.json) the way HF {@code save_pretrained} lays them out: {@code llama}
 * (optionally with a scaled RoPE) and {@code qwen2} (q/k/v biases, sliding window off). The shapes
 * here are spelled out independently of {@link LlamaConfig#tensorShapes()}.
 */
public final class LlamaFixture {

  private static final ObjectMapper JSON = new ObjectMapper();
  public static final int BOS = 1;
  public static final int EOS = 2;
  /** The {@code sliding_window} of {@link Spec#mistral}. */
  public static final int MISTRAL_WINDOW = 32;

  private LlamaFixture() {}

  /**
   * A config.json {@code rope_scaling}: {@code type} null for none, else {@code linear} (factor) or
   * {@code llama3} (all four numbers).
   */
  public record Rope(String type, double factor, double lowFreqFactor, double highFreqFactor, int originalMax) {
    public static final Rope NONE = new Rope(null, 1, 0, 0, 0);

    /**
     * Llama 3.1's scheme shrunk to the tiny model: with head_dim 8 and theta 500 the four
     * wavelengths (6.3, 29.7, 140, 664) fall in the kept (< 32/4), smoothed and divided (> 32/1)
     * bands, so every branch of the formula is exercised.
     */
    public static Rope llama3() {
      return new Rope("llama3", 8.0, 1.0, 4.0, 32);
    }

    public static Rope linear(double factor) {
      return new Rope("linear", factor, 0, 0, 0);
    }
  }

  /** Sizes of a test model; {@code modelType} llama or qwen2 (q/k/v biases). */
  public record Spec(int vocab, int hidden, int inter, int layers, int heads, int kvHeads, double eps, double theta,
      boolean tied, String modelType, Rope rope) {
    public int headDim() {
      return hidden / heads;
    }

    /** Whether q, k and v carry biases (Qwen2). */
    public boolean qkvBias() {
      return modelType.equals("qwen2");
    }

    /** hidden 32, 2 layers, 4 heads over 2 kv heads, intermediate 64, vocab 50 (tied: shaped like SmolLM2). */
    public static Spec tiny(boolean tied) {
      return new Spec(50, 32, 64, 2, 4, 2, 1e-5, 500.0, tied, "llama", Rope.NONE);
    }

    /** {@link #tiny} as Qwen2/Qwen2.5: q/k/v biases, eps 1e-6, a sliding window that is off (and short). */
    public static Spec qwen2(boolean tied) {
      return new Spec(50, 32, 64, 2, 4, 2, 1e-6, 500.0, tied, "qwen2", Rope.NONE);
    }

    /**
     * {@link #tiny} as Mistral writes its config ({@code MistralForCausalLM}, no bias keys), with a
     * {@code sliding_window} of 32 positions: half the fixture's {@code max_position_embeddings}.
     */
    public static Spec mistral(boolean tied) {
      return new Spec(50, 32, 64, 2, 4, 2, 1e-5, 10000.0, tied, "mistral", Rope.NONE);
    }

    /** This spec with another {@code rope_scaling}. */
    public Spec withRope(Rope r) {
      return new Spec(vocab, hidden, inter, layers, heads, kvHeads, eps, theta, tied, modelType, r);
    }
  }

  /** The HF config.json of a spec, as an editable JSON object. */
  public static ObjectNode config(Spec s) {
    ObjectNode c = JSON.createObjectNode();
    boolean qwen2 = s.qkvBias();
    c.putArray("architectures").add(switch (s.modelType()) {
      case "qwen2" -> "Qwen2ForCausalLM";
      case "mistral" -> "MistralForCausalLM";
      default -> "LlamaForCausalLM";
    });
    c.put("model_type", s.modelType());
    c.put("vocab_size", s.vocab());
    c.put("hidden_size", s.hidden());
    c.put("intermediate_size", s.inter());
    c.put("num_hidden_layers", s.layers());
    c.put("num_attention_heads", s.heads());
    c.put("num_key_value_heads", s.kvHeads());
    c.put("rms_norm_eps", s.eps());
    c.put("rope_theta", s.theta());
    if (s.rope().type() == null) {
      c.putNull("rope_scaling");
    } else {
      ObjectNode r = c.putObject("rope_scaling").put("rope_type", s.rope().type()).put("factor", s.rope().factor());
      if (s.rope().type().equals("llama3")) {
        r.put("low_freq_factor", s.rope().lowFreqFactor()).put("high_freq_factor", s.rope().highFreqFactor())
            .put("original_max_position_embeddings", s.rope().originalMax());
      }
    }
    c.put("max_position_embeddings", 64);
    c.put("hidden_act", "silu");
    c.put("attention_dropout", 0.0);
    if (qwen2) { // Qwen2Config keys: the window is off, so HF ignores sliding_window and max_window_layers
      c.put("use_sliding_window", false);
      c.put("sliding_window", 4);
      c.put("max_window_layers", 1);
    } else if (s.modelType().equals("mistral")) {
      c.put("sliding_window", MISTRAL_WINDOW);
    } else {
      c.put("attention_bias", false);
      c.put("mlp_bias", false);
    }
    c.put("tie_word_embeddings", s.tied());
    c.put("bos_token_id", BOS);
    c.put("eos_token_id", EOS);
    c.put("torch_dtype", "float32");
    return c;
  }

  /** Shapes by HF name, in model order. */
  public static Map<String, long[]> shapes(Spec s) {
    Map<String, long[]> m = new LinkedHashMap<>();
    long h = s.hidden();
    long kv = (long) s.kvHeads() * s.headDim();
    m.put("model.embed_tokens.weight", new long[] {s.vocab(), h});
    for (int n = 0; n < s.layers(); n++) {
      String p = "model.layers." + n + ".";
      m.put(p + "input_layernorm.weight", new long[] {h});
      m.put(p + "self_attn.q_proj.weight", new long[] {h, h});
      m.put(p + "self_attn.k_proj.weight", new long[] {kv, h});
      m.put(p + "self_attn.v_proj.weight", new long[] {kv, h});
      if (s.qkvBias()) {
        m.put(p + "self_attn.q_proj.bias", new long[] {h});
        m.put(p + "self_attn.k_proj.bias", new long[] {kv});
        m.put(p + "self_attn.v_proj.bias", new long[] {kv});
      }
      m.put(p + "self_attn.o_proj.weight", new long[] {h, h});
      m.put(p + "post_attention_layernorm.weight", new long[] {h});
      m.put(p + "mlp.gate_proj.weight", new long[] {s.inter(), h});
      m.put(p + "mlp.up_proj.weight", new long[] {s.inter(), h});
      m.put(p + "mlp.down_proj.weight", new long[] {h, s.inter()});
    }
    m.put("model.norm.weight", new long[] {h});
    if (!s.tied()) {
      m.put("lm_head.weight", new long[] {s.vocab(), h});
    }
    return m;
  }

  /**
   * Random weights scaled so that activations and logits are O(1..10), which makes the parity
   * tests sensitive: embeddings N(0,1), Linear N(0, 1/in), norm weights 1 + N(0, 0.1^2), biases
   * N(0, 0.5^2) (large enough that dropping one would fail the tests).
   */
  public static Map<String, float[]> randomWeights(Spec s, long seed) {
    Random r = new Random(seed);
    Map<String, float[]> w = new LinkedHashMap<>();
    shapes(s).forEach((name, shape) -> {
      int n = Math.toIntExact(shape.length == 1 ? shape[0] : shape[0] * shape[1]);
      float[] v = new float[n];
      boolean norm = name.endsWith("norm.weight");
      double std = norm ? 0.1 : name.endsWith(".bias") ? 0.5
          : name.contains("embed_tokens") ? 1.0 : 1 / Math.sqrt(shape[1]);
      for (int i = 0; i < n; i++) {
        v[i] = (float) ((norm ? 1 : 0) + std * r.nextGaussian());
      }
      w.put(name, v);
    });
    return w;
  }

  /**
   * Writes config.json and the weights (in one {@code model.safetensors}, or in two shards with
   * {@code model.safetensors.index.json}) and returns the weights as stored (bf16-rounded for
   * BF16).
   */
  public static Map<String, float[]> write(
      Path dir, Spec s, long seed, DType dtype, boolean sharded) throws IOException {
    Map<String, float[]> w = randomWeights(s, seed);
    if (dtype == DType.BF16) {
      w.replaceAll((name, v) -> roundToBf16(v));
    }
    writeConfig(dir, config(s));
    Map<String, long[]> shapes = shapes(s);
    if (!sharded) {
      writeTensors(dir.resolve("model.safetensors"), w, shapes, dtype);
      return w;
    }
    Map<String, float[]> first = new LinkedHashMap<>();
    Map<String, float[]> second = new LinkedHashMap<>();
    w.forEach(
        (name, v) ->
            (name.startsWith("model.layers.0.") || name.contains("embed") ? first : second)
                .put(name, v));
    String f1 = "model-00001-of-00002.safetensors";
    String f2 = "model-00002-of-00002.safetensors";
    writeTensors(dir.resolve(f1), first, shapes, dtype);
    writeTensors(dir.resolve(f2), second, shapes, dtype);
    ObjectNode index = JSON.createObjectNode();
    index.putObject("metadata").put("total_size", 0);
    ObjectNode map = index.putObject("weight_map");
    first.keySet().forEach(n -> map.put(n, f1));
    second.keySet().forEach(n -> map.put(n, f2));
    Files.writeString(
        dir.resolve("model.safetensors.index.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
    return w;
  }

  public static void writeConfig(Path dir, ObjectNode config) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
  }

  public static void writeTensors(Path file, Map<String, float[]> w, Map<String, long[]> shapes, DType dtype)
      throws IOException {
    Map<String, TensorBlob> blobs = new LinkedHashMap<>();
    w.forEach((name, v) -> blobs.put(name, blob(shapes.get(name), v, dtype)));
    SafeTensors.write(file, blobs, Map.of("format", "pt"));
  }

  static TensorBlob blob(long[] shape, float[] v, DType dtype) {
    if (dtype == DType.F32) {
      return TensorBlob.ofFloats(shape, v);
    }
    if (dtype != DType.BF16) {
      throw new IllegalArgumentException("fixture writes F32 or BF16, not " + dtype);
    }
    ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) {
      b.putShort(bf16Bits(f));
    }
    return new TensorBlob(DType.BF16, shape, b.array());
  }

  /** Round-to-nearest-even float32 -> bfloat16 (finite inputs), as torch's {@code .to(torch.bfloat16)}. */
  static short bf16Bits(float f) {
    int bits = Float.floatToRawIntBits(f);
    bits += 0x7fff + ((bits >>> 16) & 1);
    return (short) (bits >>> 16);
  }

  static float[] roundToBf16(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Float.intBitsToFloat((bf16Bits(v[i]) & 0xffff) << 16);
    }
    return out;
  }

  /**
   * A whitespace word-level tokenizer.json over the spec's vocabulary: {@code <unk>}=0, {@code
   * <s>}=1, {@code </s>}=2, then {@code w3 .. w(V-1)}.
   */
  public static void writeTokenizer(Path dir, Spec s) throws IOException {
    ObjectNode t = JSON.createObjectNode();
    t.put("version", "1.0");
    t.putNull("truncation");
    t.putNull("padding");
    t.putArray("added_tokens");
    t.putNull("normalizer");
    t.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
    t.putNull("post_processor");
    t.putNull("decoder");
    ObjectNode model = t.putObject("model");
    model.put("type", "WordLevel");
    ObjectNode vocab = model.putObject("vocab");
    vocab.put("<unk>", 0);
    vocab.put("<s>", BOS);
    vocab.put("</s>", EOS);
    for (int i = 3; i < s.vocab(); i++) {
      vocab.put("w" + i, i);
    }
    model.put("unk_token", "<unk>");
    Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(t));
  }

  /**
   * A chat template over the fixture's vocabulary, in the shape of Zephyr's: {@code <s>}, then per turn a
   * role word ({@code w3} system, {@code w4} user, {@code w5} assistant) and the content, an assistant
   * turn ending with {@code </s>}; the generation prompt is {@code w5}. A chat that opens with an
   * assistant turn raises an exception, as Mistral's template does for roles out of order.
   */
  public static final String CHAT_TEMPLATE = "{% if messages[0]['role'] == 'assistant' %}"
      + "{{ raise_exception('a conversation must not open with the assistant') }}{% endif %}"
      + "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %} w4 {{ message['content'] }}"
      + "{% elif message['role'] == 'system' %} w3 {{ message['content'] }}"
      + "{% else %} w5 {{ message['content'] }} {{ eos_token }}{% endif %}{% endfor %}"
      + "{% if add_generation_prompt %} w5{% endif %}";

  /** Writes a tokenizer_config.json with {@link #CHAT_TEMPLATE} and the BOS/EOS strings, as HF saves it. */
  public static void writeChatTemplate(Path dir) throws IOException {
    ObjectNode c = JSON.createObjectNode();
    c.put("tokenizer_class", "PreTrainedTokenizerFast");
    c.put("bos_token", "<s>");
    c.put("eos_token", "</s>");
    c.put("chat_template", CHAT_TEMPLATE);
    Files.writeString(dir.resolve("tokenizer_config.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c));
  }

  /**
   * A chat template in the shape of Qwen2's ChatML one over the fixture's vocabulary: no BOS, each turn
   * {@code w7} (im_start), a role word ({@code w3} system, {@code w4} user, {@code w5} assistant), the
   * content and {@code </s>} (im_end, which is also EOS); a default system turn when the chat has none.
   */
  public static final String QWEN2_CHAT_TEMPLATE = "{%- for message in messages %}"
      + "{%- if loop.first and messages[0]['role'] != 'system' %}{{- ' w7 w3 w6 </s>' }}{%- endif %}"
      + "{{- ' w7 ' + ('w3' if message['role'] == 'system' else ('w4' if message['role'] == 'user' else 'w5'))"
      + " + ' ' + message['content'] + ' </s>' }}"
      + "{%- endfor %}{%- if add_generation_prompt %}{{- ' w7 w5' }}{%- endif %}";

  /**
   * Writes a tokenizer_config.json as Qwen2's: {@code bos_token} null (no BOS is added, although
   * config.json names a {@code bos_token_id}), {@code add_bos_token} false, EOS {@code </s>} and
   * {@link #QWEN2_CHAT_TEMPLATE}.
   */
  public static void writeQwen2TokenizerConfig(Path dir) throws IOException {
    ObjectNode c = JSON.createObjectNode();
    c.put("tokenizer_class", "Qwen2Tokenizer");
    c.put("add_bos_token", false);
    c.putNull("bos_token");
    c.put("eos_token", "</s>");
    c.put("pad_token", "</s>");
    c.put("chat_template", QWEN2_CHAT_TEMPLATE);
    Files.writeString(dir.resolve("tokenizer_config.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c));
  }
}
