package dev.loraone.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.JobSpec;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code loraone submit | status | cancel | logs}: clients of a running {@code loraone serve}. */
final class JobsCommands {
  private JobsCommands() {}

  @Command(
      name = "submit",
      description =
          "Submit a job file to a loraone service; follows it with a progress bar unless --detach.")
  static final class Submit implements Callable<Integer> {
    @Mixin ServiceClient client;
    @Parameters(paramLabel = "FILE", description = "job file (HOCON or JSON; see conf/jobs/)") Path file;
    @Option(names = "--detach", description = "print the job id and return at once") boolean detach;
    @Option(names = "--json", description = "print the job's events as JSON lines instead of progress") boolean json;
    @Option(names = "--no-upload", description = "send the job as written: its data file paths are read by the"
        + " service (under its --data-root) instead of uploaded as datasets") boolean noUpload;

    @Override
    public Integer call() throws Exception {
      if (!Files.isRegularFile(file)) throw new IllegalArgumentException("job file " + file + " does not exist");
      String text = Files.readString(file, StandardCharsets.UTF_8);
      String type = file.toString().endsWith(".json") ? "application/json" : "application/hocon";
      JobSpec spec = null;
      try {
        spec = noUpload ? null : JobSpec.parseFile(file);
      } catch (IllegalArgumentException e) {
        // an invalid job is sent as written: the service names its problems
      }
      if (spec != null) { // local data files go up first; the job then names them by hash
        Map<String, String> refs = new java.util.LinkedHashMap<>(DatasetUploads.upload(spec, client, System.err));
        ModelUpload.upload(spec, client, System.err).ifPresent(ref -> refs.put("model", ref));
        if (!refs.isEmpty()) {
          text = DatasetRefs.with(spec, refs).render();
          type = "application/hocon";
        }
      }
      JsonNode job;
      try {
        job = client.post("/jobs", text, type);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(file + ": " + e.getMessage().replace("request body", file.toString()));
      }
      String id = job.path("id").asText();
      System.out.println(id);
      System.out.flush();
      if (detach) return 0;
      return follow(client, id, json, System.err);
    }
  }

  /** A job's place: why it waits (queued), or the nodes it runs or ran on. */
  static String where(JsonNode j) {
    if (j.has("waiting")) return "waits: " + j.path("waiting").asText();
    if (!j.has("nodes")) return "";
    List<String> nodes = new java.util.ArrayList<>();
    j.path("nodes").forEach(x -> nodes.add(x.asText()));
    return "on " + (nodes.isEmpty() ? "no node now" : String.join(", ", nodes));
  }

  @Command(name = "status", description = "Show the service's jobs, or one job in detail.")
  static final class Status implements Callable<Integer> {
    @Mixin ServiceClient client;
    @Parameters(paramLabel = "ID", arity = "0..1", description = "a job id (default: every job)") String id;
    @Option(names = "--json", description = "print the server's JSON") boolean json;

    @Override
    public Integer call() {
      JsonNode n = client.get(id == null ? "/jobs" : "/jobs/" + id);
      if (json) {
        System.out.println(n.toPrettyString());
        return 0;
      }
      if (id == null) {
        System.out.printf("%-32s %-10s %-22s %9s %9s  %s%n", "id", "state", "phase", "step", "loss", "where / why");
        for (JsonNode j : n) {
          System.out.printf(
              "%-32s %-10s %-22s %9s %9s  %s%n",
              j.path("id").asText(),
              j.path("state").asText(),
              j.path("phase").asText(),
              j.path("step").asInt() + "/" + j.path("steps").asInt(),
              j.has("loss") ? String.format(Locale.ROOT, "%.4f", j.path("loss").asDouble()) : "-",
              where(j));
        }
        return 0;
      }
      System.out.println("job      " + n.path("id").asText() + " (" + n.path("name").asText() + ")");
      if (n.has("submittedBy")) System.out.println("by       " + n.path("submittedBy").asText());
      System.out.println(
          "state    "
              + n.path("state").asText()
              + ", phase "
              + n.path("phase").asText()
              + ", step "
              + n.path("step").asInt()
              + "/"
              + n.path("steps").asInt());
      if (!n.path("detail").asText().isEmpty()) System.out.println("detail   " + n.path("detail").asText());
      if (n.has("reason")) System.out.println("reason   " + n.path("reason").asText());
      if (n.has("waiting")) System.out.println("waiting  " + n.path("waiting").asText());
      if (n.has("nodes")) System.out.println("nodes    " + where(n));
      if (n.has("memory")) System.out.println("memory   " + n.path("memory").asText() + " per worker, priority "
          + n.path("priority").asInt());
      System.out.println("workers  " + n.path("workers"));
      JsonNode evals = n.path("evaluations");
      if (!evals.isEmpty()) {
        JsonNode e = evals.get(evals.size() - 1);
        System.out.printf(
            Locale.ROOT,
            "eval    %s, loss %.4f after step %d%n",
            JobOutput.metrics(e, false),
            e.path("loss").asDouble(),
            e.path("step").asInt());
      }
      if (n.has("adapterSha256")) System.out.println("adapter  sha256 " + n.path("adapterSha256").asText());
      n.path("artifacts")
          .fields()
          .forEachRemaining(
              a -> System.out.println("artifact " + a.getKey() + ": " + a.getValue().asText()));
      return 0;
    }
  }

  @Command(name = "cancel", description = "Cancel a queued or running job (its last checkpoint stays).")
  static final class Cancel implements Callable<Integer> {
    @Mixin ServiceClient client;
    @Parameters(paramLabel = "ID") String id;

    @Override
    public Integer call() {
      JsonNode n = client.post("/jobs/" + id + "/cancel", "", "text/plain");
      System.out.println(
          id
              + ": "
              + n.path("state").asText()
              + (n.path("cancelRequested").asBoolean() ? " (cancel requested)" : ""));
      return 0;
    }
  }

  @Command(name = "logs", description = "Print a job's events; --follow keeps printing until it ends.")
  static final class Logs implements Callable<Integer> {
    @Mixin ServiceClient client;
    @Parameters(paramLabel = "ID") String id;
    @Option(names = {"-f", "--follow"}, description = "keep printing live events until the job ends") boolean follow;
    @Option(names = "--json", description = "the events as JSON lines") boolean json;

    @Override
    public Integer call() {
      client.events(id, 0, follow, e -> {
        System.out.println(json ? e.toString() : JobOutput.line(e));
        return true;
      });
      return 0;
    }
  }

  /** Follows job {@code id} until it ends: a progress bar over its steps; returns 0 when it succeeded. */
  static int follow(ServiceClient client, String id, boolean json, PrintStream out) {
    java.util.function.Consumer<JsonNode> show = json ? System.out::println : JobOutput.humanJson(id, out);
    client.events(id, 0, true, e -> {
      show.accept(e);
      return true;
    });
    JsonNode job = client.get("/jobs/" + id);
    if (!json) {
      out.println(
          "["
              + id
              + "] "
              + job.path("state").asText()
              + (job.has("reason") ? ": " + job.path("reason").asText() : ""));
      if (job.has("adapterSha256")) System.out.println("adapter sha256 " + job.path("adapterSha256").asText());
    }
    return "SUCCEEDED".equals(job.path("state").asText()) ? 0 : 1;
  }
}
