package dev.loraone.service;

import dev.loraone.worker.model.ModelFamily;
import dev.loraone.worker.weights.LlamaCheckpoint;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * An uploaded model zip, unpacked safely and checked as a job would open the folder:
 *
 * <pre>
 *   names      the files of one HF folder, at the zip's top or all in one top folder (zip -r tiny-llama.zip
 *              tiny-llama/); subfolders are kept (1_Pooling/config.json); each path segment
 *              [A-Za-z0-9_-][A-Za-z0-9._-]*,
 *              so no entry is absolute, climbs with .., or lands outside the folder; no name twice
 *   files      every entry is written as a new regular file from its bytes: nothing a link points to is read
 *              or written; at most MAX_FILES files and, unpacked, at most the upload limit in bytes
 *   weights    pickles (pytorch_model.bin, *.bin, *.pt, *.pth, *.ckpt, *.pkl) are refused: unpickling can run code
 *   checked    ModelFamily.detect (config.json's model_type); Llama family: LlamaCheckpoint.checkFolder (every
 *              config key, the weight files); BERT: a *.safetensors file and tokenizer.json
 * </pre>
 */
final class ModelUnpack {
  /** The most files one model folder may have. */
  static final int MAX_FILES = 1000;
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}");
  private static final List<String> PICKLES = List.of(".bin", ".pt", ".pth", ".ckpt", ".pkl");

  private ModelUnpack() {}

  /** A folder that was unpacked: each file's name (with / between folders) and SHA-256, and the bytes. */
  record Unpacked(Map<String, String> files, long bytes) {}

  /**
   * Unpacks {@code zip} into the empty folder {@code into}, at most {@code maxBytes} unpacked; a bad
   * archive is an IllegalArgumentException naming the entry and what is expected.
   */
  static Unpacked unzip(Path zip, Path into, long maxBytes) throws IOException {
    Map<String, String> files = new TreeMap<>();
    long total = 0;
    try (ZipFile z = new ZipFile(zip.toFile())) {
      List<ZipEntry> entries = new ArrayList<>();
      for (ZipEntry e : Collections.list(z.entries())) {
        if (!e.isDirectory()) entries.add(e);
      }
      if (entries.isEmpty()) throw new IllegalArgumentException("the zip has no files: expected an HF model folder");
      if (entries.size() > MAX_FILES) {
        throw new IllegalArgumentException("the zip has " + entries.size() + " files: expected at most " + MAX_FILES);
      }
      String top = commonTop(entries);
      for (ZipEntry e : entries) {
        String name = name(e.getName(), top);
        if (files.containsKey(name)) throw new IllegalArgumentException("entry '" + e.getName() + "' comes twice");
        String lower = name.toLowerCase(Locale.ROOT);
        if (PICKLES.stream().anyMatch(lower::endsWith)) {
          throw new IllegalArgumentException("entry '" + e.getName() + "' is a pickle (unpickling can run code):"
              + " expected the weights as *.safetensors (convert them, e.g. with save_pretrained(...,"
              + " safe_serialization=True))");
        }
        Path out = into.resolve(name).normalize();
        if (!out.startsWith(into)) throw new IllegalArgumentException("entry '" + e.getName() + "' escapes the folder");
        Files.createDirectories(out.getParent());
        MessageDigest md = sha256();
        try (InputStream in = z.getInputStream(e);
            OutputStream o = new DigestOutputStream(Files.newOutputStream(out,
                java.nio.file.StandardOpenOption.CREATE_NEW), md)) {
          byte[] b = new byte[1 << 16];
          for (int n; (n = in.read(b)) > 0; ) {
            total += n;
            if (total > maxBytes) {
              throw new IllegalArgumentException("the folder is larger than the service's limit of " + maxBytes
                  + " bytes unpacked (loraone serve --max-model-upload)");
            }
            o.write(b, 0, n);
          }
        }
        files.put(name, HexFormat.of().formatHex(md.digest()));
      }
    } catch (java.util.zip.ZipException e) {
      throw new IllegalArgumentException("not a readable zip (" + e.getMessage() + "): expected the body to be a zip"
          + " of an HF model folder");
    }
    return new Unpacked(files, total);
  }

  /** The folder every entry is in ("dir/"), or "" when not all are in one. */
  private static String commonTop(List<ZipEntry> entries) {
    String first = entries.get(0).getName();
    int slash = first.indexOf('/');
    if (slash <= 0) return "";
    String top = first.substring(0, slash + 1);
    return entries.stream().allMatch(e -> e.getName().startsWith(top)) ? top : "";
  }

  /** The entry's name in the folder; one that could land elsewhere is refused. */
  private static String name(String entry, String top) {
    String n = entry.substring(top.length());
    for (String segment : n.split("/", -1)) {
      if (!SEGMENT.matcher(segment).matches()) {
        throw new IllegalArgumentException("entry '" + entry + "': expected a relative path of names of"
            + " [A-Za-z0-9._-] (no '..', no leading '/' or '.', no '\\\\') inside the folder");
      }
    }
    return n;
  }

  /**
   * Checks the unpacked folder as a job naming it would be checked; its config.json's model_type.
   * An unusable folder is an IllegalArgumentException naming the file and what is expected.
   */
  static String check(Path dir, Map<String, String> files) throws IOException {
    try {
      return checked(dir, files);
    } catch (IllegalArgumentException e) { // the messages name the unpacked folder: name the upload instead
      throw new IllegalArgumentException(e.getMessage().replace("'job.model' = \"" + dir + "\": ", "")
          .replace(dir + "/", "").replace(dir.toString(), "the folder"), e);
    }
  }

  private static String checked(Path dir, Map<String, String> files) throws IOException {
    ModelFamily family = ModelFamily.detect(dir.toString());
    if (family == ModelFamily.LLAMA) {
      LlamaCheckpoint.checkFolder(dir);
    } else {
      if (files.keySet().stream().noneMatch(n -> !n.contains("/") && n.endsWith(".safetensors"))) {
        throw new IllegalArgumentException("the folder has no *.safetensors weights: expected model.safetensors");
      }
      if (!files.containsKey("tokenizer.json")) {
        throw new IllegalArgumentException("the folder has no tokenizer.json: expected the model's tokenizer");
      }
    }
    String type = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("config.json").toFile())
        .path("model_type").asText();
    return type;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
