package dev.loraone.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CausalLmOverhead} end to end on a tiny random Llama: four runs, one adapter, sane figures. */
class CausalLmOverheadTest {
  @TempDir Path dir;

  @Test
  void everyRunTrainsTheSameAdapterAndReportsTokenRates() throws Exception {
    RandomLlama.Shape tiny = new RandomLlama.Shape(60, 32, 64, 2, 4, 2, 32, true);
    CausalLmOverhead.Settings s = new CausalLmOverhead.Settings(4, 2, 0, tiny, 40, 8, 4, 2, 24);
    CausalLmOverhead.Result r = CausalLmOverhead.run(s, dir, new PrintStream(OutputStream.nullOutputStream()));

    assertEquals(List.of("single-process", "embedded", "single-process", "embedded"),
        r.runs().stream().map(CausalLmOverhead.Run::mode).toList());
    assertTrue(r.sameAdapter(), "one adapter SHA-256 in and out of the actors: " + r.runs());
    assertEquals(64, r.adapterSha256().length());
    for (CausalLmOverhead.Run run : r.runs()) {
      assertTrue(run.medianStepSeconds() > 0, run.toString());
      // 4 rows of 5..9 completion words, each + EOS
      assertTrue(run.completionTokensPerStep() >= 4 * 5 && run.completionTokensPerStep() <= 4 * 10, run.toString());
      assertTrue(run.tokensPerSecond() > run.completionTokensPerSecond() && run.completionTokensPerSecond() > 0,
          run.toString());
    }
    assertEquals(r.embeddedSeconds() / r.singleProcessSeconds(), r.ratio(), 1e-12);
    assertEquals(tiny.parameters(), r.parameters());
  }
}
