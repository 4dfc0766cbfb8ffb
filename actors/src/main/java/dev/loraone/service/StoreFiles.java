package dev.loraone.service;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * What the stores of uploads ({@link DatasetStore}, {@link ModelStore}) share: an entry is complete
 * once its {@code <id>.json} exists, which is written last and atomically.
 */
final class StoreFiles {
  private StoreFiles() {}

  /** Writes {@code json} to {@code target} through a temporary file in {@code incoming}: all or nothing. */
  static void writeLast(Path incoming, Path target, String json) throws IOException {
    Path meta = Files.createTempFile(incoming, "meta-", ".json");
    Files.writeString(meta, json);
    Files.move(meta, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Every complete entry under {@code root}, in id order ({@code find} reads one by id). */
  static <E> List<E> list(Path root, Function<String, Optional<E>> find) throws IOException {
    TreeMap<String, E> out = new TreeMap<>();
    try (var files = Files.list(root)) {
      for (Path p : files.toList()) {
        String n = p.getFileName().toString();
        if (!n.endsWith(".json")) continue;
        String id = n.substring(0, n.length() - 5);
        find.apply(id).ifPresent(e -> out.put(id, e));
      }
    }
    return new ArrayList<>(out.values());
  }
}
