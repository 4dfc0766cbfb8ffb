package dev.loraone.protocol.job;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A job's model named by content instead of by path: {@code job.model = "model:<id>"}, an HF folder
 * uploaded to the service ({@code POST /models}). The id hashes the folder's files, not the archive
 * they came in, so the same folder zipped twice, in any order, has one id:
 *
 * <pre>
 *   id = SHA-256 of the UTF-8 text  name "\n" sha256(file) "\n"  for every file, in name order
 *        (name: the file's name in the folder; sha256: its SHA-256, 64 lower-case hex digits)
 * </pre>
 */
public final class ModelRefs {
  /** The prefix of a reference. */
  public static final String PREFIX = "model:";

  private ModelRefs() {}

  /** Whether {@code value} is meant as a reference (it starts with {@link #PREFIX}), well formed or not. */
  public static boolean isRef(String value) {
    return value != null && value.startsWith(PREFIX);
  }

  /** The id {@code job.model} names, if it is a reference; a malformed one throws, naming the key. */
  public static Optional<String> of(JobSpec spec) {
    String v = spec.getString("model");
    if (!isRef(v)) return Optional.empty();
    String sha = v.substring(PREFIX.length());
    if (!DatasetRefs.SHA256.matcher(sha).matches()) {
      throw new IllegalArgumentException("'job.model' = \"" + v + "\": expected model:<id, 64 lower-case hex"
          + " digits> as POST /models answers it");
    }
    return Optional.of(sha);
  }

  /** The id of a folder whose files (name to SHA-256 hex) are {@code files}. */
  public static String id(Map<String, String> files) {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    new TreeMap<>(files).forEach((name, sha) -> md.update((name + "\n" + sha + "\n").getBytes(StandardCharsets.UTF_8)));
    return HexFormat.of().formatHex(md.digest());
  }
}
