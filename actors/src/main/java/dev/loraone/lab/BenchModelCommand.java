package dev.loraone.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraone.bench.CheckpointingBenchmark;
import dev.loraone.bench.GenerationBenchmark;
import dev.loraone.bench.InferenceLatency;
import dev.loraone.bench.MemoryFlatness;
import dev.loraone.bench.ModelBenchmark;
import dev.loraone.bench.RandomLlama;
import dev.loraone.bench.ShardedRandomLlama;
import dev.loraone.worker.runtime.CpuPolicy;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loraone bench model}: one model's step time, memory and inference, side by side from one run. */
@Command(
    name = "model",
    description =
        "MiniLM LoRA and full-gradient step time, GFLOP/s vs the matmul peak, DJL vs ONNX Runtime inference, RSS "
            + "and native-memory flatness.")
final class BenchModelCommand implements Runnable {
  @Option(
      names = "--steps",
      defaultValue = "5",
      description =
          "Timed training steps per mode; the median is reported. Default: ${DEFAULT-VALUE}.")
  int steps;

  @Option(
      names = "--warmup",
      defaultValue = "2",
      description = "Untimed steps before them. Default: ${DEFAULT-VALUE}.")
  int warmup;

  @Option(names = "--batch", description = "Batch size B. Default: 16; 1 with --model or --shape (a micro-batch).")
  Integer batch;

  @Option(
      names = "--seq",
      defaultValue = "128",
      description = "Sequence length L (synthetic ids, no padding). Default: ${DEFAULT-VALUE}.")
  int seq;

  @Option(
      names = "--rank",
      description = "LoRA rank r on every Linear (alpha = 2r, rsLoRA). Default: 8; 16 with --model or --shape.")
  Integer rank;

  @Option(
      names = "--repeat",
      defaultValue = "10",
      description = "Timed inference runs per engine and batch size. Default: ${DEFAULT-VALUE}.")
  int repeat;

  @Option(
      names = "--matmul-sizes",
      split = ",",
      defaultValue = "1024,1536,2048",
      description =
          "n of the square float32 matmuls that measure the peak. Default: ${DEFAULT-VALUE}.")
  int[] matmulSizes;

  @Option(
      names = "--memory-steps",
      defaultValue = "1000",
      description =
          "LoRA steps of the small model for the flatness check. Default: ${DEFAULT-VALUE}.")
  int memorySteps;

  @Option(names = "--skip-memory", description = "Skip the native-memory flatness check.") boolean skipMemory;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description =
          "libtorch and ONNX Runtime intra-op threads; 0 keeps libtorch's default. Default: ${DEFAULT-VALUE}.")
  int threads;

  @Option(names = "--seed", defaultValue = "7",

      description = "seed of the synthetic inputs (default: ${DEFAULT-VALUE})") long seed;
  @Option(names = "--json", description = "Print one JSON document.") boolean json;

  @Option(names = "--model", paramLabel = "DIR", description = "A Llama-family HF folder: instead of MiniLM, its"
      + " LoRA step with train.activation-checkpointing off and on (tokens/s, %% of the matmul peak, peak RSS),"
      + " each in a child JVM.") String llamaModel;

  @Option(names = "--plain-only", description = "With --model or --shape: only the step without activation"
      + " checkpointing.") boolean plainOnly;

  @Option(names = "--cpu", paramLabel = "POLICY", defaultValue = "both", description = "With --model or --shape: run"
      + " the steps under the shared or dedicated CPU policy (LORAONE_CPU: how libtorch's threads wait, glibc's"
      + " buffer reuse), or both side by side, each in its own child JVM. Default: ${DEFAULT-VALUE}.")
  String cpu;

  @Option(names = "--profile", paramLabel = "FILE", description = "With --model or --shape: after the timed plain"
      + " steps, profile one more with libtorch's profiler and write its Chrome trace (JSON) to FILE.")
  java.nio.file.Path profile;

  @Option(names = "--shape", paramLabel = "NAME", description = "As --model, a random Llama of a named shape:"
      + " smollm2-135m or smol-like.") String llamaShape;

  @Option(names = "--generate", description = "With --model or --shape: greedy generation tokens/s, DJL vs ONNX"
      + " Runtime on the merged export, both with the KV cache (--repeat runs each), instead of the step.")
  boolean generate;

  @Option(names = "--prompt-tokens", defaultValue = "32", description = "With --generate: prompt length."
      + " Default: ${DEFAULT-VALUE}.") int promptTokens;

  @Option(names = "--new-tokens", defaultValue = "32", description = "With --generate: tokens generated per run."
      + " Default: ${DEFAULT-VALUE}.") int newTokens;

  @Option(names = "--out", defaultValue = "out/bench-generate", description = "With --generate: work folder (the"
      + " random checkpoint, the export). Default: ${DEFAULT-VALUE}.") java.nio.file.Path out;

  @Option(names = "--write", paramLabel = "DIR", description = "With --shape: write the random checkpoint into DIR"
      + " as sharded bf16 safetensors (index, config.json, tokenizer.json) with a train.jsonl whose rows fill"
      + " --seq tokens, and exit: a folder to fine-tune as a user's checkpoint.") java.nio.file.Path write;

  @Option(names = "--shards", defaultValue = "2", description = "With --write: number of safetensors files."
      + " Default: ${DEFAULT-VALUE}.") int shards;

  @Override
  public void run() {
    if (write != null) {
      writeCheckpoint();
      return;
    }
    if (generate) {
      runGeneration();
      return;
    }
    if (llamaModel != null || llamaShape != null) {
      runLlama();
      return;
    }
    ModelBenchmark.Settings settings =
        new ModelBenchmark.Settings(
            batch == null ? 16 : batch, seq, rank == null ? 8 : rank, steps, warmup, repeat, matmulSizes, 5, threads,
            seed);
    MemoryFlatness.Config memory = skipMemory ? null : MemoryFlatness.Config.small(memorySteps);
    ModelBenchmark.Report r;
    try {
      r = ModelBenchmark.run(ModelBenchmark.Subject::miniLm, settings, memory, System.err);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (ai.onnxruntime.OrtException e) {
      throw new IllegalStateException(e);
    }
    if (json) {
      try {
        System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
      return;
    }
    print(r);
  }

  private void writeCheckpoint() {
    if (llamaShape == null) throw new IllegalArgumentException("--write needs --shape (smollm2-135m, llama3.2-1b)");
    RandomLlama.Shape shape = RandomLlama.Shape.named(llamaShape);
    int promptWords = seq - RandomLlama.longestRow(0);
    if (promptWords < 8) throw new IllegalArgumentException("--seq " + seq + ": need at least 18 tokens per row");
    try {
      ShardedRandomLlama.write(write, shape, shards, seed);
      RandomLlama.writeTask(write.resolve("train.jsonl"), shape, 16, promptWords, seed);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    System.out.printf("wrote random %s (%,d parameters) as %d bf16 shards and train.jsonl (rows up to %d tokens)"
        + " into %s%n", llamaShape, shape.parameters(), shards, RandomLlama.longestRow(promptWords), write);
  }

  private void runGeneration() {
    GenerationBenchmark.Settings s = new GenerationBenchmark.Settings(llamaModel, llamaShape, promptTokens,
        newTokens, repeat, threads, seed);
    try {
      GenerationBenchmark.Report r = GenerationBenchmark.run(s, out, System.err);
      System.out.print(json ? new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r)
          + System.lineSeparator() : r.render());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (ai.onnxruntime.OrtException e) {
      throw new IllegalStateException(e);
    }
  }

  private java.util.List<CpuPolicy> cpuPolicies() {
    if (cpu.trim().equalsIgnoreCase("both")) return java.util.List.of(CpuPolicy.SHARED, CpuPolicy.DEDICATED);
    try {
      return java.util.List.of(CpuPolicy.parse(cpu));
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
          "--cpu '" + cpu + "': expected shared, dedicated or both");
    }
  }

  private void runLlama() {
    CheckpointingBenchmark.Settings s = new CheckpointingBenchmark.Settings(llamaModel,
        llamaShape == null ? "-" : llamaShape, batch == null ? 1 : batch, seq, rank == null ? 16 : rank, steps, warmup,
        matmulSizes, 5, seed, plainOnly, profile == null ? null : profile.toAbsolutePath().toString(), cpuPolicies());
    try {
      CheckpointingBenchmark.Report r = CheckpointingBenchmark.run(s, System.err);
      System.out.print(json ? new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(r)
          + System.lineSeparator() : r.render());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static void print(ModelBenchmark.Report r) {
    System.out.printf("%s, classification head (%d classes), B = %d, L = %d, LoRA r = %d on all %d Linears; %s%n",
        r.model(), r.numLabels(), r.batch(), r.seq(), r.rank(), r.adaptedModules(), r.input());
    System.out.printf(
        "%d CPUs, libtorch intra-op threads %d, ONNX Runtime intra-op threads %d%n%n",
        r.cpus(), r.torchThreads(), r.export().ortThreads());
    System.out.print("float32 matmul (DJL/libtorch), median/best GFLOP/s:");
    for (int i = 0; i < r.matmul().sizes().size(); i++) {
      System.out.printf(
          "  n=%d %.1f/%.1f",
          r.matmul().sizes().get(i),
          r.matmul().medianGflopPerSecond().get(i),
          r.matmul().bestGflopPerSecond().get(i));
    }
    System.out.printf(
        "%n  -> peak %.1f (best %.1f) GFLOP/s; median peak before the steps %.1f, after %.1f%n",
        r.matmul().peakGflopPerSecond(),
        r.matmul().bestPeakGflopPerSecond(),
        r.peakBeforeGflopPerSecond(),
        r.peakAfterGflopPerSecond());
    System.out.printf("forward GFLOP: linear %.2f + attention %.2f + adapters %.2f + head %.4f = %.2f%n%n",
        r.flops().linearForward() / 1e9, r.flops().attentionForward() / 1e9, r.flops().adapterForward() / 1e9,
        r.flops().headForward() / 1e9, r.flops().forward() / 1e9);
    System.out.printf(
        "%-14s %6s %9s %8s %6s %-11s %7s %8s %8s %9s %8s%n",
        "training step",
        "steps",
        "median s",
        "min s",
        "ex/s",
        "FLOP count",
        "GFLOP",
        "GFLOP/s",
        "of peak",
        "best GF/s",
        "of best");
    for (ModelBenchmark.Step s : java.util.List.of(r.lora(), r.full())) {
      boolean first = true;
      for (ModelBenchmark.Rate rate : s.rates()) {
        if (first) {
          System.out.printf(
              "%-14s %6d %9.3f %8.3f %6.2f ",
              s.mode(), s.steps(), s.medianSeconds(), s.minSeconds(), s.examplesPerSecond());
        } else {
          System.out.printf("%-14s %6s %9s %8s %6s ", "", "", "", "", "");
        }
        System.out.printf(
            "%-11s %7.1f %8.1f %7.1f%% %9.1f %7.1f%%%n",
            rate.convention(),
            rate.gflop(),
            rate.gflopPerSecond(),
            100 * rate.ofPeak(),
            rate.bestGflopPerSecond(),
            100 * rate.bestOfPeak());
        first = false;
      }
    }
    System.out.println();
    System.out.printf("%-19s %6s %5s %11s %10s %10s%n", "inference", "batch", "seq", "median ms", "min ms", "seq/s");
    for (InferenceLatency.Row i : r.inference()) {
      System.out.printf(
          "%-19s %6d %5d %11.1f %10.1f %10.1f%n",
          i.engine(), i.batch(), i.seq(), i.medianMs(), i.minMs(), i.sequencesPerSecond());
    }
    InferenceLatency.Export e = r.export();
    System.out.printf(
        "merged ONNX export %.1f MiB in %.2f s, session created in %.2f s; max |logits ORT - DJL| = %.2e%n%n",
        e.modelMiB(), e.exportSeconds(), e.sessionSeconds(), e.logitsMaxAbsDiff());
    System.out.printf("%-30s %10s %14s%n", "process memory after", "RSS MiB", "peak RSS MiB");
    for (ModelBenchmark.Stage s : r.memory()) {
      System.out.printf("%-30s %10.0f %14.0f%n", s.stage(), s.rssMiB(), s.peakRssMiB());
    }
    MemoryFlatness.Result f = r.flatness();
    if (f != null) {
      System.out.printf(
          "%nnative-memory flatness, %s, B = %d, L = %d (%.1f ms/step):%n",
          f.model(), f.batch(), f.seq(), f.msPerStep());
      System.out.printf("  %-26s %10s %10s %10s%n", "", "step " + f.firstSteps(), "step " + f.steps(), "growth");
      System.out.printf(
          "  %-26s %10.1f %10.1f %+10.1f MiB%n",
          "RSS", f.rssFirstMiB(), f.rssEndMiB(), f.rssGrowthMiB());
      System.out.printf(
          "  %-26s %10.1f %10.1f %+10.1f MiB%n",
          "resident outside Java heap",
          f.outsideHeapFirstMiB(),
          f.outsideHeapEndMiB(),
          f.outsideHeapGrowthMiB());
    }
    System.out.println();
    System.out.println(
        "3x forward: backward counted as 2x forward (dX and dW); lora-exact: frozen base weights need dX only (see "
            + "BertFlops)");
    System.out.println(
        "of peak: median step vs median matmul peak; of best: best step vs best matmul peak (less exposed to other "
            + "load)");
    System.out.println(
        "a LoRA step is forward + backward + adapter-gradient read-out (BertStepper.loraGradients); no optimizer "
            + "step");
  }
}
