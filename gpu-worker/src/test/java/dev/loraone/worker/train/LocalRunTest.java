package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.data.OnBadRecord;
import dev.loraone.protocol.io.PeftAdapter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The single-process loop over the engine on real MiniLM and real WordNet data, at a size that fits the unit tier. */
class LocalRunTest {
  @TempDir Path dir;

  private static FinetuneConfig small(String init, String optimizer) {
    FinetuneConfig d = FinetuneConfig.defaults();
    return new FinetuneConfig("minilm", TaskData.WORDNET, null, init, optimizer, 4, 16, true, "query,value", 0.0, 1e-3,
        1.0, 0.0, 1e-6, "constant", 0, 1.0, 2, 8, 4, 4, 2, Double.NaN, 32, 3, 24, 0, 5, OnBadRecord.FAIL);
  }

  private static PeftAdapter run(FinetuneConfig cfg) throws IOException {
    try (LocalRun f = LocalRun.open(cfg, "test")) {
      return f.run(e -> {}).adapter();
    }
  }

  @Test
  void sameConfigGivesBitIdenticalAdapterFiles() throws IOException {
    FinetuneConfig cfg = small("lora-one", "scaled-adamw");
    run(cfg).write(dir.resolve("a"));
    run(cfg).write(dir.resolve("b"));
    assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(PeftAdapter.WEIGHTS_FILE)),
        Files.readAllBytes(dir.resolve("b").resolve(PeftAdapter.WEIGHTS_FILE)));
    PeftAdapter back = PeftAdapter.read(dir.resolve("a"));
    assertEquals(12, back.modules().size(), "query and value of 6 layers");
    assertEquals(java.util.List.of("classifier"), back.savedModuleNames());
  }

  @Test
  void headWarmupTrainsTheHeadBeforeTheLoraOneGradientAndZeroStepsIsTheDefault() throws IOException {
    FinetuneConfig cfg = small("lora-one", "adamw");
    assertEquals(cfg, cfg.withHeadWarmup(0, Double.NaN), "no warm-up is the default config");
    PeftAdapter plain = run(cfg);
    PeftAdapter warm = run(cfg.withHeadWarmup(3, 1e-2));
    String query = "encoder.layer.0.attention.self.query";
    assertNotEquals(plain.modules().get(query).a(), warm.modules().get(query).a(),
        "the one-step gradient, hence LoRA-One's A0, is taken through the warmed head");
    assertNotEquals(plain.savedModules().get("classifier.weight"), warm.savedModules().get("classifier.weight"));
    assertEquals(plain.config().r(), warm.config().r());
  }

  @Test
  void baseModifyingInitExportsTheRank2rDifference() throws IOException {
    PeftAdapter a = run(small("pissa", "adamw"));
    assertEquals(8, a.config().r(), "PiSSA (W0 modified) is exported as rank 2r");
    assertEquals(4, run(small("lora-one", "adamw")).config().r(), "LoRA-One leaves W0 alone: plain rank r");
  }

  @Test
  void rankLargerThanTheLayerIsRejectedNamingTheModule() {
    FinetuneConfig d = small("lora-one", "adamw");
    FinetuneConfig big =
        new FinetuneConfig(
            d.model(),
            d.task(),
            null,
            d.init(),
            d.optimizer(),
            400,
            d.alpha(),
            d.rslora(),
            d.targets(),
            d.dropout(),
            d.lr(),
            d.loraPlusRatio(),
            d.weightDecay(),
            d.lambda(),
            d.schedule(),
            d.warmup(),
            d.maxGradNorm(),
            d.steps(),
            d.batch(),
            d.microBatch(),
            d.initBatch(),
            d.initIters(),
            d.gamma(),
            d.maxLength(),
            d.maxPerClass(),
            d.evalExamples(),
            d.evalEvery(),
            d.seed(),
            d.onBadRecord());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(big));
    assertTrue(
        e.getMessage().contains("'job.lora.rank' = 400")
            && e.getMessage().contains("encoder.layer.0.attention.self.query")
            && e.getMessage().contains("384"),
        e.getMessage());
  }

  @Test
  void unknownTargetModuleIsRejected() {
    FinetuneConfig d = small("lora", "adamw");
    FinetuneConfig bad =
        new FinetuneConfig(
            d.model(),
            d.task(),
            null,
            d.init(),
            d.optimizer(),
            d.rank(),
            d.alpha(),
            d.rslora(),
            "query,q_proj",
            d.dropout(),
            d.lr(),
            d.loraPlusRatio(),
            d.weightDecay(),
            d.lambda(),
            d.schedule(),
            d.warmup(),
            d.maxGradNorm(),
            d.steps(),
            d.batch(),
            d.microBatch(),
            d.initBatch(),
            d.initIters(),
            d.gamma(),
            d.maxLength(),
            d.maxPerClass(),
            d.evalExamples(),
            d.evalEvery(),
            d.seed(),
            d.onBadRecord());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(bad));
    assertTrue(e.getMessage().contains("q_proj"), e.getMessage());
    // every Linear module of the model, not only the ones the other patterns matched
    assertTrue(
        e.getMessage().contains("attention.self.key")
            && e.getMessage().contains("intermediate.dense"),
        e.getMessage());
  }

  @Test
  void invalidSettingsNameTheOption() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new FinetuneConfig("minilm",
        TaskData.WORDNET, null, "lora-one", "adamw", 8, 16, true, "all-linear", 0, 1e-3, 1, 0, 1e-6, "linear", 0, 1,
        10, 12, 8, 8, 8, Double.NaN, 64, 10, 10, 0, 0, OnBadRecord.FAIL));
    assertTrue(
        e.getMessage().contains("'job.train.batch' = 12")
            && e.getMessage().contains("'job.train.micro-batch' = 8"),
        e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new FinetuneConfig(
                    "minilm",
                    TaskData.WORDNET,
                    null,
                    "lora-two",
                    "adamw",
                    8,
                    16,
                    true,
                    "all-linear",
                    0,
                    1e-3,
                    1,
                    0,
                    1e-6,
                    "linear",
                    0,
                    1,
                    10,
                    8,
                    8,
                    8,
                    8,
                    Double.NaN,
                    64,
                    10,
                    10,
                    0,
                    0,
                    OnBadRecord.FAIL));
    assertTrue(e.getMessage().contains("lora-two") && e.getMessage().contains("lora-one"), e.getMessage());
  }
}
