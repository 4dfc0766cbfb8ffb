package dev.loraone.coordinator;

import dev.loraone.coordinator.state.Phase;
import dev.loraone.protocol.wire.JobId;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a {@link CoordinatorActor} reports about its job, for the runtime to print or stream. Local
 * only (the listener lives on the coordinator's node), hence not a wire message. A job ends with
 * exactly one {@link Finished} or {@link Failed}.
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
   * @param loss mean training loss per example over the step's micro-batches
   * @param accuracy training accuracy over them, NaN when the workers report no {@code metrics.correct}
   * @param lr the learning rate of the A factors at this step
   * @param gradNorm the global gradient norm before clipping
   * @param seconds wall time from the step's first work order to its update
   */
  record StepDone(JobId job, int step, int steps, double loss, double accuracy, double lr, double gradNorm, double seconds)
      implements JobEvent {}

  /**
   * Tensor bytes the coordinator sent to and received from workers since it started (adapter
   * versions, sketch operands; gradients, sketch products, layouts), reported after each step.
   */
  record Traffic(JobId job, int step, long bytesSent, long bytesReceived) implements JobEvent {}

  /** Evaluation after {@code step}: loss and accuracy per example over {@code examples} examples. */
  record Evaluated(JobId job, int step, double loss, double accuracy, int examples) implements JobEvent {}

  /** Masters and optimizer state after {@code step} are on disk ({@code file}: the checkpoint's JSON). */
  record Checkpointed(JobId job, int step, Path file) implements JobEvent {}

  /**
   * The job is done.
   *
   * @param adapterDir the PEFT adapter folder ({@code adapter_model.safetensors}, {@code adapter_config.json}, {@code labels.json})
   * @param adapterSha256 hex SHA-256 of {@code adapter_model.safetensors}: equal for equal jobs, whatever the workers did
   * @param finalEval the evaluation after the last step
   * @param exported what the exporting worker wrote (file name to SHA-256)
   */
  record Finished(JobId job, Path adapterDir, String adapterSha256, Evaluated finalEval, Map<String, String> exported)
      implements JobEvent {}

  /** The job stopped; the last checkpoint (if any) is kept, so a new coordinator can resume it. */
  record Failed(JobId job, String reason) implements JobEvent {}
}
