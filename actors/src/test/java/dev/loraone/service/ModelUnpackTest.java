package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.loraone.protocol.job.ModelRefs;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code POST /models} does with a zip before it keeps a folder ({@link ModelUnpack}, {@link
 * ModelStore}): an entry that would land outside the folder and a pickle are refused, and the same
 * folder zipped two ways (another order, inside a top folder or not) is one model with one id.
 */
class ModelUnpackTest {
  @TempDir Path dir;

  /** A zip of {@code entries} (name to content), in that order. */
  private Path zip(String name, Map<String, byte[]> entries, List<String> order) throws IOException {
    Path z = dir.resolve(name);
    try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(z))) {
      for (String n : order) {
        out.putNextEntry(new ZipEntry(n));
        out.write(entries.get(n));
        out.closeEntry();
      }
    }
    return z;
  }

  private Path zipOf(String name, Map<String, byte[]> entries) throws IOException {
    return zip(name, entries, new ArrayList<>(entries.keySet()));
  }

  private Path fresh() throws IOException {
    return Files.createTempDirectory(dir, "unpack-");
  }

  @Test
  void anEntryThatWouldLandOutsideTheFolderIsRefusedAndWritesNothingThere() throws Exception {
    for (String evil : List.of("../evil.json", "tiny/../../evil.json", "/etc/evil.json", "a/./b", ".hidden")) {
      Path z = zipOf("slip.zip", Map.of("config.json", "{}".getBytes(), evil, "x".getBytes()));
      Path into = fresh();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ModelUnpack.unzip(z, into, 1 << 20), evil);
      assertTrue(e.getMessage().contains("entry '" + evil + "'"), e.getMessage());
      assertFalse(Files.exists(dir.resolve("evil.json")) || Files.exists(dir.getParent().resolve("evil.json")));
    }
  }

  @Test
  void aPickleIsRefusedAndTooManyBytesAreRefused() throws Exception {
    Path z = zipOf("pickle.zip", Map.of("config.json", "{}".getBytes(), "pytorch_model.bin", new byte[8]));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ModelUnpack.unzip(z, fresh(), 1 << 20));
    assertTrue(e.getMessage().contains("'pytorch_model.bin' is a pickle") && e.getMessage().contains("safetensors"),
        e.getMessage());
    Path big = zipOf("big.zip", Map.of("model.safetensors", new byte[4096]));
    IllegalArgumentException over = assertThrows(IllegalArgumentException.class,
        () -> ModelUnpack.unzip(big, fresh(), 1000));
    assertTrue(over.getMessage().contains("limit of 1000 bytes"), over.getMessage());
  }

  @Test
  void theSameFolderZippedTwoWaysIsOneModelWithOneId() throws Exception {
    Path model = dir.resolve("tiny-llama");
    LlamaFixture.write(model, LlamaFixture.Spec.tiny(true), 5, DType.BF16, true);
    LlamaFixture.writeTokenizer(model, LlamaFixture.Spec.tiny(true));
    Map<String, byte[]> flat = new java.util.TreeMap<>();
    Map<String, byte[]> nested = new java.util.TreeMap<>();
    try (var files = Files.list(model)) {
      for (Path f : files.toList()) {
        flat.put(f.getFileName().toString(), Files.readAllBytes(f));
        nested.put("tiny-llama/" + f.getFileName(), Files.readAllBytes(f));
      }
    }
    List<String> reversed = new ArrayList<>(nested.keySet());
    Collections.reverse(reversed);
    ModelStore store = new ModelStore(dir.resolve("data"));
    List<ModelStore.Entry> kept = new ArrayList<>();
    List<Boolean> isNew = new ArrayList<>();
    for (Path z : List.of(zipOf("flat.zip", flat), zip("nested.zip", nested, reversed))) {
      Path into = store.unpacking();
      ModelUnpack.Unpacked u = ModelUnpack.unzip(z, into, 1 << 24);
      String type = ModelUnpack.check(into, u.files());
      assertEquals("llama", type);
      var e = store.commit(into, u, type);
      kept.add(e.getKey());
      isNew.add(e.getValue());
      assertFalse(Files.exists(into), "the unpacked folder was moved or dropped");
    }
    assertEquals(List.of(true, false), isNew);
    assertEquals(kept.get(0), kept.get(1), "one model");
    Map<String, String> shas = new java.util.TreeMap<>();
    for (var f : flat.entrySet()) shas.put(f.getKey(), sha256(f.getValue()));
    assertEquals(ModelRefs.id(shas), kept.get(0).id(), "the documented formula");
    assertEquals(1, store.list().size());
    assertEquals(flat.size(), kept.get(0).files().size());
    Path stored = store.folder(kept.get(0).id());
    assertEquals(sha256(flat.get("config.json")), sha256(Files.readAllBytes(stored.resolve("config.json"))));
  }

  @Test
  void aFolderNoJobCouldOpenIsRefusedNamingTheFile() throws Exception {
    Path z = zipOf("bad.zip", Map.of("config.json", "{\"model_type\": \"gpt2\"}".getBytes(),
        "model.safetensors", new byte[8]));
    Path into = fresh();
    ModelUnpack.Unpacked u = ModelUnpack.unzip(z, into, 1 << 20);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelUnpack.check(into,
        u.files()));
    assertTrue(e.getMessage().contains("config.json: 'model_type' is \"gpt2\"") && !e.getMessage().contains(
        into.toString()), e.getMessage());
  }

  private static String sha256(byte[] b) throws Exception {
    return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
  }
}
