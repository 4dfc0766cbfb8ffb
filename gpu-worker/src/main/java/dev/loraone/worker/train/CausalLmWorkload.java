package dev.loraone.worker.train;

import ai.djl.Device;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;
import dev.loraone.data.CausalLmRow;
import dev.loraone.data.Example;
import dev.loraone.data.RenderedChat;
import dev.loraone.data.TextTokenizer;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * Causal-LM fine-tuning of a Llama-family checkpoint on {@code {prompt, completion}} pairs (input
 * {@code [BOS] prompt completion [EOS]}, loss on completion tokens only) or on {@code {messages}} chats
 * (the conversation as the model's chat template renders it, loss on assistant turns only); see
 * {@link CausalLmEncoder}.
 * Gradients are of the summed token loss and weigh by the target-token count, so a step's mean
 * does not depend on how its micro-batches are split (HF's {@code num_items_in_batch}); an init batch
 * contributes its mean-token-loss gradient, as the official code's per-batch mean loss.
 * Evaluation runs in chunks of {@code train.micro-batch} examples to bound activation memory.
 */
final class CausalLmWorkload implements Workload {
  private final CausalLmTask task;
  private final Path checkpointDir;
  private final LlamaStepper stepper;
  private final TextTokenizer tok;
  private final CausalLmEncoder encoder;
  private final int chunk;
  private final String modelHash;
  private AutoCloseable base = () -> { };

  private CausalLmWorkload(CausalLmTask task, Path checkpointDir, LlamaStepper stepper, TextTokenizer tok, int chunk,
      String modelHash) {
    this.task = task;
    this.checkpointDir = checkpointDir;
    this.stepper = stepper;
    this.tok = tok;
    LlamaConfig config = stepper.model().config();
    OptionalLong eos =
        config.eosTokenIds().isEmpty()
            ? OptionalLong.empty()
            : OptionalLong.of(config.eosTokenIds().get(0));
    this.encoder = new CausalLmEncoder(tok, config.bosTokenId(), eos);
    this.chunk = chunk;
    this.modelHash = modelHash;
  }

  static CausalLmWorkload open(FinetuneConfig cfg, Device device) throws IOException {
    if (cfg.headOnly()) {
      throw new IllegalArgumentException(
          "'job.lora.targets' = "
              + cfg.targets()
              + ": a causal LM has no task head to train alone;"
              + " name the modules to adapt (e.g. q_proj,v_proj or all-linear)");
    }
    Path dir = Path.of(cfg.model());
    CausalLmTask task = CausalLmTask.load(cfg.task(), cfg.evalFile(), cfg.onBadRecord(), dir);
    BaseModels.Lease<LlamaCheckpoint> base = BaseModels.llama(dir, device);
    LlamaStepper stepper;
    String hash = base.hash();
    LlamaCheckpoint checkpoint = base.source();
    Path tokenizerJson;
    try {
      tokenizerJson = checkpoint.tokenizerJson().orElseThrow(() -> new IllegalArgumentException("'job.model' = "
          + cfg.model() + " has no tokenizer.json; causal-LM fine-tuning tokenises with the checkpoint's own"));
      if (cfg.maxLength() > checkpoint.config().maxPositions()) {
        throw new IllegalArgumentException("'job.train.max-length' = " + cfg.maxLength() + " exceeds the model's"
            + " max_position_embeddings " + checkpoint.config().maxPositions());
      }
      LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), cfg.dropout(), cfg.seed(),
          cfg.targets());
      LlamaLoraModel model = LlamaLoraModel.fromShared(checkpoint.config(), lora, base.arrays());
      Targets.check(cfg, model, "model.layers.N (and lm_head when untied; all-linear takes all but lm_head)");
      stepper = new LlamaStepper(model, device, cfg.activationCheckpointing());
    } catch (RuntimeException e) {
      base.close();
      throw e;
    }
    try {
      TextTokenizer tok = TextTokenizer.fromPath(tokenizerJson, cfg.maxLength());
      try {
        checkNoEmptyCompletion(task, tok, checkpoint.config(), cfg.maxLength());
      } catch (RuntimeException e) {
        tok.close();
        throw e;
      }
      CausalLmWorkload work = new CausalLmWorkload(task, dir, stepper, tok, cfg.microBatch(), hash);
      work.base = base;
      return work;
    } catch (IOException | RuntimeException e) {
      stepper.close();
      base.close();
      throw e;
    }
  }

  /**
   * Refuses a row that truncation to {@code train.max-length} would leave without a target token: a
   * prompt/completion row whose {@code [BOS] prompt} already fills the length, or a chat whose first
   * assistant turn starts past it. It would carry no loss and teach nothing, silently. The message names
   * the row's file and line and the length; longer rows are otherwise cut on the right.
   */
  static void checkNoEmptyCompletion(CausalLmTask task, TextTokenizer tok, LlamaConfig config, int maxLength) {
    int bos = config.bosTokenId().isPresent() ? 1 : 0;
    CausalLmEncoder chats = new CausalLmEncoder(tok, OptionalLong.empty(), OptionalLong.empty());
    for (List<CausalLmRow> rows : List.of(task.train(), task.eval())) {
      for (CausalLmRow row : rows) {
        if (row instanceof RenderedChat chat) {
          if (chats.encodeRows(List.of(chat)).labelledTokens() == 0) {
            throw new IllegalArgumentException(row.source() + ": the chat's first assistant turn starts after"
                + " 'job.train.max-length' = " + maxLength + " tokens of the rendered conversation, leaving it"
                + " no target token: raise train.max-length or shorten the turns before it");
          }
          continue;
        }
        int prompt = bos + tok.ids(((Example.Generation) row).prompt(), false).length;
        if (prompt >= maxLength) {
          throw new IllegalArgumentException(
              row.source()
                  + ": the prompt"
                  + (bos == 1 ? " with BOS" : "")
                  + " fills all of"
                  + " 'job.train.max-length' = "
                  + maxLength
                  + " tokens, leaving no room for its completion: raise"
                  + " train.max-length or shorten the prompt");
        }
      }
    }
  }

  @Override
  public String modelHash() {
    return modelHash;
  }

  @Override
  public String taskType() {
    return "causal-lm";
  }

  @Override
  public LlamaLoraModel model() {
    return stepper.model();
  }

  @Override
  public String modelId() {
    return checkpointDir.toString();
  }

  @Override
  public int trainSize() {
    return task.train().size();
  }

  @Override
  public int evalSize() {
    return task.eval().size();
  }

  @Override
  public List<String> labels() {
    return List.of();
  }

  @Override
  public List<String> headNames() {
    return List.of();
  }

  /**
   * Encoded rows: one batch for a training or init micro-batch, chunks of {@code train.micro-batch} for
   * evaluation; evaluation also carries each row's prompt ids ({@code [BOS] prompt}; for a chat, the
   * rendered conversation up to its last assistant turn, with the generation prompt) and completion (the
   * last assistant turn's content) for the exact-match generation.
   */
  private record Chunks(List<CausalLmBatch> batches, List<int[]> prompts, List<String> completions) implements Input {
    Chunks(List<CausalLmBatch> batches) {
      this(batches, List.of(), List.of());
    }
  }

  @Override
  public Input encodeInit(int i, int[] idx) {
    return new Chunks(List.of(encode(task.train(), idx)));
  }

  @Override
  public Input encodeTrain(long index, int[] idx) {
    return new Chunks(List.of(encode(task.train(), idx)));
  }

  @Override
  public int trainLength(int i) {
    return encode(task.train(), new int[] {i}).sequenceLength();
  }

  @Override
  public Input encodeEval(int[] idx) {
    List<CausalLmBatch> chunks = new ArrayList<>();
    for (int from = 0; from < idx.length; from += chunk) {
      chunks.add(encode(task.eval(), Arrays.copyOfRange(idx, from, Math.min(idx.length, from + chunk))));
    }
    List<int[]> prompts = new ArrayList<>();
    List<String> completions = new ArrayList<>();
    LlamaConfig c = stepper.model().config();
    int bos = c.bosTokenId().isPresent() ? 1 : 0;
    for (int i : idx) {
      CausalLmRow row = task.eval().get(i);
      if (row instanceof RenderedChat chat) { // the template wrote BOS
        prompts.add(Arrays.stream(tok.ids(chat.lastPrompt(), false)).mapToInt(Math::toIntExact).toArray());
        completions.add(chat.lastReply());
        continue;
      }
      Example.Generation g = (Example.Generation) row;
      long[] text = tok.ids(g.prompt(), false);
      int[] ids = new int[bos + Math.min(text.length, tok.maxLength() - bos)];
      if (bos == 1) ids[0] = Math.toIntExact(c.bosTokenId().getAsLong());
      for (int k = bos; k < ids.length; k++) ids[k] = Math.toIntExact(text[k - bos]);
      prompts.add(ids);
      completions.add(g.completion());
    }
    return new Chunks(chunks, prompts, completions);
  }

  @Override
  public double initGradients(Input batch, List<String> modules, GradientSink sink) {
    // each module's gradient scaled in place as it is read and handed on: neither a second copy of a
    // gradient nor a whole group's gradients on the heap (what held a 1B model's init above its budget)
    LlamaStepper.FullLoss f = stepper.meanGradients(single(batch), modules, sink);
    return f.lossSum() / Math.max(f.tokens(), 1);
  }

  @Override
  public TrainUnit loraGradients(Input batch, long dropoutSeed) {
    CausalLmBatch b = single(batch);
    LlamaStepper.LoraGradients g = stepper.loraGradients(b, dropoutSeed);
    Map<String, Double> metrics =
        Workload.TrainUnit.withPadding(b.attentionMask(), Map.of("tokens", (double) g.tokens()));
    return new TrainUnit(g.lossSum(), g.tokens(), b.batchSize(), metrics, g.adapters(), Map.of());
  }

  @Override
  public EvalUnit evaluate(Input examples) {
    double lossSum = 0;
    int tokens = 0;
    int rows = 0;
    for (CausalLmBatch part : chunks(examples).batches()) {
      LlamaStepper.Evaluation e = stepper.evaluate(part);
      lossSum += e.lossSum();
      tokens += e.tokens();
      rows += part.batchSize();
    }
    return new EvalUnit(
        lossSum,
        tokens,
        rows,
        Map.of("tokens", (double) tokens, "exact", (double) exactMatches(chunks(examples))));
  }

  /**
   * How many rows greedy decoding completes exactly: the generated text (stopped at EOS, special tokens
   * skipped) equals the completion, both trimmed. Decoding runs at most the completion's length in
   * tokens plus one (room for EOS) and never past the model's positions.
   */
  private int exactMatches(Chunks c) {
    LlamaLoraModel model = stepper.model();
    int eos = model.config().eosTokenIds().isEmpty() ? -1 : Math.toIntExact(model.config().eosTokenIds().get(0));
    int exact = 0;
    for (int i = 0; i < c.prompts().size(); i++) {
      String want = c.completions().get(i).trim();
      int[] prompt = c.prompts().get(i);
      int room = model.config().maxPositions() - prompt.length;
      int max = Math.min(room, tok.ids(want, false).length + 1);
      if (max <= 0) continue;
      int[] out = model.generate(prompt, max, eos);
      int n = out.length > 0 && out[out.length - 1] == eos ? out.length - 1 : out.length;
      String got = tok.decode(Arrays.stream(out, 0, n).asLongStream().toArray(), true).trim();
      if (got.equals(want)) exact++;
    }
    return exact;
  }

  private static Chunks chunks(Input in) {
    if (in instanceof Chunks c) return c;
    throw new IllegalArgumentException("a causal-LM workload computes its own encoded batches, not " + in);
  }

  private static CausalLmBatch single(Input in) {
    List<CausalLmBatch> b = chunks(in).batches();
    if (b.size() != 1) throw new IllegalArgumentException("a training micro-batch is one batch, not " + b.size());
    return b.get(0);
  }

  @Override
  public int evalExample(int j, int n) {
    return j;
  }

  @Override
  public OnnxExport exportOnnx(Path dir, List<String> labels) throws IOException {
    return LlamaArtifacts.writeOnnx(stepper.model(), checkpointDir, dir);
  }

  private CausalLmBatch encode(List<CausalLmRow> from, int[] idx) {
    List<CausalLmRow> rows = new ArrayList<>(idx.length);
    for (int i : idx) rows.add(from.get(i));
    return encoder.encodeRows(rows);
  }

  @Override
  public void close() {
    try (AutoCloseable b = base; LlamaStepper s = stepper; TextTokenizer t = tok) {
      // closed in reverse order: the tokenizer, this job's arrays, then its hold on the shared base
    } catch (Exception e) {
      throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }
  }
}
