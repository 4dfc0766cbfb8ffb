package dev.loraone.worker.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import dev.loraone.worker.weights.LlamaConfig;
import java.util.List;
import java.util.Map;

/**
 * The SwiGLU feed-forward block (Shazeer 2020, arXiv:2002.05202; HF {@code LlamaMLP}), three
 * bias-free {@link LoraLinear}s:
 *
 * <pre>
 *   y = down(silu(gate(x)) * up(x))     silu(z) = z * sigmoid(z)     x:[..,H]  gate,up:[..,I]  y:[..,H]
 * </pre>
 */
final class LlamaMlp extends AbstractBlock {

  private final LlamaConfig config;
  private final LoraLinear gate;
  private final LoraLinear up;
  private final LoraLinear down;

  LlamaMlp(LlamaConfig config, String prefix, LlamaLayer.LinearFactory linear) {
    this.config = config;
    int h = config.hiddenSize();
    int i = config.intermediateSize();
    gate = addChildBlock("gate_proj", linear.create(prefix + "gate_proj", h, i));
    up = addChildBlock("up_proj", linear.create(prefix + "up_proj", h, i));
    down = addChildBlock("down_proj", linear.create(prefix + "down_proj", i, h));
  }

  @Override
  protected NDList forwardInternal(ParameterStore ps, NDList in, boolean training, PairList<String, Object> params) {
    NDList gateUp = LoraLinear.forwardShared(ps, in.head(), List.of(gate, up), training, params);
    NDArray g = gateUp.get(0);
    NDArray u = gateUp.get(1);
    return down.forward(ps, new NDList(g.mul(Activation.sigmoid(g)).mul(u)), training, params);
  }

  @Override
  protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
    Shape x = inputShapes[0];
    gate.initialize(manager, dataType, x);
    up.initialize(manager, dataType, x);
    down.initialize(manager, dataType, x.slice(0, x.dimension() - 1).add(config.intermediateSize()));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    return new Shape[] {inputs[0]};
  }

  /** gate, up, down in HF order. */
  List<LoraLinear> linears() {
    return List.of(gate, up, down);
  }

  void collectParameters(Map<String, Parameter> into) {
    linears().forEach(lin -> lin.collectParameters(into));
  }
}
