package dev.loraone.worker.train;

import dev.loraone.worker.weights.FloatTensor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/** SHA-256 digests (hex) the worker reports: its base model's, and each exported file's. */
final class Digests {
  private Digests() {}

  /**
   * The model id, then every base weight in name order: name, shape (int64 LE), values (float32
   * LE). Equal on every worker that loads the same model, whatever the file it came from.
   */
  static String model(String id, Map<String, FloatTensor> weights) {
    ModelDigest md = new ModelDigest(id);
    new TreeMap<>(weights).forEach(md::add);
    return md.hex();
  }

  /**
   * {@link #model} one tensor at a time, for a loader that never holds the whole model: add the
   * tensors in name order (checked), then read {@link #hex()}.
   */
  static final class ModelDigest {
    private final MessageDigest md = sha256();
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private String last;

    ModelDigest(String id) {
      md.update(id.getBytes(StandardCharsets.UTF_8));
    }

    void add(String name, FloatTensor t) {
      if (last != null && last.compareTo(name) >= 0) {
        throw new IllegalStateException("model digest: tensor " + name + " after " + last + ", not in name order");
      }
      last = name;
      md.update(name.getBytes(StandardCharsets.UTF_8));
      for (long d : t.shape()) buf.putLong(d);
      for (float v : t.data()) {
        if (!buf.hasRemaining()) {
          md.update(buf.flip());
          buf.clear();
        }
        buf.putFloat(v);
      }
      md.update(buf.flip());
      buf.clear();
    }

    String hex() {
      return HexFormat.of().formatHex(md.digest());
    }
  }

  static String file(Path file) throws IOException {
    MessageDigest md = sha256();
    try (InputStream in = Files.newInputStream(file)) {
      byte[] b = new byte[1 << 16];
      for (int n; (n = in.read(b)) > 0; ) md.update(b, 0, n);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }
}
