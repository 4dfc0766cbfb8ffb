package dev.loraone.coordinator;

import dev.loraone.protocol.tensor.TensorMatrices;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.core.optim.OptimizerSnapshot;
import dev.loraone.protocol.io.SafeTensors;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.ejml.data.DMatrixRMaj;

/**
 * The coordinator's state after an optimizer step (step 0: the init), enough to continue the job
 * bit for bit: double masters, optimizer moments and step counts, the job spec's hash.
 *
 * <pre>
 *   &lt;dir&gt;/state-&lt;step&gt;.safetensors   F64: pair.i.A [r,in]  pair.i.B [out,r]  pair.i.{mA,vA} [r,in]
 *       pair.i.{mB,vB} [out,r]
 *                                            head.j [rows,cols]  head.j.{m,v}          (i, j: module and head order)
 *   &lt;dir&gt;/checkpoint.json            {format, version, step, phase, specSha256, modules, head, optimizer steps
 *       and
 *                                     moment counts, tensors: the file above, tensorsSha256}
 * </pre>
 *
 * The tensors are written first (temp file, then rename), then the JSON the same way, then older
 * tensor files are deleted; the JSON is the commit point, so a crash at any moment leaves the
 * previous checkpoint or the new one, never a mix.
 */
record Checkpoint(
    int step,
    String phase,
    String specSha256,
    List<String> modules,
    List<String> headNames,
    List<LoraPair> pairs,
    List<DMatrixRMaj> head,
    AdapterTrainer.Snapshot optimizer) {

  static final String JSON_FILE = "checkpoint.json";
  static final String FORMAT = "loraone-checkpoint";
  static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** A deep copy of {@code trainer}'s masters and optimizer state. */
  static Checkpoint of(
      int step,
      String phase,
      String specSha256,
      List<String> modules,
      List<String> headNames,
      AdapterTrainer trainer) {
    List<LoraPair> pairs = new ArrayList<>();
    for (LoraPair p : trainer.pairs()) pairs.add(p.copy());
    List<DMatrixRMaj> head = new ArrayList<>();
    for (DMatrixRMaj d : trainer.dense()) head.add(d.copy());
    return new Checkpoint(
        step,
        phase,
        specSha256,
        List.copyOf(modules),
        List.copyOf(headNames),
        pairs,
        head,
        trainer.snapshot());
  }

  /** Restores masters and optimizer state into a trainer of the same modules and head. */
  void restoreInto(List<String> expectedModules, List<String> expectedHead, AdapterTrainer trainer) {
    if (!modules.equals(expectedModules) || !headNames.equals(expectedHead)) {
      throw new IllegalArgumentException(
          "the checkpoint holds modules "
              + modules
              + " and head "
              + headNames
              + " but the job's layout has "
              + expectedModules
              + " and "
              + expectedHead);
    }
    for (int i = 0; i < pairs.size(); i++) {
      if (!pairs.get(i).sameShape(trainer.pairs().get(i)))
        throw new IllegalArgumentException(
            "checkpoint pair " + modules.get(i) + " has another shape");
    }
    trainer.restore(pairs, head, optimizer);
  }

  /** Writes the checkpoint into {@code dir}; returns the JSON file. */
  Path write(Path dir) throws IOException {
    Files.createDirectories(dir);
    Map<String, TensorBlob> t = new TreeMap<>();
    for (int i = 0; i < pairs.size(); i++) {
      t.put("pair." + i + ".A", TensorMatrices.f64(pairs.get(i).a()));
      t.put("pair." + i + ".B", TensorMatrices.f64(pairs.get(i).b()));
    }
    List<OptimizerSnapshot.PairMoments> moments = optimizer.pairs() == null ? List.of() : optimizer.pairs().moments();
    for (int i = 0; i < moments.size(); i++) {
      OptimizerSnapshot.PairMoments m = moments.get(i);
      t.put("pair." + i + ".mA", TensorMatrices.f64(m.mA()));
      t.put("pair." + i + ".vA", TensorMatrices.f64(m.vA()));
      t.put("pair." + i + ".mB", TensorMatrices.f64(m.mB()));
      t.put("pair." + i + ".vB", TensorMatrices.f64(m.vB()));
    }
    for (int j = 0; j < head.size(); j++) t.put("head." + j, TensorMatrices.f64(head.get(j)));
    for (int j = 0; j < optimizer.denseMoments().size(); j++) {
      t.put("head." + j + ".m", TensorMatrices.f64(optimizer.denseMoments().get(j)[0]));
      t.put("head." + j + ".v", TensorMatrices.f64(optimizer.denseMoments().get(j)[1]));
    }
    String tensorsName = String.format("state-%08d.safetensors", step);
    Path tensors = dir.resolve(tensorsName);
    SafeTensors.write(tensors, t, Map.of("format", FORMAT));

    ObjectNode j = JSON.createObjectNode();
    j.put("format", FORMAT);
    j.put("version", VERSION);
    j.put("step", step);
    j.put("phase", phase);
    j.put("specSha256", specSha256);
    modules.forEach(j.putArray("modules")::add);
    headNames.forEach(j.putArray("head")::add);
    if (optimizer.pairs() != null) {
      j.put("pairSteps", optimizer.pairs().steps());
      j.put("pairMoments", moments.size());
    }
    j.put("denseSteps", optimizer.denseSteps());
    j.put("denseMoments", optimizer.denseMoments().size());
    j.put("tensors", tensorsName);
    j.put("tensorsSha256", sha256(tensors));
    Path json = dir.resolve(JSON_FILE);
    Path tmp = Files.createTempFile(dir, JSON_FILE, ".tmp");
    try {
      Files.writeString(tmp, JSON.writeValueAsString(j) + "\n");
      Files.move(tmp, json, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
    try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, "state-*.safetensors")) {
      for (Path p : old) if (!p.getFileName().toString().equals(tensorsName)) Files.deleteIfExists(p);
    }
    return json;
  }

  /** The checkpoint in {@code dir}, or empty when there is none. Errors name the file and what is wrong. */
  static Optional<Checkpoint> read(Path dir) throws IOException {
    Path json = dir.resolve(JSON_FILE);
    if (!Files.isRegularFile(json)) return Optional.empty();
    JsonNode j = JSON.readTree(json.toFile());
    if (j == null || !FORMAT.equals(j.path("format").asText()) || j.path("version").asInt() != VERSION) {
      throw new IOException(json + ": not a " + FORMAT + " version " + VERSION + " file");
    }
    Path tensors = dir.resolve(j.path("tensors").asText());
    String sha = sha256(tensors);
    if (!sha.equals(j.path("tensorsSha256").asText())) {
      throw new IOException(
          tensors
              + ": SHA-256 "
              + sha
              + " does not match "
              + json
              + " ("
              + j.path("tensorsSha256").asText()
              + ")");
    }
    Map<String, TensorBlob> t = SafeTensors.read(tensors).tensors();
    List<String> modules = new ArrayList<>();
    j.path("modules").forEach(n -> modules.add(n.asText()));
    List<String> headNames = new ArrayList<>();
    j.path("head").forEach(n -> headNames.add(n.asText()));
    List<LoraPair> pairs = new ArrayList<>();
    for (int i = 0; i < modules.size(); i++)
      pairs.add(
          new LoraPair(
              matrix(t, "pair." + i + ".A", tensors), matrix(t, "pair." + i + ".B", tensors)));
    OptimizerSnapshot pairOpt = null;
    if (j.has("pairSteps")) {
      List<OptimizerSnapshot.PairMoments> moments = new ArrayList<>();
      for (int i = 0; i < j.path("pairMoments").asInt(); i++) {
        String p = "pair." + i + ".";
        moments.add(new OptimizerSnapshot.PairMoments(matrix(t, p + "mA", tensors), matrix(t, p + "vA", tensors),
            matrix(t, p + "mB", tensors), matrix(t, p + "vB", tensors)));
      }
      pairOpt = new OptimizerSnapshot(j.path("pairSteps").asInt(), moments);
    }
    List<DMatrixRMaj> head = new ArrayList<>();
    for (int k = 0; k < headNames.size(); k++) head.add(matrix(t, "head." + k, tensors));
    List<DMatrixRMaj[]> denseMoments = new ArrayList<>();
    for (int k = 0; k < j.path("denseMoments").asInt(); k++) {
      denseMoments.add(
          new DMatrixRMaj[] {
            matrix(t, "head." + k + ".m", tensors), matrix(t, "head." + k + ".v", tensors)
          });
    }
    return Optional.of(new Checkpoint(j.path("step").asInt(), j.path("phase").asText(), j.path("specSha256").asText(),
        List.copyOf(modules), List.copyOf(headNames), pairs, head,
        new AdapterTrainer.Snapshot(pairOpt, j.path("denseSteps").asInt(), denseMoments)));
  }

  private static DMatrixRMaj matrix(Map<String, TensorBlob> t, String key, Path file) throws IOException {
    TensorBlob b = t.get(key);
    if (b == null || b.shape().length != 2) throw new IOException(file + ": missing or malformed tensor " + key);
    return TensorMatrices.matrix((int) b.shape()[0], (int) b.shape()[1], b);
  }

  /** Hex SHA-256 of a file, streamed. */
  static String sha256(Path file) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    return HexFormat.of().formatHex(md.digest());
  }
}
