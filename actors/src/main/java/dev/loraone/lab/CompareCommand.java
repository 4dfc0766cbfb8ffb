package dev.loraone.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.loraone.lab.ComparePlan.PlannedRun;
import dev.loraone.lab.CompareResults.Method;
import dev.loraone.lab.CompareResults.Report;
import dev.loraone.lab.CompareResults.Run;
import dev.loraone.lab.CompareResults.SubspaceRow;
import dev.loraone.protocol.job.JobKeys;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.worker.train.FinetuneConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code loraone compare}: LoRA-One against its baselines on any job (a job file, or the built-in
 * WordNet supersense job), several seeds each, every run through the engine: one after another in
 * this process ({@link CompareRunner#local}), or as jobs of a running service spread over its workers
 * ({@code --server}, {@link CompareService}). Writes {@code compare.md} (tables), {@code compare.png}
 * (mean curves) and {@code compare.json} (every raw curve) into {@code --out}, rewritten after every
 * run so an interrupted study keeps what finished.
 *
 * <p>A method differs from another only in the job keys of {@link ComparePlan}; a seed fixes the data
 * order, random inits and dropout, so methods at one seed see the same data. The statistics
 * ({@link CompareResults}) pair each method with default LoRA seed by seed, count the seeds it wins,
 * and measure the paper's speed claim: the eval step at which it reaches default LoRA's final eval loss.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
    description = {
      "Compare LoRA-One (+ AdamW, + Scaled AdamW) with default LoRA, PiSSA,",
      "LoRA-GA and head-only training on a job (default: MiniLM on WordNet",
      "supersense, 120 steps) over several seeds, in this process or as jobs",
      "of a service (--server). Reports per method the mean and spread, the",
      "paired-by-seed differences against default LoRA, the seeds it wins,",
      "and the steps it needs to reach default LoRA's final eval loss.",
      "Writes compare.md, compare.png and compare.json into --out.",
      "Exit code 0 when every run finished, 1 when one failed, 2 for bad input."})
public final class CompareCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--job", paramLabel = "FILE",
      description = "the job every run starts from (HOCON or JSON, conf/jobs/); default: the built-in WordNet"
          + " supersense job (MiniLM, 120 steps, every validation example)")
  Path job;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "set a job key of every run, e.g. --set train.steps=60 (repeatable)")
  List<String> set = new ArrayList<>();

  @Option(names = "--methods", split = ",", paramLabel = "KEY",
      description = "methods to run, from: lora, lora-one, lora-one-scaled, pissa, lora-ga, head-only"
          + " (default: all; head-only only for classification)")
  List<String> methods;

  @Option(names = "--seeds", split = ",", paramLabel = "N", description = "seeds of every method (default: 0,1,2)")
  List<Long> seeds = List.of(0L, 1L, 2L);

  @Option(names = "--eval-every", paramLabel = "N",
      description = "evaluate every N steps (default: the job's when it gives >= " + ComparePlan.EVAL_POINTS
          + " evaluations, else steps / " + ComparePlan.EVAL_POINTS + ")")
  Integer evalEvery;

  @Option(names = "--server", paramLabel = "URL",
      description = "run every job on this loraone service (each run its own job, queued and spread over its"
          + " workers) instead of in this process")
  String server;

  @Option(names = "--token", description = "the service's bearer token (default: $LORAONE_TOKEN)")
  String token;

  @Option(names = "--trust-store", paramLabel = "FILE",
      description = "an https --server: PKCS12 store of the certificates to trust (default: $LORAONE_TRUST_STORE,"
          + " else the JVM's default trust)")
  Path trustStore;

  @Option(names = "--poll-seconds", description = "how often the service's jobs are polled (default: ${DEFAULT-VALUE})")
  double pollSeconds = 2;

  @Option(names = "--runs-dir", paramLabel = "DIR",
      description = "local runs: each run's adapter goes to DIR/<job name> (default: out/compare/<job name>)")
  Path runsDir;

  @Option(names = "--subspace-sizes", split = ",", paramLabel = "N",
      description = "classification: also measure how much LoRA-One inits from two disjoint gradient batches of N"
          + " examples agree (in this process; default: none)")
  List<Integer> subspaceSizes = List.of();

  @Option(names = "--out", description = "output folder (default: ${DEFAULT-VALUE})")
  Path out = Path.of("docs", "results");

  @Option(names = "--name", description = "file name stem (default: ${DEFAULT-VALUE})")
  String name = "compare";

  /** What {@link #plan} decided: the base job, methods, eval cadence and every run, all validated. */
  record Plan(JobSpec base, List<Method> methods, int evalEvery, String taskType, List<PlannedRun> runs) {}

  private Path trustStore() {
    String env = System.getenv("LORAONE_TRUST_STORE");
    return trustStore != null ? trustStore : env == null || env.isBlank() ? null : Path.of(env);
  }

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    Consumer<String> log = s -> {
      err.println(s);
      err.flush();
    };
    Plan plan = plan(log);
    Files.createDirectories(out);
    long start = System.nanoTime();
    CompareRunner runner = server != null
        ? new CompareService(server, token != null ? token : System.getenv("LORAONE_TOKEN"), trustStore(),
            Duration.ofMillis(Math.round(pollSeconds * 1000)), log)
        : CompareRunner.local(runsDir != null ? runsDir : Path.of("out", "compare", plan.base().getString("name")),
            log);
    log.accept("compare: " + plan.runs().size() + " runs (" + plan.methods().size() + " methods x " + seeds.size()
        + (seeds.size() == 1 ? " seed), " : " seeds), ") + (server != null ? "on " + server : "in this process")
        + ", eval every " + plan.evalEvery()
        + " steps");
    List<Run> runs = new ArrayList<>();
    List<SubspaceRow> subspaces = new ArrayList<>();
    runner.run(plan.runs(), r -> {
      runs.add(r);
      write(plan, runs, subspaces, start);
    });
    if (!subspaceSizes.isEmpty()) {
      PlannedRun one = ComparePlan.runs(plan.base(), List.of(ComparePlan.method("lora-one")), seeds.subList(0, 1),
          plan.evalEvery()).get(0);
      subspaces.addAll(CompareSubspaces.run(FinetuneConfig.fromJob(one.spec()),
          subspaceSizes.stream().mapToInt(Integer::intValue).toArray(), log));
    }
    Report report = write(plan, runs, subspaces, start);
    PrintWriter o = spec.commandLine().getOut();
    CompareTable.printSummary(report, o);
    o.printf("wrote %s, %s, %s (%.1f min)%n", file(".md"), file(".png"), file(".json"), report.totalSeconds() / 60);
    o.flush();
    return runs.stream().allMatch(Run::ok) ? 0 : 1;
  }

  /** Parses and validates every option and every run's job (an IllegalArgumentException naming it) before any run. */
  Plan plan(Consumer<String> log) {
    if (seeds.isEmpty() || seeds.stream().anyMatch(s -> s < 0)) {
      throw new IllegalArgumentException("--seeds: expected seeds >= 0, got " + seeds);
    }
    if (seeds.stream().distinct().count() < seeds.size()) {
      throw new IllegalArgumentException("--seeds: repeated seed " + seeds);
    }
    if (!name.matches("[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException("--name '" + name + "': use letters, digits, . _ -");
    }
    if (subspaceSizes.stream().anyMatch(n -> n < 1)) {
      throw new IllegalArgumentException("--subspace-sizes: expected sizes >= 1, got " + subspaceSizes);
    }
    if (!(pollSeconds > 0)) throw new IllegalArgumentException("--poll-seconds must be > 0, got " + pollSeconds);
    JobSpec base = baseJob();
    String taskType = taskType(base);
    List<Method> chosen = new ArrayList<>();
    for (String key : methods != null ? methods : ComparePlan.CATALOGUE.stream().map(Method::key).toList()) {
      Method m = ComparePlan.method(key.trim());
      if (!chosen.contains(m)) chosen.add(m);
    }
    if (methods == null && taskType != null && !taskType.equals(TaskMetrics.CLASSIFICATION)) {
      chosen.removeIf(m -> m.key().equals("head-only"));
      log.accept("compare: head-only left out: a " + taskType + " job has no classification head");
    }
    ComparePlan.checkMethods(chosen, taskType);
    if (!subspaceSizes.isEmpty() && !TaskMetrics.CLASSIFICATION.equals(taskType)) {
      throw new IllegalArgumentException("--subspace-sizes: the init-agreement study needs a classification job on a"
          + " BERT model; this job trains " + (taskType == null ? "a model this machine cannot see" : taskType));
    }
    int every = ComparePlan.evalEvery(base, evalEvery);
    List<PlannedRun> runs = ComparePlan.runs(base, chosen, seeds, every);
    if (server == null) runs.forEach(r -> FinetuneConfig.fromJob(r.spec())); // what LocalJob refuses, refused now
    return new Plan(base, List.copyOf(chosen), every, taskType, runs);
  }

  /** The job file or the built-in job, with every {@code --set} laid over it. */
  private JobSpec baseJob() {
    StringBuilder lines = new StringBuilder();
    for (String s : set) {
      int eq = s.indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("--set " + s + ": expected KEY=VALUE, e.g. --set train.steps=60");
      String key = s.substring(0, eq).trim().replaceFirst("^job\\.", "");
      if (!JobKeys.known(key)) {
        throw new IllegalArgumentException("--set " + s + ": no job key '" + key + "'" + JobKeys.suggest(key));
      }
      lines.append("job.").append(key).append(" = ").append(s.substring(eq + 1).trim()).append('\n');
    }
    return job != null ? JobSpec.parseFile(job, lines.toString(), "--set")
        : JobSpec.parseString(ComparePlan.BUILT_IN + lines, "the built-in compare job"
            + (set.isEmpty() ? "" : " with --set"));
  }

  /** The task the job trains, or null when the model is not visible here (a folder only the service sees). */
  private String taskType(JobSpec base) {
    try {
      return FinetuneConfig.fromJob(base).resolvedTaskType();
    } catch (IllegalArgumentException e) {
      if (server == null) throw e;
      String t = base.getString("task.type");
      return t.equals("auto") ? null : t;
    }
  }

  private Report write(Plan plan, List<Run> runs, List<SubspaceRow> subspaces, long start) {
    Report report = CompareResults.report(settings(plan, runs), plan.methods(), runs, subspaces,
        (System.nanoTime() - start) / 1e9);
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("settings", report.settings());
    doc.put("job", plan.base().render());
    doc.put("headline", report.headline());
    doc.put("methods", report.methods());
    doc.put("summaries", report.summaries());
    doc.put("paired", report.paired());
    doc.put("pairedLoss", report.pairedLoss());
    doc.put("speed", report.speed());
    doc.put("subspaces", report.subspaces());
    doc.put("runs", report.runs());
    doc.put("totalSeconds", report.totalSeconds());
    try {
      String json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(doc);
      Files.writeString(file(".json"), json + "\n");
      Files.writeString(file(".md"), CompareTable.markdown(report, name));
      if (!report.summaries().isEmpty()) CompareChart.write(report, file(".png"));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return report;
  }

  /** The job keys the tables quote, the eval cadence, seeds and where the runs ran. */
  private Map<String, Object> settings(Plan plan, List<Run> runs) {
    Map<String, Object> s = new LinkedHashMap<>();
    List<String> args = spec.commandLine().getParseResult().originalArgs();
    s.put("command", "loraone " + (args.isEmpty() || !args.get(0).equals("compare") ? "compare " : "")
        + String.join(" ", args));
    s.put("job", job != null ? job.toString() : "built-in (MiniLM on WordNet supersense)");
    s.put("runner", server != null ? "service " + server : "this process");
    JobSpec b = plan.base();
    for (String k : List.of("model", "task.train", "task.type", "train.steps", "train.batch", "train.micro-batch",
        "optimizer.lr", "optimizer.schedule", "optimizer.warmup", "optimizer.max-grad-norm", "lora.rank", "lora.alpha",
        "lora.rslora", "lora.targets", "lora.dropout", "init.batch", "init.iters", "init.mode", "head.warmup-steps")) {
      s.put(k, switch (k) {
        case "optimizer.lr", "optimizer.max-grad-norm", "lora.alpha", "lora.dropout" -> b.getDouble(k);
        case "lora.rslora" -> b.getBoolean(k);
        case "train.steps", "train.batch", "train.micro-batch", "optimizer.warmup", "lora.rank", "init.batch",
            "init.iters", "head.warmup-steps" -> b.getInt(k);
        default -> b.getString(k);
      });
    }
    if (plan.taskType() != null) s.put("task.type", plan.taskType());
    s.put("evalEvery", plan.evalEvery());
    s.put("evalExamples", runs.stream().filter(Run::ok).findFirst().map(r -> (Object) r.evalExamples())
        .orElse(b.getInt("eval.examples")));
    s.put("seeds", seeds);
    return s;
  }

  private Path file(String ext) {
    return out.resolve(name + ext);
  }
}
