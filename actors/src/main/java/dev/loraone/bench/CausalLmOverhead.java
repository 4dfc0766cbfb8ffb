package dev.loraone.bench;

import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.runtime.EmbeddedJob;
import dev.loraone.runtime.LocalJob;
import dev.loraone.runtime.LocalWorkers;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The causal-LM half of {@code bench pipeline}: the coordination overhead of a LoRA-One job on a
 * random SmolLM-shaped Llama ({@link RandomLlama}), the paper's main workload, beside the MiniLM one.
 *
 * <pre>
 *   runs       single process (loraone finetune: LocalJob), embedded coordinator + 1 worker actor, alternated
 *              twice over the same synthetic prompt/completion file, so both sides see the same drift in load
 *   overhead   faster embedded median step / faster single-process median step   (target <= 1.05)
 *   tokens/s   the median over steps of completion (loss-carrying) tokens / step seconds; all tokens adds each
 *              row's BOS and prompt (prompts have a fixed length, so this is exact)
 *   adapter    every run trains the same adapter bit for bit (one SHA-256)
 * </pre>
 * The first {@link PipelineBenchmark#median} warm-up steps of each run are left out of every figure.
 */
public final class CausalLmOverhead {
  private CausalLmOverhead() {}

  /** The job: {@code rows} prompts of {@code promptWords} words, steps of {@code batch} rows. */
  public record Settings(int steps, int rank, long seed, RandomLlama.Shape shape, int rows, int promptWords, int batch,
      int microBatch, int maxLength) {
    public static Settings defaults(int steps, int rank, long seed) {
      return new Settings(steps, rank, seed, RandomLlama.Shape.smolLike(), 400, 40, 16, 8, 64);
    }
  }

  /** One run; {@link Rates} says how its tokens are counted. */
  public record Run(String mode, double medianStepSeconds, double completionTokensPerStep,
      double completionTokensPerSecond, double tokensPerSecond, String adapterSha256) {}

  /**
   * {@code ratio}: the faster embedded run's median step over the faster single-process run's; the
   * rates are those of the faster single-process run.
   */
  public record Result(String model, long parameters, int rank, int steps, int batch, int microBatch, int maxLength,
      int promptWords, List<Run> runs, double singleProcessSeconds, double embeddedSeconds, double ratio,
      double completionTokensPerSecond, double tokensPerSecond, String adapterSha256, boolean sameAdapter) {}

  /** Writes the checkpoint and task under {@code work}, then runs single, embedded, single, embedded. */
  public static Result run(Settings s, Path work, PrintStream log) throws IOException {
    if (RandomLlama.longestRow(s.promptWords()) > s.maxLength()) {
      throw new IllegalArgumentException("rows of " + RandomLlama.longestRow(s.promptWords()) + " tokens would be cut"
          + " at max-length " + s.maxLength() + ", and the prompt-token count would be wrong");
    }
    Path model = work.resolve("random-smollm");
    Path task = work.resolve("task.jsonl");
    RandomLlama.write(model, s.shape(), s.seed() + 17);
    RandomLlama.writeTask(task, s.shape(), s.rows(), s.promptWords(), s.seed() + 23);
    JobSpec spec = spec(s, model, task);
    List<Run> runs = new ArrayList<>();
    for (int round = 1; round <= 2; round++) {
      log.println("bench pipeline: causal LM, single process (loraone finetune), run " + round + " of 2 ...");
      runs.add(single(s, spec, work.resolve("single-" + round)));
      log.println("bench pipeline: causal LM, embedded coordinator + 1 worker, run " + round + " of 2 ...");
      runs.add(embedded(s, spec, work.resolve("embedded-" + round)));
    }
    Run single = fastest(runs, "single-process");
    Run embedded = fastest(runs, "embedded");
    String sha = runs.get(0).adapterSha256();
    boolean same = runs.stream().allMatch(r -> r.adapterSha256().equals(sha));
    return new Result(s.shape().layers() + "-layer random SmolLM-like Llama (hidden " + s.shape().hidden() + ", "
        + s.shape().heads() + "/" + s.shape().kvHeads() + " heads, vocab " + s.shape().vocab() + ")",
        s.shape().parameters(), s.rank(), s.steps(), s.batch(), s.microBatch(), s.maxLength(), s.promptWords(), runs,
        single.medianStepSeconds(), embedded.medianStepSeconds(),
        embedded.medianStepSeconds() / single.medianStepSeconds(), single.completionTokensPerSecond(),
        single.tokensPerSecond(), sha, same);
  }

  static JobSpec spec(Settings s, Path model, Path task) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", "bench-causal-lm");
    m.put("seed", s.seed());
    m.put("model", model.toString());
    m.put("task.type", "causal-lm");
    m.put("task.train", task.toString());
    m.put("lora.rank", s.rank());
    m.put("lora.alpha", 2 * s.rank());
    m.put("lora.targets", "all-linear");
    m.put("init.method", "lora-one");
    m.put("init.batch", 8);
    m.put("init.iters", 4);
    m.put("init.shards", 4);
    m.put("optimizer.name", "scaled-adamw");
    m.put("optimizer.lr", 2e-4);
    m.put("optimizer.warmup", 2);
    m.put("train.steps", s.steps());
    m.put("train.batch", s.batch());
    m.put("train.micro-batch", s.microBatch());
    m.put("train.max-length", s.maxLength());
    m.put("eval.every", 0);
    m.put("eval.examples", 16);
    m.put("checkpoint.every", 0);
    m.put("export.onnx", false);
    return JobSpec.of(m);
  }

  private static Run single(Settings s, JobSpec spec, Path out) {
    List<JobEvent.StepDone> steps = new ArrayList<>();
    JobEvent end = LocalJob.run(spec, out, collect(steps)).end();
    return run("single-process", s, steps, end);
  }

  private static Run embedded(Settings s, JobSpec spec, Path out) {
    List<JobEvent.StepDone> steps = new ArrayList<>();
    JobEvent end = EmbeddedJob.run(spec, 1, LocalWorkers.factory(), out, collect(steps), Duration.ofMinutes(60));
    return run("embedded", s, steps, end);
  }

  private static Consumer<JobEvent> collect(List<JobEvent.StepDone> steps) {
    return e -> {
      if (e instanceof JobEvent.StepDone d) steps.add(d);
    };
  }

  private static Run run(String mode, Settings s, List<JobEvent.StepDone> steps, JobEvent end) {
    if (!(end instanceof JobEvent.Finished f)) {
      throw new IllegalStateException("bench causal-LM job (" + mode + ") failed: " + end);
    }
    Rates r = Rates.of(steps, s.batch(), s.promptWords());
    return new Run(mode, PipelineBenchmark.median(steps.stream().map(JobEvent.StepDone::seconds).toList()),
        r.completionTokensPerStep(), r.completionTokensPerSecond(), r.tokensPerSecond(), f.adapterSha256());
  }

  private static Run fastest(List<Run> runs, String mode) {
    return runs.stream().filter(r -> r.mode().equals(mode))
        .min(java.util.Comparator.comparingDouble(Run::medianStepSeconds)).orElseThrow();
  }

  /**
   * Throughput from each step's {@code metrics.tokens} and seconds, warm-up steps left out: the mean
   * completion tokens per step, and the medians of the per-step rates (as robust to a busy machine's
   * stalls as the median step time; steps differ in tokens, so not tokens over the median step).
   */
  record Rates(double completionTokensPerStep, double completionTokensPerSecond, double tokensPerSecond) {
    static Rates of(List<JobEvent.StepDone> steps, int rows, int promptWords) {
      List<JobEvent.StepDone> timed = steps.subList(PipelineBenchmark.warmup(steps.size()), steps.size());
      double tokens = 0;
      List<Double> completionRates = new ArrayList<>();
      List<Double> allRates = new ArrayList<>();
      for (JobEvent.StepDone d : timed) {
        Double t = d.metrics().get("tokens");
        if (t == null) throw new IllegalStateException("step " + d.step() + " reports no tokens: " + d.metrics());
        tokens += t;
        completionRates.add(t / d.seconds());
        allRates.add(RandomLlama.allTokens(t, rows, promptWords) / d.seconds());
      }
      return new Rates(tokens / timed.size(), middle(completionRates), middle(allRates));
    }

    private static double middle(List<Double> xs) {
      double[] v = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
  }
}
