package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import dev.loraone.data.CausalLmBatch;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.model.LlamaLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-JVM cache of frozen base models on the device: a second job on the same files shares the
 * arrays and hash read the first time, equal to a fresh read; a rewritten file is a new model; the
 * byte bound evicts the least recently used model no job holds, never one in use, and keeps nothing
 * at 0 once released. Two jobs' models on one shared base train bit-identically to a model of its
 * own, and neither W0 offsets, merges nor the one-step gradient touch the shared arrays.
 */
class BaseModelsTest {
  private static final Device CPU = Device.cpu();
  private static final String Q0 = "model.layers.0.self_attn.q_proj";

  @TempDir Path dir;

  @AfterEach
  void reset() {
    System.clearProperty("loraone.model-cache");
    BaseModels.clear();
  }

  private Path folder(String name, long seed) throws Exception {
    Path d = Files.createDirectories(dir.resolve(name));
    LlamaFixture.write(d, LlamaFixture.Spec.tiny(true), seed, DType.BF16, true);
    return d;
  }

  @Test
  void aSecondOpenSharesTheFirstReadAndItsHashEqualsAFreshRead() throws Exception {
    Path a = folder("a", 1);
    try (BaseModels.Lease<LlamaCheckpoint> first = BaseModels.llama(a, CPU);
        BaseModels.Lease<LlamaCheckpoint> second = BaseModels.llama(a, CPU)) {
      assertSame(first.arrays(), second.arrays(), "read once, shared");
      assertEquals(2, BaseModels.leases());
      LlamaCheckpoint fresh = LlamaCheckpoint.load(a);
      assertEquals(fresh.weights().keySet(), first.arrays().keySet());
      fresh.weights().forEach((name, t) ->
          assertArrayEquals(t.data(), first.arrays().get(name).toFloatArray(), name));
      assertEquals(Digests.model(BaseModels.FOLDER, fresh.weights()), first.hash());
      assertTrue(first.source().weights().isEmpty(), "no heap copy of the weights is kept");
      assertTrue(BaseModels.heldBytes() > 0);
    }
    assertEquals(0, BaseModels.leases());
  }

  @Test
  void theHashDoesNotDependOnWhereTheFolderIs() throws Exception {
    try (BaseModels.Lease<LlamaCheckpoint> a = BaseModels.llama(folder("a", 1), CPU);
        // e.g. a worker's cache of an uploaded model
        BaseModels.Lease<LlamaCheckpoint> elsewhere = BaseModels.llama(folder("0123abcd", 1), CPU)) {
      assertNotSame(a.arrays(), elsewhere.arrays(), "two folders, two entries");
      assertEquals(a.hash(), elsewhere.hash());
    }
  }

  @Test
  void aRewrittenWeightFileIsANewModel() throws Exception {
    Path a = folder("a", 1);
    try (BaseModels.Lease<LlamaCheckpoint> before = BaseModels.llama(a, CPU)) {
      LlamaFixture.write(a, LlamaFixture.Spec.tiny(true), 2, DType.BF16, true); // other values, same sizes
      Path shard = a.resolve("model-00001-of-00002.safetensors");
      Files.setLastModifiedTime(shard, FileTime.fromMillis(Files.getLastModifiedTime(shard).toMillis() + 5_000));
      try (BaseModels.Lease<LlamaCheckpoint> after = BaseModels.llama(a, CPU)) {
        assertNotSame(before.arrays(), after.arrays());
        assertFalse(before.hash().equals(after.hash()), "other weights, another hash");
      }
    }
  }

  @Test
  void theBoundEvictsTheLeastRecentlyUsedUnheldModelNeverOneInUseAndZeroKeepsNothing() throws Exception {
    Path a = folder("a", 1);
    Path b = folder("b", 2);
    BaseModels.Lease<LlamaCheckpoint> one = BaseModels.llama(a, CPU);
    long size = BaseModels.heldBytes();
    System.setProperty("loraone.model-cache", Long.toString(size + size / 2)); // room for one
    NDArray embed = one.arrays().get("model.embed_tokens.weight");
    float[] values = embed.toFloatArray();
    try (BaseModels.Lease<LlamaCheckpoint> two = BaseModels.llama(b, CPU)) {
      assertEquals(2 * size, BaseModels.heldBytes(), "a is in use: over the bound, not closed");
      assertArrayEquals(values, embed.toFloatArray(), "a's arrays stay usable while leased");
      one.close();
      one.close(); // once only
      assertEquals(size, BaseModels.heldBytes(), "released, a was the least recently used: closed");
      try (BaseModels.Lease<LlamaCheckpoint> again = BaseModels.llama(a, CPU)) {
        assertNotSame(one.arrays(), again.arrays(), "a was evicted and read again");
        assertEquals(2 * size, BaseModels.heldBytes(), "b is in use too");
      }
    }
    assertEquals(size, BaseModels.heldBytes(), "b released last: a, the least recently used, went");
    System.setProperty("loraone.model-cache", "0");
    BaseModels.clear();
    try (BaseModels.Lease<LlamaCheckpoint> x = BaseModels.llama(a, CPU)) {
      assertEquals(size, BaseModels.heldBytes(), "in use");
    }
    assertEquals(0, BaseModels.heldBytes(), "nothing kept at 0");
    System.setProperty("loraone.model-cache", "lots");
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> BaseModels.llama(b, CPU));
    assertTrue(bad.getMessage().contains("loraone.model-cache=lots"), bad.getMessage());
  }

  @Test
  void jobsOnASharedBaseComputeAsOnTheirOwnAndNeverWriteIt() throws Exception {
    Path a = folder("a", 3);
    LoraConfig lora = LoraConfig.of(2, 4, false, 0.0, 3, "q_proj,down_proj");
    LlamaLoraModel own = LlamaLoraModel.fromCheckpoint(LlamaCheckpoint.load(a), lora);
    try (BaseModels.Lease<LlamaCheckpoint> base = BaseModels.llama(a, CPU);
        LlamaStepper reference = new LlamaStepper(own, CPU, false);
        LlamaStepper job1 = new LlamaStepper(LlamaLoraModel.fromShared(base.source().config(), lora, base.arrays()),
            CPU, false);
        LlamaStepper job2 = new LlamaStepper(LlamaLoraModel.fromShared(base.source().config(), lora, base.arrays()),
            CPU, true)) {
      Map<String, float[]> before = values(base.arrays());
      int held = base.arrays().get(Q0 + ".weight").getManager().getManagedArrays().size();
      for (LlamaStepper s : new LlamaStepper[] {reference, job1, job2}) {
        s.model().setLoraB(Q0, ramp(s.model().getLoraB(Q0).length));
      }
      LlamaStepper.FullGradients g0 = reference.fullGradients(batch());
      LlamaStepper.LoraGradients l0 = reference.loraGradients(batch(), 7);
      for (LlamaStepper job : new LlamaStepper[] {job1, job2}) {
        LlamaStepper.FullGradients g = job.fullGradients(batch());
        assertEquals(g0.lossSum(), g.lossSum());
        g0.weights().forEach((m, v) -> assertArrayEquals(v, g.weights().get(m), m + ": dL/dW bit-identical"));
        LlamaStepper.LoraGradients l = job.loraGradients(batch(), 7);
        assertEquals(l0.lossSum(), l.lossSum());
        l0.adapters().forEach((m, v) -> {
          assertArrayEquals(v[0], l.adapters().get(m)[0], m + ".lora_A gradient");
          assertArrayEquals(v[1], l.adapters().get(m)[1], m + ".lora_B gradient");
        });
      }
      assertFalse(base.arrays().values().stream().anyMatch(NDArray::hasGradient), "no shared array takes a gradient");
      // job 1 moves W0 (as PiSSA) and merges; job 2 and the shared arrays do not see it
      job1.model().linear(Q0).ownWeight().subi(1f);
      job1.model().mergeAdapters();
      assertTrue(job1.model().linear(Q0).ownsCopy());
      assertFalse(job2.model().linear(Q0).ownsCopy());
      assertEquals(g0.lossSum(), job2.fullGradients(batch()).lossSum(), "job 2 computes on the untouched base");
      values(base.arrays()).forEach((name, v) -> assertArrayEquals(before.get(name), v, name + " unchanged"));
      assertEquals(held, base.arrays().get(Q0 + ".weight").getManager().getManagedArrays().size(),
          "the jobs' steps leave nothing in the shared base's manager");
    }
  }

  private static Map<String, float[]> values(Map<String, NDArray> arrays) {
    Map<String, float[]> out = new LinkedHashMap<>();
    arrays.forEach((name, a) -> out.put(name, a.toFloatArray()));
    return out;
  }

  private static float[] ramp(int n) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = 0.01f * (i % 7 - 3);
    return f;
  }

  /** Two rows, the second right-padded; the prompt is masked out of the loss. */
  private static CausalLmBatch batch() {
    long i = -100;
    long[] ids = {1, 5, 17, 3, 44, 28, 9, 2, 1, 12, 40, 7, 22, 2, 0, 0};
    long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    long[] labels = {i, i, i, i, 44, 28, 9, 2, i, i, i, 7, 22, 2, i, i};
    return new CausalLmBatch(2, 8, ids, mask, labels);
  }
}
