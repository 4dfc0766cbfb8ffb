package dev.loraone.worker.actor;

import dev.loraone.protocol.wire.CoordinatorMessage.Evaluated;
import dev.loraone.protocol.wire.CoordinatorMessage.Exported;
import dev.loraone.protocol.wire.CoordinatorMessage.GradientsComputed;
import dev.loraone.protocol.wire.CoordinatorMessage.InitShardAccumulated;
import dev.loraone.protocol.wire.CoordinatorMessage.SketchReply;
import dev.loraone.protocol.wire.WorkItem;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.protocol.wire.WorkerMessage.AssignInitShard;
import dev.loraone.protocol.wire.WorkerMessage.ComputeGradients;
import dev.loraone.protocol.wire.WorkerMessage.Evaluate;
import dev.loraone.protocol.wire.WorkerMessage.Export;
import dev.loraone.protocol.wire.WorkerMessage.SketchRequest;
import dev.loraone.worker.actor.UnitPipeline.Unit;
import dev.loraone.worker.train.WorkerEngine;
import dev.loraone.worker.train.Workload;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What each command of the coordinator computes on the engine, as {@link Unit}s: the unit's address,
 * how its input is encoded ahead and the engine call that makes its reply. Pure construction, no
 * actor state: when a unit runs (now, or once its adapter version is held) is {@link WorkerActor}'s
 * decision.
 */
final class WorkUnits {
  private WorkUnits() {}

  /** {@code computeShard} of module group g's modules over the shard's micro-batches, in order. */
  static Unit initShard(WorkerId id, AssignInitShard a) {
    int[] microBatches = a.microBatches().stream().mapToInt(Integer::intValue).toArray();
    return new Unit(new WorkItem.InitShard(a.group(), a.shard()), e -> e.encodeShard(microBatches), (e, in) ->
        new InitShardAccumulated(a.job(), id, a.group(), a.shard(), microBatches.length,
            e.computeShard(a.group(), a.modules(), a.shard(), microBatches, in)));
  }

  /** One sketch unit per shard the request names, each replying with its own product. */
  static List<Unit> sketches(WorkerId id, SketchRequest r) {
    List<Unit> out = new ArrayList<>();
    for (int shard : r.shards()) {
      WorkItem item = new WorkItem.Sketch(r.group(), r.round(), r.layer(), shard);
      out.add(Unit.host(item, (e, none) -> new SketchReply(r.job(), id, r.group(), r.round(), shard,
          r.layer(), e.sketch(r.group(), shard, r.layer(), r.side(), r.operand())))); // plain Java: no DJL
    }
    return out;
  }

  /** The LoRA gradients of one training micro-batch under the adapters set in the engine. */
  static Unit gradients(WorkerId id, ComputeGradients c) {
    return new Unit(new WorkItem.Gradients(c.step(), c.microBatch()), e -> e.encodeGradients(c.microBatch()),
        (e, in) -> {
          WorkerEngine.Gradients g = e.gradients(c.microBatch(), in);
          return new GradientsComputed(c.job(), id, c.step(), c.microBatch(), g.examples(), g.weight(), g.lossSum(),
              g.metrics(), g.grads());
        });
  }

  /**
   * One evaluation batch under the adapters set in the engine; at step 0 under the model as the job
   * opened it, before any init or adapter version (the initial adapters restored first).
   */
  static Unit evaluation(WorkerId id, Evaluate c) {
    WorkItem item = new WorkItem.Evaluation(c.step(), c.batch());
    Unit unit = new Unit(item, e -> e.encodeEvaluation(c.batch()), (e, in) -> {
      Workload.EvalUnit r = e.evaluate(c.batch(), in);
      return new Evaluated(c.job(), id, c.step(), c.batch(), r.examples(), r.weight(), r.lossSum(), r.sums());
    });
    if (c.step() != 0) return unit;
    return new Unit(item, unit.encode(), (e, in) -> {
      e.restoreInitial();
      return unit.compute().apply(e, in);
    });
  }

  /** The merged ONNX model of the adapters set in the engine; nothing to write when ONNX is not asked for. */
  static Unit export(WorkerId id, Export c) {
    WorkItem item = new WorkItem.Export(c.step());
    if (!onnx(c)) {
      return Unit.host(item, (e, none) -> new Exported(c.job(), id, c.step(), c.destination(), Map.of()));
    }
    return new Unit(item, null, (e, none) -> {
      try {
        return new Exported(c.job(), id, c.step(), c.destination(),
            e.exportOnnx(Path.of(c.destination()), e.adapters(), e.labels()));
      } catch (IOException ex) {
        throw new UncheckedIOException(ex);
      }
    });
  }

  /** Whether the export writes an ONNX model (the PEFT adapter is the coordinator's to write, from its masters). */
  static boolean onnx(Export c) {
    return c.formats().contains("onnx");
  }
}
