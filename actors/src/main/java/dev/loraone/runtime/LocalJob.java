package dev.loraone.runtime;

import dev.loraone.protocol.io.PeftAdapter;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.Phase;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.worker.train.Artifacts;
import dev.loraone.worker.train.FinetuneConfig;
import dev.loraone.worker.train.LocalRun;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * A job file run in this process, without actors ({@code loraone finetune}): {@link LocalRun} over
 * the same engine the workers drive, then the same artefacts a cluster job leaves, reported in the
 * same events, so one renderer and one JSON summary serve every entry point.
 *
 * <pre>
 *   dir/adapter/   adapter_model.safetensors + adapter_config.json (+ labels.json for classifiers)
 *   dir/model/     merged model.onnx + tokenizer.json (+ config.json for causal LMs), when export.onnx
 * </pre>
 */
public final class LocalJob {
  private LocalJob() {}

  /** What {@link #run} leaves beside the end event: the finished run (null when it failed). */
  public record Outcome(JobEvent end, LocalRun.Result result) {}

  /** Runs {@code spec}; bad input and divergence end in {@link JobEvent.Failed} with the reason. */
  public static Outcome run(JobSpec spec, Path dir, Consumer<JobEvent> events) {
    JobId job = new JobId(spec.getString("name"));
    FinetuneConfig cfg;
    try {
      cfg = FinetuneConfig.fromJob(spec);
    } catch (IllegalArgumentException e) {
      return failed(job, e.getMessage(), events);
    }
    events.accept(
        new JobEvent.PhaseChanged(
            job, Phase.WAITING_FOR_WORKERS, "loading " + cfg.model() + " and " + cfg.task()));
    try (LocalRun run = LocalRun.open(cfg, job.value())) {
      LocalRun.Result r = run.run(events);
      Path adapterDir = dir.resolve("adapter");
      Artifacts.writeAdapter(r.adapter(), r.labels(), adapterDir);
      Map<String, String> exported = new TreeMap<>();
      if (spec.getBoolean("export.onnx")) {
        events.accept(new JobEvent.PhaseChanged(job, Phase.EXPORT, "merged model to ONNX in " + dir.resolve("model")));
        exported.putAll(run.engine().exportOnnx(dir.resolve("model"), run.engine().adapters(), r.labels()));
      }
      JobEvent end =
          new JobEvent.Finished(
              job,
              adapterDir,
              sha256(adapterDir.resolve(PeftAdapter.WEIGHTS_FILE)),
              r.finalEval(),
              exported);
      events.accept(end);
      return new Outcome(end, r);
    } catch (IllegalArgumentException | IllegalStateException e) { // bad input, or DivergedException
      return failed(job, e.getMessage(), events);
    } catch (IOException e) {
      return failed(job, e.toString(), events);
    }
  }

  private static Outcome failed(JobId job, String reason, Consumer<JobEvent> events) {
    JobEvent end = new JobEvent.Failed(job, reason);
    events.accept(end);
    return new Outcome(end, null);
  }

  /** Hex SHA-256 of a file. */
  public static String sha256(Path file) {
    try (InputStream in =
        new DigestInputStream(
            java.nio.file.Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      in.transferTo(java.io.OutputStream.nullOutputStream());
      return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
