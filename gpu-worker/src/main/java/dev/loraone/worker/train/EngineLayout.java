package dev.loraone.worker.train;

import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.worker.model.AdaptedModel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a worker holds after {@link WorkerEngine#open}; equal on every worker of a job, and sent to the
 * coordinator as {@link JobJoined}'s layout.
 *
 * @param modules adapted modules in model order
 * @param head the trainable dense parameters' initial values (classifier.weight [C,H],
 *     classifier.bias [C]), or none
 * @param init A0/B0 by {@code <module>.lora_A|B} when the init ran here; empty for LoRA-One
 * @param initModifiedBase the init subtracted an offset from W0 (PiSSA); the init pairs are then
 *     needed to export a plain adapter ({@code s(BA - B0A0)})
 * @param evalExamples evaluation examples used (eval.examples capped by the eval set)
 * @param labels class names in id order (empty without classes)
 * @param modelHash SHA-256 of the model id and base weights
 * @param modelId the base model's id, e.g. {@code all-minilm-l6-v2} (the PEFT adapter's base
 *     model)
 * @param taskType {@code classification}, {@code causal-lm} or {@code embedding}
 * @param deviceKind {@code cpu} or {@code cuda}: bits are identical only across workers of one
 *     kind
 * @param evalStepZero whether the job evaluates the model as opened (step 0, before a gradient
 *     init moves it): embeddings (zero-shot retrieval) and classification heads that start knowing
 *     the task (labels: zero-shot accuracy; warm-up: a linear probe); a random head's is chance
 */
public record EngineLayout(
    List<ModuleShape> modules,
    Map<String, TensorBlob> head,
    Map<String, TensorBlob> init,
    boolean initModifiedBase,
    int trainExamples,
    int evalExamples,
    List<String> labels,
    String modelHash,
    String modelId,
    String taskType,
    String deviceKind,
    boolean evalStepZero) {
  /** An adapted module: its HF name and base weight shape {@code W:[out,in]}. */
  public record ModuleShape(String name, int out, int in) {}

  public EngineLayout {
    modules = List.copyOf(modules);
    head = Collections.unmodifiableMap(new LinkedHashMap<>(head));
    init = Map.copyOf(init);
    labels = List.copyOf(labels);
  }

  /** The layout as {@link JobJoined} carries it (the key table is in its Javadoc). */
  public Map<String, TensorBlob> toWire() {
    Map<String, TensorBlob> w = new LinkedHashMap<>();
    for (int i = 0; i < modules.size(); i++) {
      ModuleShape m = modules.get(i);
      w.put(m.name() + JobJoined.SHAPE, JobJoined.i64(m.out(), m.in()));
      w.put(m.name() + JobJoined.INDEX, JobJoined.i64(i));
    }
    w.putAll(head);
    w.putAll(init);
    w.put(JobJoined.MODIFIES_BASE, JobJoined.i64(initModifiedBase ? 1 : 0));
    w.put(JobJoined.TRAIN_EXAMPLES, JobJoined.i64(trainExamples));
    w.put(JobJoined.EVAL_EXAMPLES, JobJoined.i64(evalExamples));
    w.put(JobJoined.LABELS, JobJoined.labelsBlob(labels));
    w.put(JobJoined.MODEL_SHA256, JobJoined.utf8(modelHash));
    w.put(JobJoined.MODEL_ID, JobJoined.utf8(modelId));
    w.put(JobJoined.TASK_TYPE, JobJoined.utf8(taskType));
    w.put(JobJoined.DEVICE_KIND, JobJoined.utf8(deviceKind));
    w.put(JobJoined.EVAL_STEP_ZERO, JobJoined.i64(evalStepZero ? 1 : 0));
    return w;
  }

  /**
   * The layout of an opened job's model: its adapted modules, head values, the init factors when the
   * init ran on the worker ({@code initRanHere}) and the job's facts.
   */
  static EngineLayout of(Workload work, FinetuneConfig cfg, boolean initRanHere, boolean initModifiedBase,
      int evalExamples, String modelHash, String deviceKind) {
    AdaptedModel model = work.model();
    List<EngineLayout.ModuleShape> modules = new ArrayList<>();
    Map<String, TensorBlob> init = new LinkedHashMap<>();
    for (String m : model.adaptedModules()) {
      var lin = model.linear(m);
      modules.add(new EngineLayout.ModuleShape(m, lin.outFeatures(), lin.inFeatures()));
    }
    if (initRanHere) {
      // The model holds (float) of the double init result, so these equal TensorBlob.ofMatrix(A0), ofMatrix(B0).
      AdapterState state = AdapterState.fromAdapters(model);
      for (EngineLayout.ModuleShape m : modules) {
        init.put(m.name() + JobJoined.LORA_A, AdapterState.blob(state.pair(m.name()).a()));
        init.put(m.name() + JobJoined.LORA_B, AdapterState.blob(state.pair(m.name()).b()));
      }
    }
    Map<String, TensorBlob> head = new LinkedHashMap<>();
    for (String h : work.headNames()) {
      var a = model.namedParameters().get(h).getArray();
      head.put(h, TensorBlob.ofFloats(a.getShape().getShape(), a.toFloatArray()));
    }
    return new EngineLayout(modules, head, init, initModifiedBase, work.trainSize(), evalExamples, work.labels(),
        modelHash, work.modelId(), work.taskType(), deviceKind, evaluatesStepZero(work, cfg));
  }

  /**
   * Whether step 0 is worth an evaluation: embeddings (zero-shot retrieval) and classification heads
   * that start knowing the task (a labels head's zero-shot accuracy, a warmed head's linear probe); a
   * random head's is chance, and a causal LM's base perplexity is left to the user's own runs.
   */
  private static boolean evaluatesStepZero(Workload work, FinetuneConfig cfg) {
    String task = work.taskType();
    return TaskMetrics.EMBEDDING.equals(task)
        || (TaskMetrics.CLASSIFICATION.equals(task) && (cfg.labelsHead() || cfg.headWarmup() > 0));
  }
}
