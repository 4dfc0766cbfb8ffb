package dev.loraone.worker.train;

import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.worker.model.AdaptedModel;
import dev.loraone.worker.model.Owned;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The adapters and head in a job's model, as {@link WorkerEngine} sets them: the initial values the
 * job opened with (the model of the gradient estimate and of the step-0 evaluation), the values last
 * set and their step. Writes check every key and shape first, so a wrong tensor never half-writes the
 * model. Keys: {@code <module>.lora_A} [r,in], {@code <module>.lora_B} [out,r] and the head's names.
 */
final class ModelAdapters {
  static final long NO_STEP = -1;

  private final AdaptedModel model;
  private final int rank;
  private EngineLayout layout;
  private Map<String, TensorBlob> initial;
  private Map<String, TensorBlob> adapters = Map.of();
  private long adapterStep = NO_STEP;
  private boolean pristine = true;

  ModelAdapters(AdaptedModel model, int rank, EngineLayout layout) {
    this.model = model;
    this.rank = rank;
    reset(layout);
  }

  /** Takes the model's values now as the initial ones (after the init ran where the job opened). */
  void reset(EngineLayout next) {
    layout = next;
    initial = snapshot();
    pristine = true;
  }

  /** The model's adapters and head now, under the keys of {@link #set}. */
  private Map<String, TensorBlob> snapshot() {
    Map<String, TensorBlob> out = new LinkedHashMap<>(layout.head());
    for (EngineLayout.ModuleShape m : layout.modules()) {
      out.put(m.name() + JobJoined.LORA_A, TensorBlob.ofFloats(new long[] {rank, m.in()}, model.getLoraA(m.name())));
      out.put(m.name() + JobJoined.LORA_B, TensorBlob.ofFloats(new long[] {m.out(), rank}, model.getLoraB(m.name())));
    }
    return Map.copyOf(out);
  }

  /** Replaces the head's values in the model and in the initial state (a head warm-up). */
  void warmHead(Map<String, float[]> head) {
    Map<String, TensorBlob> next = new LinkedHashMap<>(initial);
    head.forEach((h, v) -> next.put(h, TensorBlob.ofFloats(layout.head().get(h).shape(), v)));
    write(next);
    initial = Map.copyOf(next);
  }

  /** Puts the initial values back into the model (a no-op while nothing was set since). */
  void restoreInitial() {
    if (pristine) return;
    write(initial);
    adapters = Map.of();
    adapterStep = NO_STEP;
    pristine = true;
  }

  /** Writes {@code values} into the model as the adapters of {@code step} ({@link #NO_STEP}: of no announced step). */
  void set(long step, Map<String, TensorBlob> values) {
    write(values);
    adapters = Map.copyOf(values);
    adapterStep = step;
    pristine = false;
  }

  Map<String, TensorBlob> adapters() {
    return adapters;
  }

  long step() {
    return adapterStep;
  }

  private void write(Map<String, TensorBlob> values) {
    Map<String, long[]> want = expectedShapes();
    List<String> missing = want.keySet().stream().filter(k -> !values.containsKey(k)).toList();
    List<String> unknown = values.keySet().stream().filter(k -> !want.containsKey(k)).sorted().toList();
    if (!missing.isEmpty() || !unknown.isEmpty()) {
      throw new IllegalArgumentException("adapter tensors: missing " + missing + ", unknown " + unknown);
    }
    want.forEach((k, shape) -> {
      if (!Arrays.equals(values.get(k).shape(), shape)) {
        throw new IllegalArgumentException(k + " is " + values.get(k) + " but must be " + Arrays.toString(shape));
      }
    });
    for (EngineLayout.ModuleShape m : layout.modules()) {
      model.setLoraA(m.name(), values.get(m.name() + JobJoined.LORA_A).toFloats());
      model.setLoraB(m.name(), values.get(m.name() + JobJoined.LORA_B).toFloats());
    }
    for (String h : layout.head().keySet())
      Owned.write(model.namedParameters().get(h).getArray(), values.get(h).toFloats());
  }

  private Map<String, long[]> expectedShapes() {
    Map<String, long[]> want = new LinkedHashMap<>();
    for (EngineLayout.ModuleShape m : layout.modules()) {
      want.put(m.name() + JobJoined.LORA_A, new long[] {rank, m.in()});
      want.put(m.name() + JobJoined.LORA_B, new long[] {m.out(), rank});
    }
    layout.head().forEach((h, t) -> want.put(h, t.shape()));
    return want;
  }
}
