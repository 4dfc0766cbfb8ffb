package dev.loraone.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;
import dev.loraone.data.TextTokenizer;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.worker.weights.FloatTensor;
import dev.loraone.worker.weights.LlamaCheckpoint;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RandomLlama}'s folder loads as a Llama checkpoint, and {@link CausalLmOverhead.Rates} counts its tokens. */
class RandomLlamaTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final RandomLlama.Shape TINY = new RandomLlama.Shape(60, 32, 64, 2, 4, 2, 32, true);

  @TempDir Path dir;

  @Test
  void randomCheckpointLoadsWithItsConfigAndTokenizer() throws Exception {
    RandomLlama.write(dir, TINY, 1);
    LlamaCheckpoint c = LlamaCheckpoint.load(dir);
    assertEquals(TINY.config(), c.config(), "config.json states the shape");
    assertEquals(TINY.config().tensorShapes().keySet(), c.weights().keySet());
    assertEquals(TINY.parameters(), c.weights().values().stream().mapToLong(t -> t.data().length).sum());
    FloatTensor q = c.weights().get("model.layers.1.self_attn.q_proj.weight");
    double sq = 0;
    for (float v : q.data()) sq += v * v;
    assertEquals(0.02, Math.sqrt(sq / q.data().length), 0.003, "HF initializer_range (1024 samples: ~2% error)");
    float[] norm = c.weights().get("model.norm.weight").data();
    float[] ones = new float[norm.length];
    Arrays.fill(ones, 1f);
    assertArrayEquals(ones, norm);
    RandomLlama.write(dir.resolve("again"), TINY, 1);
    assertArrayEquals(Files.readAllBytes(dir.resolve("model.safetensors")),
        Files.readAllBytes(dir.resolve("again").resolve("model.safetensors")), "same seed, same bytes");
    TextTokenizer tok = TextTokenizer.fromPath(c.tokenizerJson().orElseThrow(), 32);
    assertArrayEquals(new long[] {3, 59, 17}, tok.ids("w3 w59 w17", false));
  }

  @Test
  void taskRowsHaveFixedPromptsSoAllTokensFollowFromCompletionTokens() throws Exception {
    RandomLlama.write(dir, TINY, 1);
    Path task = dir.resolve("task.jsonl");
    RandomLlama.writeTask(task, TINY, 10, 8, 2);
    List<String> prompts = new ArrayList<>();
    List<String> completions = new ArrayList<>();
    for (String line : Files.readAllLines(task)) {
      JsonNode row = JSON.readTree(line);
      prompts.add(row.get("prompt").asText());
      completions.add(row.get("completion").asText());
    }
    assertEquals(10, prompts.size());
    List<String> first = new ArrayList<>(Arrays.asList(prompts.get(1).split(" ")).subList(0, 5));
    Collections.reverse(first);
    assertEquals(8, prompts.get(1).split(" ").length);
    assertEquals(String.join(" ", first), completions.get(1), "row 1: its first 4 + 1 words reversed");
    TextTokenizer tok = TextTokenizer.fromPath(dir, 32);
    CausalLmBatch b = new CausalLmEncoder(tok, OptionalLong.of(RandomLlama.BOS), OptionalLong.of(RandomLlama.EOS))
        .encode(prompts, completions);
    assertEquals(RandomLlama.longestRow(8), b.sequenceLength(), "rows 4 and 9 complete with 8 words");
    long attended = Arrays.stream(b.attentionMask()).sum();
    assertEquals(attended, RandomLlama.allTokens(b.labelledTokens(), 10, 8), 0, "BOS + prompt + completion + EOS");
  }

  @Test
  void ratesAreMediansOfPerStepRatesAfterTheWarmupWithPromptTokensPerRow() {
    List<JobEvent.StepDone> steps = List.of(step(1, 500, 9.0), step(2, 500, 9.0), step(3, 100, 0.5), step(4, 140, 0.5),
        step(5, 120, 6.0));
    CausalLmOverhead.Rates r = CausalLmOverhead.Rates.of(steps, 16, 40);
    assertEquals(120, r.completionTokensPerStep(), 1e-12, "steps 3..5");
    assertEquals(200, r.completionTokensPerSecond(), 1e-12, "median of 200, 280 and 20 tokens/s: a stall counts once");
    assertEquals((100 + 16 * 41) / 0.5, r.tokensPerSecond(), 1e-12, "step 3 again; each row adds BOS + 40 words");
  }

  private static JobEvent.StepDone step(int step, double tokens, double seconds) {
    return new JobEvent.StepDone(new JobId("t"), step, 4, 1.0, Map.of("tokens", tokens), 1e-3, 1.0, seconds);
  }
}
