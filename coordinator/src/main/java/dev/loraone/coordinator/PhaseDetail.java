package dev.loraone.coordinator;

import dev.loraone.coordinator.state.CoordinatorState;
import java.nio.file.Path;

/**
 * The detail line of a {@code JobEvent.PhaseChanged}: what the phase the job just entered will do,
 * naming the module group when the init runs in several ({@code init.memory-budget}).
 */
final class PhaseDetail {
  private PhaseDetail() {}

  /**
   * @param roundModules the modules of the SVD rounds now (the current group's)
   * @param adapterDir where the export writes the adapter
   */
  static String of(CoordinatorState state, int roundModules, Path adapterDir) {
    var plan = state.plan();
    return switch (state.phase()) {
      case GRADIENT_ACCUMULATION ->
          plan.initMicroBatches() + " init micro-batches in " + plan.initShards() + " shards" + group(state);
      case SVD_INIT -> plan.svdRounds() + " rounds over " + roundModules + " modules" + group(state);
      case TRAINING -> "step " + state.step() + " of " + plan.steps();
      case EVALUATION -> (state.step() == 0 ? "the model as opened (step 0, before the init)"
          : "after step " + state.step()) + ", " + plan.evalBatches() + " batches";
      case EXPORT -> "adapter into " + adapterDir;
      default -> "";
    };
  }

  private static String group(CoordinatorState state) {
    int groups = state.plan().initGroups();
    return groups == 1 ? "" : ", module group " + (state.group() + 1) + " of " + groups;
  }
}
