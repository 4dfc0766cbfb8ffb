package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaCheckpoint;
import dev.loraone.worker.weights.LlamaFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-JVM base-model cache: a second job on the same files gets the weights and hash read the
 * first time, equal to a fresh read; a rewritten file is a new model; the byte bound evicts the
 * least recently used and keeps nothing at 0.
 */
class BaseModelsTest {
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
  void aSecondOpenReusesTheFirstReadAndItsHashEqualsAFreshRead() throws Exception {
    Path a = folder("a", 1);
    BaseModels.Llama first = BaseModels.llama(a);
    BaseModels.Llama second = BaseModels.llama(a);
    assertSame(first, second, "read once");
    LlamaCheckpoint fresh = LlamaCheckpoint.load(a);
    assertEquals(fresh.weights(), first.checkpoint().weights());
    assertEquals(Digests.model(BaseModels.FOLDER, fresh.weights()), first.hash());
    assertTrue(BaseModels.heldBytes() > 0);
  }

  @Test
  void theHashDoesNotDependOnWhereTheFolderIs() throws Exception {
    BaseModels.Llama a = BaseModels.llama(folder("a", 1));
    BaseModels.Llama elsewhere = BaseModels.llama(folder("0123abcd", 1)); // e.g. a worker's cache of an upload
    assertNotSame(a, elsewhere);
    assertEquals(a.hash(), elsewhere.hash());
  }

  @Test
  void aRewrittenWeightFileIsANewModel() throws Exception {
    Path a = folder("a", 1);
    BaseModels.Llama before = BaseModels.llama(a);
    LlamaFixture.write(a, LlamaFixture.Spec.tiny(true), 2, DType.BF16, true); // other values, same sizes
    Path shard = a.resolve("model-00001-of-00002.safetensors");
    Files.setLastModifiedTime(shard, FileTime.fromMillis(Files.getLastModifiedTime(shard).toMillis() + 5_000));
    BaseModels.Llama after = BaseModels.llama(a);
    assertNotSame(before, after);
    assertTrue(!before.hash().equals(after.hash()), "other weights, another hash");
  }

  @Test
  void theBoundEvictsTheLeastRecentlyUsedAndZeroKeepsNothing() throws Exception {
    Path a = folder("a", 1);
    Path b = folder("b", 2);
    BaseModels.Llama one = BaseModels.llama(a);
    long size = BaseModels.heldBytes();
    System.setProperty("loraone.model-cache", Long.toString(size + size / 2)); // room for one
    BaseModels.llama(b);
    assertEquals(size, BaseModels.heldBytes(), "b replaced a");
    assertNotSame(one, BaseModels.llama(a), "a was evicted and read again");
    System.setProperty("loraone.model-cache", "0");
    BaseModels.clear();
    BaseModels.Llama x = BaseModels.llama(a);
    assertNotSame(x, BaseModels.llama(a), "nothing kept at 0");
    assertEquals(0, BaseModels.heldBytes());
    System.setProperty("loraone.model-cache", "lots");
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> BaseModels.llama(b));
    assertTrue(bad.getMessage().contains("loraone.model-cache=lots"), bad.getMessage());
  }
}
