package dev.loraone.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.loraone.protocol.job.ModelRefs;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DatasetFetcher#model} against a stand-in for the service's {@code GET /models/{id}(/{file})}
 * (the real routes are exercised by ModelUploadIT): a folder arrives whole and verified; a file whose
 * bytes were corrupted, or a manifest whose files do not hash to the id, is refused and nothing gets
 * the folder's name in the cache.
 */
class ModelFetcherTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path cache;
  private HttpServer server;

  private static final Map<String, byte[]> FOLDER = new TreeMap<>(Map.of(
      "config.json", "{\"model_type\": \"llama\"}".getBytes(StandardCharsets.UTF_8),
      "model.safetensors", "not really weights, but bytes all the same".getBytes(StandardCharsets.UTF_8),
      "1_Pooling/config.json", "{}".getBytes(StandardCharsets.UTF_8)));

  private static String sha256(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  private static String id() throws Exception {
    Map<String, String> files = new TreeMap<>();
    for (var f : FOLDER.entrySet()) files.put(f.getKey(), sha256(f.getValue()));
    return ModelRefs.id(files);
  }

  /** Serves {@link #FOLDER} as model {@code id}, with {@code served} as the files' bytes. */
  private String serve(String id, Map<String, byte[]> served) throws Exception {
    ObjectNode manifest = JSON.createObjectNode().put("id", id);
    for (var f : FOLDER.entrySet()) {
      manifest.withArray("files").addObject().put("name", f.getKey()).put("sha256", sha256(f.getValue()))
          .put("bytes", f.getValue().length);
    }
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/models/", x -> {
      String rest = x.getRequestURI().getPath().substring("/models/".length());
      byte[] body = rest.equals(id) ? manifest.toString().getBytes(StandardCharsets.UTF_8)
          : served.get(rest.substring(id.length() + 1));
      try (OutputStream out = x.getResponseBody()) {
        x.sendResponseHeaders(200, body.length);
        out.write(body);
      } catch (IOException e) {
        // the client went away
      }
    });
    server.start();
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stop() {
    if (server != null) server.stop(0);
  }

  @Test
  void aFolderArrivesWholeAndVerified() throws Exception {
    String id = id();
    DatasetFetcher f = new DatasetFetcher(serve(id, FOLDER), null, null, cache);
    Path dir = f.model(id);
    assertEquals(cache.resolve("models").resolve(id), dir);
    for (var e : FOLDER.entrySet()) assertArrayEquals(e.getValue(), Files.readAllBytes(dir.resolve(e.getKey())));
    try (var files = Files.walk(dir)) {
      assertEquals(FOLDER.size(), files.filter(Files::isRegularFile).count(), "the folder's files only");
    }
    server.stop(0);
    assertEquals(dir, f.model(id), "cached: no second download");
  }

  @Test
  void aCorruptedFileIsRefusedAndTheFolderIsNotCached() throws Exception {
    String id = id();
    Map<String, byte[]> corrupted = new TreeMap<>(FOLDER);
    byte[] bad = FOLDER.get("model.safetensors").clone();
    bad[3] ^= 1;
    corrupted.put("model.safetensors", bad);
    DatasetFetcher f = new DatasetFetcher(serve(id, corrupted), null, null, cache);
    IOException e = assertThrows(IOException.class, () -> f.model(id));
    assertTrue(e.getMessage().contains("model:" + id + " file model.safetensors") && e.getMessage().contains(
        "arrived with SHA-256 " + sha256(bad) + ": refused"), e.getMessage());
    assertFalse(Files.exists(cache.resolve("models").resolve(id)), "no verified folder by that name");
  }

  @Test
  void aManifestWhoseFilesDoNotHashToTheIdIsRefused() throws Exception {
    String other = "ab".repeat(32);
    DatasetFetcher f = new DatasetFetcher(serve(other, FOLDER), null, null, cache);
    IOException e = assertThrows(IOException.class, () -> f.model(other));
    assertTrue(e.getMessage().contains("its manifest's files hash to " + id() + ": refused"), e.getMessage());
    assertFalse(Files.exists(cache.resolve("models").resolve(other)));
  }
}
