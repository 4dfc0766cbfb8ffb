package dev.loraone.worker.train;

import java.util.List;

/**
 * The model input of one unit, encoded ahead of its compute by {@link WorkerEngine#encodeShard},
 * {@link WorkerEngine#encodeGradients} or {@link WorkerEngine#encodeEvaluation}: token ids, masks and targets in Java
 * arrays, no DJL. It names its address, and a compute given the input of another address fails:
 * the same address encodes to the same input on any thread, so encoding ahead changes no bit.
 */
public final class Encoded {
  private final String address;
  private final List<Workload.Input> inputs;

  Encoded(String address, List<Workload.Input> inputs) {
    this.address = address;
    this.inputs = List.copyOf(inputs);
  }

  /** The inputs, checked to be of {@code address}. */
  List<Workload.Input> of(String wanted) {
    if (!address.equals(wanted)) {
      throw new IllegalArgumentException("the encoded " + address + " given to compute " + wanted);
    }
    return inputs;
  }

  @Override
  public String toString() {
    return "Encoded[" + address + "]";
  }
}
