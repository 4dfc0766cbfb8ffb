package dev.loraone.cli;

import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobKeys;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.runtime.LocalJob;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code loraone finetune}: a job run in this process, without actors ({@link LocalJob}): the
 * reference the cluster reproduces bit for bit. The job is a job file ({@code --job}), the
 * defaults, or either with shorthand flags and {@code --set key=value} laid over it: every flag
 * below is a job key (the table {@link #SHORTHANDS}), so a problem names the key and the flag.
 */
@Command(
    name = "finetune",
    mixinStandardHelpOptions = true,
    description =
        "Fine-tune in one process (gradient estimate, init, training, evaluation, export) for any task and model"
            + " family: a job file and/or shorthand flags for its keys.")
final class FinetuneCommand implements Callable<Integer> {
  /** Shorthand flag -> job key. */
  static final Map<String, String> SHORTHANDS = new LinkedHashMap<>();

  static {
    String[][] table = {
      {"--model", "model"},
      {"--task-type", "task.type"},
      {"--task", "task.train"},
      {"--eval-file", "task.eval"},
      {"--init", "init.method"},
      {"--optimizer", "optimizer.name"},
      {"--rank", "lora.rank"},
      {"--alpha", "lora.alpha"},
      {"--rslora", "lora.rslora"},
      {"--targets", "lora.targets"},
      {"--dropout", "lora.dropout"},
      {"--lr", "optimizer.lr"},
      {"--lora-plus-ratio", "optimizer.lora-plus-ratio"},
      {"--weight-decay", "optimizer.weight-decay"},
      {"--lambda", "optimizer.lambda"},
      {"--schedule", "optimizer.schedule"},
      {"--warmup", "optimizer.warmup"},
      {"--max-grad-norm", "optimizer.max-grad-norm"},
      {"--steps", "train.steps"},
      {"--batch", "train.batch"},
      {"--micro-batch", "train.micro-batch"},
      {"--max-length", "train.max-length"},
      {"--init-batch", "init.batch"},
      {"--init-iters", "init.iters"},
      {"--init-shards", "init.shards"},
      {"--init-mode", "init.mode"},
      {"--q-factor", "init.q-factor"},
      {"--niter", "init.niter"},
      {"--gamma", "init.gamma"},
      {"--head-warmup", "head.warmup-steps"},
      {"--head-warmup-lr", "head.warmup-lr"},
      {"--head-init", "head.init"},
      {"--head-temperature", "head.temperature"},
      {"--max-per-class", "data.max-per-class"},
      {"--on-bad-record", "data.on-bad-record"},
      {"--eval-examples", "eval.examples"},
      {"--eval-every", "eval.every"},
      {"--seed", "seed"},
      {"--name", "name"},
      {"--onnx", "export.onnx"}
    };
    for (String[] row : table) SHORTHANDS.put(row[0], row[1]);
  }

  @Option(
      names = "--job",
      description = "job file (HOCON or JSON; conf/jobs/); flags below override its keys")
  Path job;

  @Option(
      names = "--set",
      paramLabel = "KEY=VALUE",
      description = "set any job key, e.g. --set lora.rank=16 (repeatable)")
  List<String> set = new ArrayList<>();

  @Option(
      names = "--model",
      description = "job key model: minilm | bge-small | HF folder (BERT or Llama family)")
  String model;

  @Option(names = "--task-type", description = "job key task.type: auto | classification | causal-lm | embedding")
  String taskType;
  @Option(names = "--task", description = "job key task.train: wordnet-supersense | wordnet-supersense-all |"
      + " wordnet-gloss-retrieval | data FILE (JSONL/CSV/TSV of text,label; prompt,completion for a Llama-family model;"
      + " query,positive[,negative] for embedding)") String task;

  @Option(
      names = "--eval-file",
      description = "job key task.eval: evaluation FILE (default: a stable tenth of the task FILE)")
  String evalFile;

  @Option(
      names = "--init",
      description = "job key init.method: lora-one | lora | gaussian | pissa | lora-ga")
  String init;

  @Option(
      names = "--optimizer",
      description = "job key optimizer.name: adamw | scaled-adamw | scaled-gd")
  String optimizer;

  @Option(names = "--rank", description = "job key lora.rank: LoRA rank r") Integer rank;
  @Option(names = "--alpha", description = "job key lora.alpha: LoRA alpha") Double alpha;
  @Option(names = "--rslora", negatable = true, description = "job key lora.rslora: scale alpha/sqrt(r) (default: on)")
  Boolean rslora;

  @Option(
      names = "--targets",
      description = "job key lora.targets: e.g. query,value | q_proj,v_proj | all-linear | none")
  String targets;

  @Option(names = "--dropout", description = "job key lora.dropout: adapter dropout") Double dropout;
  @Option(names = "--lr", description = "job key optimizer.lr: learning rate") Double lr;

  @Option(
      names = "--lora-plus-ratio",
      description = "job key optimizer.lora-plus-ratio: lr_B / lr_A")
  Double loraPlusRatio;

  @Option(names = "--weight-decay", description = "job key optimizer.weight-decay") Double weightDecay;
  @Option(names = "--lambda", description = "job key optimizer.lambda: Scaled AdamW ridge") Double lambda;
  @Option(names = "--schedule", description = "job key optimizer.schedule: constant | linear | cosine") String schedule;

  @Option(
      names = "--warmup",
      description = "job key optimizer.warmup: warmup steps, capped at the steps")
  Integer warmup;

  @Option(
      names = "--max-grad-norm",
      description = "job key optimizer.max-grad-norm: global-norm clipping")
  Double maxGradNorm;

  @Option(names = "--steps", description = "job key train.steps: optimizer steps") Integer steps;
  @Option(names = "--batch", description = "job key train.batch: examples per step") Integer batch;

  @Option(
      names = "--micro-batch",
      description = "job key train.micro-batch: examples per micro-batch")
  Integer microBatch;

  @Option(names = "--max-length", description = "job key train.max-length: tokens per example") Integer maxLength;

  @Option(
      names = "--init-batch",
      description = "job key init.batch: gradient estimate, examples per batch")
  Integer initBatch;

  @Option(names = "--init-iters", description = "job key init.iters: gradient estimate, batches") Integer initIters;
  @Option(names = "--init-shards", description = "job key init.shards: canonical init shards, dividing init.iters")
  Integer initShards;

  @Option(
      names = "--init-mode",
      description = "job key init.mode: randomized (lora-one) | exact (lora-ga always)")
  String initMode;

  @Option(
      names = "--q-factor",
      description = "job key init.q-factor: randomized SVD, q = q-factor * rank")
  Integer qFactor;

  @Option(names = "--niter", description = "job key init.niter: randomized SVD power iterations") Integer niter;
  @Option(names = "--gamma", description = "job key init.gamma: stable_gamma, 0 = the method's default") Double gamma;
  @Option(names = "--head-warmup", description = "job key head.warmup-steps: head-only steps before the init")
  Integer headWarmup;
  @Option(names = "--head-warmup-lr", description = "job key head.warmup-lr: 0 = the run's lr") Double headWarmupLr;
  @Option(names = "--head-init", description = "job key head.init: labels (zero-shot head from the label texts) |"
      + " random | warmup") String headInit;
  @Option(names = "--head-temperature", description = "job key head.temperature: labels head logits ~ T x cosine")
  Double headTemperature;
  @Option(names = "--max-per-class", description = "job key data.max-per-class: WordNet examples per class and split")
  Integer maxPerClass;
  @Option(names = "--on-bad-record", description = "job key data.on-bad-record: fail | skip") String onBadRecord;
  @Option(names = "--eval-examples", description = "job key eval.examples: evaluation examples") Integer evalExamples;
  @Option(names = "--eval-every", description = "job key eval.every: evaluate every N steps, 0 = at the end")
  Integer evalEvery;
  @Option(names = "--seed", description = "job key seed") Long seed;
  @Option(names = "--name", description = "job key name: names the default output folder") String name;

  @Option(
      names = "--onnx",
      negatable = true,
      description = "job key export.onnx: also export the merged model (default: on)")
  Boolean onnx;

  @Option(names = "--out", description = "output folder (default: out/finetune-<job name>)") Path out;
  @Option(names = "--json", description = "print each event as one JSON line and end with a JSON summary") boolean json;

  @Override
  public Integer call() {
    JobSpec spec = spec();
    Path dir = out != null ? out : Path.of("out", "finetune-" + spec.getString("name"));
    JobEvent end = LocalJob.run(spec, dir, json ? JobOutput.json(System.out) : JobOutput.human(spec.getString("name"),
        System.err)).end();
    return JobOutput.end(end, json);
  }

  /** The job: the file or defaults with every given shorthand and {@code --set} laid over it. */
  JobSpec spec() {
    StringBuilder lines = new StringBuilder();
    Object[] values = {
      model,
      taskType,
      task,
      evalFile,
      init,
      optimizer,
      rank,
      alpha,
      rslora,
      targets,
      dropout,
      lr,
      loraPlusRatio,
      weightDecay,
      lambda,
      schedule,
      warmup,
      maxGradNorm,
      steps,
      batch,
      microBatch,
      maxLength,
      initBatch,
      initIters,
      initShards,
      initMode,
      qFactor,
      niter,
      gamma,
      headWarmup,
      headWarmupLr,
      headInit,
      headTemperature,
      maxPerClass,
      onBadRecord,
      evalExamples,
      evalEvery,
      seed,
      name,
      onnx
    };
    List<String> keys = new ArrayList<>(SHORTHANDS.values());
    for (int i = 0; i < values.length; i++) {
      if (values[i] != null) {
        lines.append("job.").append(keys.get(i)).append(" = ")
            .append(ConfigValueFactory.fromAnyRef(values[i]).render(ConfigRenderOptions.concise())).append('\n');
      }
    }
    for (String s : set) {
      int eq = s.indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("--set " + s + ": expected KEY=VALUE, e.g. --set lora.rank=16");
      String key = s.substring(0, eq).trim().replaceFirst("^job\\.", "");
      if (!JobKeys.known(key)) {
        throw new IllegalArgumentException("--set " + s + ": no job key '" + key + "'" + JobKeys.suggest(key));
      }
      lines.append("job.").append(key).append(" = ").append(s.substring(eq + 1).trim()).append('\n');
    }
    return JobSpec.parseFile(job, lines.toString(), "command-line flags");
  }
}
