package dev.loraone.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.worker.model.CausalLmLoss;
import dev.loraone.worker.model.ModelFamily;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The memory one worker needs for a job, above the node's own runtime (JVM, libtorch, Pekko): what the
 * scheduler reserves on each node a job is placed on, per device. In bytes, with {@code P} the base model's
 * parameters ({@code config.json}, or the built-in model's shape), {@code W = 4P} its fp32 weights:
 *
 * <pre>
 *   weights      W                  the frozen base, off-heap (NDArrays)
 *   load         2W                 heap while it loads: the file's bytes and the float arrays they become;
 *                W/2                a Llama-family folder, read one tensor at a time in 8 MiB chunks (peak 1.4 W
 *                                   with the runtime: docs/results/checkpoint-loading.md)
 *   export       2W                 export.onnx: the merged weights' arrays and their ONNX bytes, on the heap
 *   adapter      16 A               A = LoRA parameters (r x (in + out) per target matrix): weights, gradients,
 *                                   AdamW's two moments, fp32
 *   activations  4 b t L (10H + 2I + 3 n s) x passes
 *                                   b = train.micro-batch, t = s = train.max-length, L layers, H hidden, I FFN,
 *                                   n heads (what autograd keeps of each layer for the backward pass);
 *                                   passes: 1, embedding 2 (query, positive); 5I for Llama's SwiGLU (gate, up,
 *                                   sigmoid, silu and the product);
 *                4 b t (L H + 10H + 5I + 3 n s)   Llama with train.activation-checkpointing: each layer's input,
 *                                   and one layer's activations while it is recomputed
 *   logits       12 b t V           causal-lm only: logits, their softmax and its gradient (V = vocab);
 *                12 c V             a frozen head (lm_head not a target): c positions per chunk, at most 16 Mi
 *                                   floats per array (CausalLmLoss.chunkRows)
 *   init         8 G + 4 G          lora-one / lora-ga: G = sum of in x out over target matrices; the float64
 *                                   gradient sums (8 G, at most init.memory-budget when set, at least the largest
 *                                   module's) and the fp32 gradients a pass holds: all of G; with a budget its
 *                                   group's (at most half the budget, at least the largest module); with
 *                                   activation checkpointing (Llama) one layer's, each freed when added
 *   layers       40 MiB x L         measured, not derived: what a job's resident memory grows by per layer
 *                                   beyond the terms above (BGE-small's 12 layers vs MiniLM's 6, same width)
 *   fixed        400 MiB            measured: the task data, the tokenizer, the engine's buffers and the heap a
 *                                   collector leaves unreclaimed while a small job runs (-Xmx1536m)
 * </pre>
 *
 * The two measured terms come from {@code CapacityEstimateIT}, which runs small jobs in a fresh JVM each (MiniLM
 * and BGE-small; with and without export, LoRA-One init, long sequences) and checks the estimate against the
 * measured peak resident memory above that JVM's runtime: estimate &gt;= measured and &lt;= 2x measured. They are
 * calibrated on BERT models at {@code -Xmx1536m}; for Llama-family models the derived terms dominate.
 *
 * @param bytes the total
 * @param parameters P
 * @param parts each term's bytes, in the order above, for the job view
 */
public record JobEstimate(long bytes, long parameters, List<String> parts) {
  static final long FIXED = 400L << 20;
  static final long PER_LAYER = 40L << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The model's shape, as far as memory goes. */
  record Shape(long vocab, long positions, int hidden, int ffn, int layers, int heads, int kvHeads, boolean llama,
      boolean tied) {
    long parameters() {
      long h = hidden;
      long kv = (long) hidden / heads * kvHeads;
      if (!llama) {
        long layer = 4 * h * h + 4 * h + 2 * h * ffn + ffn + h + 4 * h;
        return vocab * h + positions * h + 2 * h + 2 * h + layers * layer + h * h + h;
      }
      long layer = 2 * h * h + 2 * h * kv + 3 * h * ffn + 2 * h;
      return vocab * h * (tied ? 1 : 2) + layers * layer + h;
    }

    /** Each layer's linear modules: name, in, out. */
    List<Object[]> linears() {
      long kv = (long) hidden / heads * kvHeads;
      if (!llama) {
        return List.of(new Object[] {"attention.self.query", hidden, (long) hidden},
            new Object[] {"attention.self.key", hidden, (long) hidden},
            new Object[] {"attention.self.value", hidden, (long) hidden},
            new Object[] {"attention.output.dense", hidden, (long) hidden},
            new Object[] {"intermediate.dense", hidden, (long) ffn}, new Object[] {"output.dense", ffn, (long) hidden});
      }
      return List.of(new Object[] {"self_attn.q_proj", hidden, (long) hidden},
          new Object[] {"self_attn.k_proj", hidden, kv}, new Object[] {"self_attn.v_proj", hidden, kv},
          new Object[] {"self_attn.o_proj", hidden, (long) hidden}, new Object[] {"mlp.gate_proj", hidden, (long) ffn},
          new Object[] {"mlp.up_proj", hidden, (long) ffn}, new Object[] {"mlp.down_proj", ffn, (long) hidden});
    }
  }

  /** The estimate of {@code spec}; an unreadable model folder is an IllegalArgumentException naming it. */
  public static JobEstimate of(JobSpec spec) {
    String model = spec.getString("model");
    Shape m = shape(model);
    String type = spec.getString("task.type");
    ModelFamily family = m.llama() ? ModelFamily.LLAMA : ModelFamily.BERT;
    String task = type.equals("auto") ? family.defaultTaskType() : type;
    int rank = spec.getInt("lora.rank");
    List<String> targets = Arrays.stream(spec.getString("lora.targets").split(","))
        .map(String::trim).filter(t -> !t.isEmpty()).toList();
    long adapter = 0;
    long full = 0;
    long largest = 0;
    for (Object[] l : m.linears()) {
      if (!targeted((String) l[0], targets)) continue;
      long in = ((Integer) l[1]).longValue();
      long out = (Long) l[2];
      adapter += m.layers() * (long) rank * (in + out);
      full += m.layers() * in * out;
      largest = Math.max(largest, in * out);
    }
    long p = m.parameters();
    long w = 4 * p;
    long b = spec.getInt("train.micro-batch");
    long t = spec.getInt("train.max-length");
    boolean checkpointed = m.llama() && spec.getBoolean("train.activation-checkpointing");
    int passes = task.equals("embedding") ? 2 : 1;
    long layer = 10L * m.hidden() + (m.llama() ? 5L : 2L) * m.ffn() + 3L * m.heads() * t;
    long act = 4 * b * t * (checkpointed ? (long) m.layers() * m.hidden() + layer : m.layers() * layer) * passes;
    long logits = task.equals("causal-lm") ? 12 * logitRows(b * t, m.vocab(), targets) * m.vocab() : 0;
    String init = spec.getString("init.method");
    long sums = 0;
    if (init.equals("lora-one") || init.equals("lora-ga")) {
      long budget = spec.getBytes("init.memory-budget");
      long grads = budget > 0 ? Math.min(4 * full, Math.max(budget / 2, 4 * largest)) : 4 * full;
      if (checkpointed) grads = Math.min(grads, 4 * full / m.layers());
      sums = (budget > 0 ? Math.min(8 * full, Math.max(budget, 8 * largest)) : 8 * full) + grads;
    }
    long export = spec.getBoolean("export.onnx") ? 2 * w : 0;
    long load = m.llama() ? w / 2 : 2 * w;
    long[] terms = {w, load, export, 16 * adapter, act, logits, sums, PER_LAYER * m.layers(), FIXED};
    String[] names = {"weights", "load", "export", "adapter", "activations", "logits", "init", "layers", "fixed"};
    long total = 0;
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      total += terms[i];
      if (terms[i] > 0) parts.add(names[i] + " " + dev.loraone.runtime.NodeMemory.show(terms[i]));
    }
    return new JobEstimate(total, p, List.copyOf(parts));
  }

  /**
   * Positions whose vocabulary-sized arrays exist at once: all {@code positions} when lm_head is a LoRA target
   * (its gradient needs the whole logits), else one chunk of the chunked loss ({@link CausalLmLoss#chunkRows}).
   */
  static long logitRows(long positions, long vocab, List<String> targets) {
    if (targets.contains("lm_head")) return positions;
    return Math.min(positions, CausalLmLoss.chunkRows(vocab));
  }

  private static boolean targeted(String module, List<String> targets) {
    if (targets.contains("all-linear")) return true;
    for (String p : targets) if (module.equals(p) || module.endsWith("." + p)) return true;
    return false;
  }

  /** The built-in models' shapes, else the folder's config.json. */
  static Shape shape(String model) {
    String name = model.toLowerCase(Locale.ROOT);
    if (name.equals("minilm") || name.equals("all-minilm-l6-v2")) {
      return new Shape(30522, 512, 384, 1536, 6, 12, 12, false, true);
    }
    if (name.equals("bge-small") || name.equals("bge-small-en-v1.5")) {
      return new Shape(30522, 512, 384, 1536, 12, 12, 12, false, true);
    }
    Path config = Path.of(model).resolve("config.json");
    JsonNode c;
    try {
      c = JSON.readTree(config.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(config + ": not readable JSON (" + e.getMessage() + ")");
    }
    boolean llama = ModelFamily.detect(model) == ModelFamily.LLAMA;
    int hidden = positive(c, "hidden_size", config);
    int heads = positive(c, "num_attention_heads", config);
    return new Shape(positive(c, "vocab_size", config), c.path("max_position_embeddings").asLong(512), hidden,
        positive(c, "intermediate_size", config), positive(c, "num_hidden_layers", config), heads,
        c.path("num_key_value_heads").asInt(heads), llama, c.path("tie_word_embeddings").asBoolean(false));
  }

  private static int positive(JsonNode c, String key, Path config) {
    int v = c.path(key).asInt(0);
    if (v < 1) throw new IllegalArgumentException(config + ": '" + key + "' is " + c.get(key) + "; expected > 0");
    return v;
  }

  /** {@code 1.2 GiB (weights 87 MiB, load 174 MiB, ...)}. */
  public String describe() {
    return dev.loraone.runtime.NodeMemory.show(bytes) + " (" + String.join(", ", parts) + ")";
  }
}
