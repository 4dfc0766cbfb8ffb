package dev.loraone.protocol.job;

import dev.loraone.protocol.wire.JobId;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a running job reports, whoever runs it: the coordinator actor of a cluster job and the
 * single-process local run speak this one vocabulary, and one renderer prints it for every command.
 * Local only (the listener lives on the node that runs the job), hence not a wire message. A job
 * ends with exactly one {@link Finished} or {@link Failed}.
 */
public sealed interface JobEvent {
  JobId job();

  /** The job entered {@code phase}; {@code detail} says why or with what, for humans. */
  record PhaseChanged(JobId job, Phase phase, String detail) implements JobEvent {}

  /** The workers serving the job changed (a join, a leave, a rejected layout). */
  record WorkersChanged(JobId job, List<String> workers, String detail) implements JobEvent {}

  /**
   * Optimizer step {@code step} of {@code steps} was applied.
   *
   * @param loss mean training loss over the step's micro-batches (per micro-batch mean for classification, per
   *     completion token for causal LM)
   * @param metrics the task's training metrics over them ({@code accuracy}; {@code perplexity, tokens})
   * @param lr the learning rate of the A factors at this step
   * @param gradNorm the global gradient norm before clipping
   * @param seconds wall time from the step's first work order to its update
   */
  record StepDone(JobId job, int step, int steps, double loss, Map<String, Double> metrics, double lr, double gradNorm,
      double seconds) implements JobEvent {
    public StepDone {
      metrics = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(metrics));
    }

    /** Training accuracy, NaN when the task has none. */
    public double accuracy() {
      return metrics.getOrDefault("accuracy", Double.NaN);
    }
  }

  /**
   * Tensor bytes the coordinator sent to and received from workers since it started (adapter
   * versions, sketch operands; gradients, sketch products, layouts), reported after each step.
   */
  record Traffic(JobId job, int step, long bytesSent, long bytesReceived) implements JobEvent {}

  /**
   * Evaluation after {@code step} over {@code examples} examples: mean loss (per example, or per completion token) and
   * the task's metrics ({@code accuracy}; {@code perplexity, tokens}).
   */
  record Evaluated(JobId job, int step, double loss, Map<String, Double> metrics, int examples) implements JobEvent {
    public Evaluated {
      metrics = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(metrics));
    }

    /** Accuracy, NaN when the task has none. */
    public double accuracy() {
      return metrics.getOrDefault("accuracy", Double.NaN);
    }
  }

  /** Masters and optimizer state after {@code step} are on disk ({@code file}: the checkpoint's JSON). */
  record Checkpointed(JobId job, int step, Path file) implements JobEvent {}

  /**
   * The job is done.
   *
   * @param adapterDir the PEFT adapter folder ({@code adapter_model.safetensors}, {@code
   *     adapter_config.json}, {@code labels.json})
   * @param adapterSha256 hex SHA-256 of {@code adapter_model.safetensors}: equal for equal jobs,
   *     whatever the workers did
   * @param finalEval the evaluation after the last step
   * @param exported what the exporting worker wrote (file name to SHA-256)
   */
  record Finished(
      JobId job,
      Path adapterDir,
      String adapterSha256,
      Evaluated finalEval,
      Map<String, String> exported)
      implements JobEvent {}

  /** The job stopped; the last checkpoint (if any) is kept, so a new coordinator can resume it. */
  record Failed(JobId job, String reason) implements JobEvent {}
}
