package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.data.BadRecordException;
import dev.loraone.data.CausalLmRow;
import dev.loraone.data.OnBadRecord;
import dev.loraone.data.RenderedChat;
import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LocalRun} on chat data ({@code {messages}}) end to end: a tiny random Llama checkpoint whose
 * tokenizer_config.json has a chat template ({@link LlamaFixture#CHAT_TEMPLATE}) learns its assistant
 * replies, deterministically; bad chat data fails when the data loads, naming the row or the file.
 */
class CausalLmChatLocalRunTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path dir;
  private static Path checkpoint;
  private static Path plain;
  private static Path task;

  /** A user turn: 2..4 random words. */
  private static String words(Random r) {
    StringBuilder b = new StringBuilder();
    for (int w = 0, n = 2 + r.nextInt(3); w < n; w++) b.append(w > 0 ? " " : "").append("w").append(13 + r.nextInt(37));
    return b.toString();
  }

  static Map<String, String> turn(String role, String content) {
    return Map.of("role", role, "content", content);
  }

  /** 40 chats: a third with a system turn, a third with two exchanges; the assistant always says w10 w11 w12. */
  static List<String> chats(int n) throws IOException {
    Random r = new Random(3);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      List<Map<String, String>> m = new ArrayList<>();
      if (i % 3 == 1) m.add(turn("system", "w6 w7"));
      m.add(turn("user", words(r)));
      m.add(turn("assistant", "w10 w11 w12"));
      if (i % 3 == 2) {
        m.add(turn("user", words(r)));
        m.add(turn("assistant", "w10 w11 w12"));
      }
      lines.add(JSON.writeValueAsString(Map.of("messages", m)));
    }
    return lines;
  }

  @BeforeAll
  static void writeCheckpointsAndTask() throws IOException {
    Spec spec = Spec.tiny(false);
    checkpoint = dir.resolve("tiny-chat-llama");
    LlamaFixture.write(checkpoint, spec, 41, DType.F32, false);
    LlamaFixture.writeTokenizer(checkpoint, spec);
    LlamaFixture.writeChatTemplate(checkpoint);
    plain = dir.resolve("tiny-llama-no-template");
    LlamaFixture.write(plain, spec, 41, DType.F32, false);
    LlamaFixture.writeTokenizer(plain, spec);
    task = dir.resolve("chat.jsonl");
    Files.write(task, chats(40));
  }

  private static FinetuneConfig small(Map<String, Object> more) {
    Map<String, Object> o = new HashMap<>();
    o.put("model", checkpoint.toString());
    o.put("task", task.toString());
    o.put("init", "lora-one");
    o.put("optimizer", "adamw");
    o.put("rank", 2);
    o.put("alpha", 4.0);
    o.put("targets", "all-linear");
    o.put("dropout", 0.0);
    o.put("lr", 2e-2);
    o.put("schedule", "constant");
    o.put("warmup", 0);
    o.put("steps", 6);
    o.put("batch", 8);
    o.put("microBatch", 4);
    o.put("initBatch", 4);
    o.put("initIters", 2);
    o.put("initShards", 2);
    o.put("maxLength", 24);
    o.put("evalExamples", 8);
    o.put("evalEvery", 3);
    o.put("seed", 5L);
    o.putAll(more);
    return CausalLmLocalRunTest.config(o);
  }

  private static LocalRun.Result run(FinetuneConfig cfg) throws IOException {
    try (LocalRun f = LocalRun.open(cfg, "test")) {
      return f.run(e -> {});
    }
  }

  @Test
  void chatsAreRenderedWithTheTemplateAndOnlyAssistantTurnsAreTargets() throws IOException {
    CausalLmTask t = CausalLmTask.load(task.toString(), null, OnBadRecord.FAIL, checkpoint);
    assertTrue(t.summary().contains("chats"), t.summary());
    List<CausalLmRow> all = new ArrayList<>(t.train());
    all.addAll(t.eval());
    RenderedChat twoTurns = all.stream().map(RenderedChat.class::cast).filter(c -> c.assistantSpans().size() == 2)
        .findFirst().orElseThrow();
    assertTrue(twoTurns.text().startsWith("<s> w4 w"), twoTurns.text());
    assertTrue(twoTurns.text().endsWith(" w5 w10 w11 w12 </s>"), twoTurns.text());
    for (RenderedChat.Span s : twoTurns.assistantSpans()) {
      assertEquals(" w10 w11 w12 </s>", twoTurns.text().substring(s.start(), s.end()));
    }
  }

  @Test
  void aChatJobTrainsIsBitIdenticalOnRerunAndItsLossFalls() throws IOException {
    FinetuneConfig cfg = small(Map.of());
    LocalRun.Result first = run(cfg);
    List<JobEvent.Evaluated> evals = first.evals();
    System.out.printf("CausalLmChatLocalRunTest: train loss %s; eval loss %s%n",
        first.steps().stream().map(s -> String.format("%.4f", s.loss())).toList(),
        evals.stream().map(e -> String.format("@%d %.4f", e.step(), e.loss())).toList());
    first.steps().forEach(s -> assertTrue(Double.isFinite(s.loss()), "finite loss: " + s));
    assertTrue(first.steps().get(5).loss() < first.steps().get(0).loss(), "training loss falls: " + first.steps());
    assertTrue(evals.get(1).loss() < evals.get(0).loss(), "eval loss falls: " + evals);
    assertTrue(first.finalEval().metrics().get("tokens") > 0, first.finalEval()::toString);
    assertEquals("causal-lm", first.taskType());
    first.adapter().write(dir.resolve("chat-a"));
    run(cfg).adapter().write(dir.resolve("chat-b"));
    assertArrayEquals(Files.readAllBytes(dir.resolve("chat-a").resolve(PeftAdapter.WEIGHTS_FILE)),
        Files.readAllBytes(dir.resolve("chat-b").resolve(PeftAdapter.WEIGHTS_FILE)), "same config, same adapter");
  }

  @Test
  void chatRowsOnAModelWithoutAChatTemplateNameItsTokenizerConfig() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> run(small(Map.of("model", plain.toString()))));
    assertTrue(e.getMessage().contains(plain.resolve("tokenizer_config.json") + " has no chat_template")
        && e.getMessage().contains("chat.jsonl:1"), e.getMessage());
  }

  @Test
  void aRowTheTemplateRefusesFailsAtLoadNamingFileLineAndTheTemplatesMessage() throws IOException {
    Path bad = dir.resolve("assistant-first.jsonl");
    List<String> lines = chats(20);
    lines.add(3, JSON.writeValueAsString(Map.of("messages",
        List.of(turn("assistant", "w10"), turn("user", "w20"), turn("assistant", "w11")))));
    Files.write(bad, lines);
    BadRecordException e = assertThrows(BadRecordException.class,
        () -> run(small(Map.of("task", bad.toString()))));
    assertTrue(e.getMessage().startsWith(bad + ":4: chat template of " + checkpoint.resolve("tokenizer_config.json"))
        && e.getMessage().endsWith("raised an exception: a conversation must not open with the assistant"),
        e.getMessage());
    CausalLmTask skipped = CausalLmTask.load(bad.toString(), null, OnBadRecord.SKIP, checkpoint);
    assertTrue(skipped.summary().endsWith("1 bad records skipped"), skipped.summary());
  }

  @Test
  void aChatWhoseFirstReplyStartsPastTheMaxLengthIsNamed() throws IOException {
    Path bad = dir.resolve("long-chat.jsonl");
    List<String> lines = chats(20);
    lines.add(1, JSON.writeValueAsString(Map.of("messages",
        List.of(turn("user", "w20 ".repeat(30).trim()), turn("assistant", "w11")))));
    Files.write(bad, lines);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> run(small(Map.of("task", bad.toString()))));
    assertTrue(e.getMessage().startsWith(bad + ":2: the chat's first assistant turn starts after"
        + " 'job.train.max-length' = 24 tokens"), e.getMessage());
  }
}
