package dev.loraone.coordinator;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.core.lora.LoraPair;
import dev.loraone.core.optim.AdapterTrainer;
import dev.loraone.core.optim.OptimizerConfig;
import dev.loraone.core.optim.Schedule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Checkpoints without actors: written, read back and continued, they equal an uninterrupted run bit for bit. */
class CheckpointTest {
  private static final List<String> MODULES = List.of("m0", "m1");
  private static final List<String> HEAD = List.of("classifier.weight", "classifier.bias");

  @TempDir
  Path dir;

  private static DMatrixRMaj random(int rows, int cols, Random rng) {
    DMatrixRMaj m = new DMatrixRMaj(rows, cols);
    for (int i = 0; i < m.data.length; i++) m.data[i] = rng.nextGaussian() * 0.1;
    return m;
  }

  private static AdapterTrainer trainer(String optimizer, long seed) {
    Random rng = new Random(seed);
    List<LoraPair> pairs =
        List.of(
            new LoraPair(random(2, 5, rng), random(4, 2, rng)),
            new LoraPair(random(2, 3, rng), random(6, 2, rng)));
    OptimizerConfig oc =
        OptimizerConfig.defaults(0.02)
            .withLoraPlusRatio(8)
            .withWeightDecay(0.01)
            .withSchedule(Schedule.forName("cosine", 2, 10));
    return new AdapterTrainer(optimizer, oc, 0.7, MODULES, pairs, List.of(random(3, 4, rng), random(3, 1, rng)));
  }

  /** Steps {@code from..to} with gradients that depend on the step and the current masters. */
  private static void train(AdapterTrainer t, int from, int to) {
    for (int step = from; step <= to; step++) {
      AdapterTrainer.Accumulator acc = t.accumulate();
      for (int k = 0; k < 3; k++) {
        float[][][] ab = new float[t.pairs().size()][][];
        for (int i = 0; i < ab.length; i++) {
          ab[i] = new float[][] {grad(t.pairs().get(i).a(), step, k), grad(t.pairs().get(i).b(), step, k + 7)};
        }
        float[][] d = new float[t.dense().size()][];
        for (int j = 0; j < d.length; j++) d[j] = grad(t.dense().get(j), step, k + 13);
        acc.add(ab, d);
      }
      acc.apply(3);
    }
  }

  private static float[] grad(DMatrixRMaj x, int step, int k) {
    float[] g = new float[x.numRows * x.numCols];
    for (int i = 0; i < g.length; i++) g[i] = (float) (Math.sin(step * 0.7 + k + i) + 0.5 * x.data[i]);
    return g;
  }

  private static void assertSameMasters(AdapterTrainer a, AdapterTrainer b) {
    for (int i = 0; i < a.pairs().size(); i++) {
      assertArrayEquals(a.pairs().get(i).a().data, b.pairs().get(i).a().data, "A of pair " + i);
      assertArrayEquals(a.pairs().get(i).b().data, b.pairs().get(i).b().data, "B of pair " + i);
    }
    for (int j = 0; j < a.dense().size(); j++)
      assertArrayEquals(a.dense().get(j).data, b.dense().get(j).data, "head " + j);
    assertEquals(a.steps(), b.steps());
  }

  @ParameterizedTest
  @ValueSource(strings = {"adamw", "scaled-adamw", "scaled-gd"})
  void snapshotRestoreContinueEqualsUninterrupted(String optimizer) throws IOException {
    AdapterTrainer uninterrupted = trainer(optimizer, 1);
    train(uninterrupted, 1, 8);

    AdapterTrainer before = trainer(optimizer, 1);
    train(before, 1, 4);
    Checkpoint.of(before.steps(), "TRAINING", "spec-sha", MODULES, HEAD, before).write(dir);
    train(before, 5, 5); // the crashed run went on a little: must not matter

    Checkpoint read = Checkpoint.read(dir).orElseThrow();
    assertEquals(4, read.step());
    assertEquals("spec-sha", read.specSha256());
    AdapterTrainer resumed = trainer(optimizer, 99); // other initial values: all of them come from the checkpoint
    read.restoreInto(MODULES, HEAD, resumed);
    train(resumed, 5, 8);
    assertSameMasters(uninterrupted, resumed);
  }

  @Test
  void aNewCheckpointReplacesTheOldOneAndAStepZeroCheckpointHasNoMoments() throws IOException {
    AdapterTrainer t = trainer("adamw", 3);
    Checkpoint.of(0, "INIT", "s", MODULES, HEAD, t).write(dir);
    Checkpoint zero = Checkpoint.read(dir).orElseThrow();
    assertEquals(0, zero.optimizer().pairs().moments().size());
    assertEquals(0, zero.optimizer().denseMoments().size());
    train(t, 1, 2);
    Checkpoint.of(2, "TRAINING", "s", MODULES, HEAD, t).write(dir);
    List<String> files = new ArrayList<>();
    try (var s = Files.list(dir)) {
      s.forEach(p -> files.add(p.getFileName().toString()));
    }
    files.sort(null);
    assertEquals(List.of(Checkpoint.JSON_FILE, "state-00000002.safetensors"), files);
    assertEquals(2, Checkpoint.read(dir).orElseThrow().step());
  }

  @Test
  void aCorruptTensorFileIsReportedAndAMissingCheckpointIsEmpty() throws IOException {
    assertTrue(Checkpoint.read(dir).isEmpty());
    AdapterTrainer t = trainer("adamw", 3);
    train(t, 1, 1);
    Checkpoint.of(1, "TRAINING", "s", MODULES, HEAD, t).write(dir);
    Path tensors = dir.resolve("state-00000001.safetensors");
    byte[] b = Files.readAllBytes(tensors);
    b[b.length - 1] ^= 1;
    Files.write(tensors, b);
    IOException e = assertThrows(IOException.class, () -> Checkpoint.read(dir));
    assertTrue(e.getMessage().contains("does not match"), e.getMessage());
  }

  @Test
  void restoringIntoAnotherLayoutNamesBoth() throws IOException {
    AdapterTrainer t = trainer("adamw", 3);
    Checkpoint c = Checkpoint.of(0, "INIT", "s", MODULES, HEAD, t);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> c.restoreInto(List.of("m0", "mX"), HEAD, t));
    assertTrue(e.getMessage().contains(Arrays.asList("m0", "mX").toString()), e.getMessage());
  }
}
