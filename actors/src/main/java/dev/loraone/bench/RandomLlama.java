package dev.loraone.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;

/**
 * A random Llama-family Hugging Face folder and a synthetic prompt/completion file, so that
 * {@code bench pipeline} can time a causal-LM job without downloading a model:
 *
 * <pre>
 *   config.json         LlamaForCausalLM, float32, BOS = 1, EOS = 2
 *   model.safetensors   every tensor of {@link LlamaConfig#tensorShapes()}: N(0, 0.02^2), norm weights 1
 *                       (HF LlamaPreTrainedModel._init_weights with initializer_range = 0.02)
 *   tokenizer.json      whitespace WordLevel: &lt;unk&gt; = 0, &lt;s&gt; = 1, &lt;/s&gt; = 2, then w3 .. w(V-1)
 *   task.jsonl          {"prompt": P words, "completion": the first 4 + i % 5 prompt words reversed}
 * </pre>
 * Every prompt has exactly {@code promptWords} words, so a row of {@code c} completion words is
 * {@code 1 + promptWords + c + 1} tokens ([BOS] prompt completion [EOS]) of which {@code c + 1} carry
 * loss: a step's tokens including the prompt follow from its completion tokens and its row count.
 */
public final class RandomLlama {
  private static final ObjectMapper JSON = new ObjectMapper();
  public static final int BOS = 1;
  public static final int EOS = 2;
  /** The first word id ({@code <unk>}, BOS and EOS come before it). */
  private static final int FIRST_WORD = 3;

  private RandomLlama() {}

  /** The sizes of a checkpoint; {@code maxPositions} bounds {@code train.max-length}. */
  public record Shape(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, int maxPositions,
      boolean tied) {
    /**
     * A scaled-down SmolLM (tied embeddings, grouped-query attention, SwiGLU ~2.7 x hidden): about 3.4 M
     * parameters, a LoRA step of 16 rows x 64 tokens in well under a second on two cores.
     */
    public static Shape smolLike() {
      return new Shape(2000, 256, 688, 4, 8, 4, 128, true);
    }

    /**
     * SmolLM2-135M's sizes (HuggingFaceTB/SmolLM2-135M config.json: hidden 576, 30 layers, 9 heads over 3 KV
     * heads, intermediate 1536, vocab 49152, tied, 8192 positions); random weights, about 135 M parameters.
     */
    public static Shape smolLm2135m() {
      return new Shape(49152, 576, 1536, 30, 9, 3, 8192, true);
    }

    /**
     * Llama-3.2-1B's sizes (meta-llama/Llama-3.2-1B config.json: hidden 2048, 16 layers, 32 heads over 8 KV
     * heads, intermediate 8192, vocab 128256, tied, 131072 positions); about 1.24 B parameters. Written by
     * {@link ShardedRandomLlama} as sharded bf16 with its llama3 rope_scaling.
     */
    public static Shape llama32x1b() {
      return new Shape(128256, 2048, 8192, 16, 32, 8, 131072, true);
    }

    /** A shape by name: {@code smollm2-135m}, {@code llama3.2-1b} or {@code smol-like} ({@link #smolLike()}). */
    public static Shape named(String name) {
      return switch (name) {
        case "smollm2-135m" -> smolLm2135m();
        case "llama3.2-1b" -> llama32x1b();
        case "smol-like" -> smolLike();
        default -> throw new IllegalArgumentException("unknown shape " + name
            + ": expected smollm2-135m, llama3.2-1b or smol-like");
      };
    }

    public LlamaConfig config() {
      return LlamaConfig.llama(vocab, hidden, intermediate, layers, heads, kvHeads, hidden / heads, 1e-5, 10000.0,
          maxPositions, tied, OptionalLong.of(BOS), List.of((long) EOS));
    }

    /** Parameters of the base model (embeddings counted once when tied). */
    public long parameters() {
      return config().tensorShapes().values().stream().mapToLong(s -> s.length == 1 ? s[0] : s[0] * s[1]).sum();
    }
  }

  /** Writes config.json, model.safetensors and tokenizer.json of {@code s} into {@code dir}. */
  public static void write(Path dir, Shape s, long seed) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsString(configJson(s)));
    Random r = new Random(seed);
    Map<String, TensorBlob> tensors = new LinkedHashMap<>();
    s.config().tensorShapes().forEach((name, shape) -> {
      float[] v = new float[Math.toIntExact(shape.length == 1 ? shape[0] : shape[0] * shape[1])];
      boolean norm = name.endsWith("norm.weight");
      for (int i = 0; i < v.length; i++) v[i] = norm ? 1f : (float) (0.02 * r.nextGaussian());
      tensors.put(name, TensorBlob.ofFloats(shape, v));
    });
    SafeTensors.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
    Files.writeString(dir.resolve("tokenizer.json"), JSON.writeValueAsString(tokenizerJson(s.vocab())));
  }

  /**
   * Writes {@code rows} JSON lines of {@code promptWords} random words each; row {@code i} is completed by
   * its first {@code 4 + i % 5} prompt words in reverse (a task a model can learn, completions of 5..9 tokens).
   */
  public static void writeTask(Path file, Shape s, int rows, int promptWords, long seed) throws IOException {
    if (promptWords < 8) throw new IllegalArgumentException("promptWords must be >= 8, got " + promptWords);
    Random r = new Random(seed);
    List<String> lines = new ArrayList<>(rows);
    for (int i = 0; i < rows; i++) {
      List<String> prompt = new ArrayList<>(promptWords);
      for (int w = 0; w < promptWords; w++) prompt.add("w" + (FIRST_WORD + r.nextInt(s.vocab() - FIRST_WORD)));
      List<String> completion = new ArrayList<>(prompt.subList(0, completionWords(i)));
      java.util.Collections.reverse(completion);
      lines.add(JSON.writeValueAsString(Map.of("prompt", String.join(" ", prompt), "completion",
          String.join(" ", completion))));
    }
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, lines);
  }

  /** Completion words of row {@code i} of {@link #writeTask}. */
  static int completionWords(int i) {
    return 4 + i % 5;
  }

  /** The longest row of {@link #writeTask} in tokens: [BOS] prompt completion [EOS]. */
  public static int longestRow(int promptWords) {
    return 1 + promptWords + completionWords(4) + 1;
  }

  /** Tokens of a step including BOS and prompts: its loss-carrying tokens plus {@code 1 + promptWords} per row. */
  public static double allTokens(double completionTokens, int rows, int promptWords) {
    return completionTokens + (double) rows * (1 + promptWords);
  }

  static ObjectNode configJson(Shape s) {
    ObjectNode c = JSON.createObjectNode();
    c.putArray("architectures").add("LlamaForCausalLM");
    c.put("model_type", "llama");
    c.put("vocab_size", s.vocab());
    c.put("hidden_size", s.hidden());
    c.put("intermediate_size", s.intermediate());
    c.put("num_hidden_layers", s.layers());
    c.put("num_attention_heads", s.heads());
    c.put("num_key_value_heads", s.kvHeads());
    c.put("rms_norm_eps", 1e-5);
    c.put("rope_theta", 10000.0);
    c.putNull("rope_scaling");
    c.put("max_position_embeddings", s.maxPositions());
    c.put("hidden_act", "silu");
    c.put("attention_bias", false);
    c.put("tie_word_embeddings", s.tied());
    c.put("initializer_range", 0.02);
    c.put("bos_token_id", BOS);
    c.put("eos_token_id", EOS);
    c.put("torch_dtype", "float32");
    return c;
  }

  static ObjectNode tokenizerJson(int vocab) {
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
    ObjectNode words = model.putObject("vocab");
    words.put("<unk>", 0);
    words.put("<s>", BOS);
    words.put("</s>", EOS);
    for (int i = FIRST_WORD; i < vocab; i++) words.put("w" + i, i);
    model.put("unk_token", "<unk>");
    return t;
  }
}
