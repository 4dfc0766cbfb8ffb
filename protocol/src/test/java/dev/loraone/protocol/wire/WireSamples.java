package dev.loraone.protocol.wire;

import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.transport.TransferMessage;
import dev.loraone.protocol.wire.CoordinatorMessage.*;
import dev.loraone.protocol.wire.WorkerMessage.*;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * One realistic instance of every wire class, for round-trip tests. Adding a wire record without a
 * sample here fails {@code KryoSerializerTest}, with the class named.
 */
public final class WireSamples {
  public static final JobId JOB = new JobId("job-7");
  public static final WorkerId WORKER = new WorkerId("gpu-worker.a_1");

  private WireSamples() {}

  /** Every record reachable from {@link WireRegistry#SEALED_ROOTS}, depth first. */
  public static List<Class<?>> permittedRecords() {
    List<Class<?>> out = new ArrayList<>();
    for (Class<?> root : WireRegistry.SEALED_ROOTS) collect(root, out);
    return out;
  }

  private static void collect(Class<?> c, List<Class<?>> out) {
    if (c.isSealed()) {
      for (Class<?> p : c.getPermittedSubclasses()) collect(p, out);
    } else if (!out.contains(c)) {
      out.add(c);
    }
  }

  public static TensorBlob tensor(int rows, int cols, float seed) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) v[i] = seed + i * 0.5f - (i % 3);
    return TensorBlob.ofFloats(new long[] {rows, cols}, v);
  }

  /** A realistic {@link JobJoined} layout: one adapted module, the head, a local init, the data facts. */
  public static Map<String, TensorBlob> layout() {
    Map<String, TensorBlob> m = new LinkedHashMap<>();
    m.put("layer.0.q" + JobJoined.SHAPE, JobJoined.i64(6, 4));
    m.put("layer.0.q" + JobJoined.INDEX, JobJoined.i64(0));
    m.put("layer.0.q" + JobJoined.LORA_A, tensor(2, 4, 1f));
    m.put("layer.0.q" + JobJoined.LORA_B, tensor(6, 2, 0f));
    m.put(JobJoined.HEAD_WEIGHT, tensor(3, 4, 0.5f));
    m.put(JobJoined.HEAD_BIAS, TensorBlob.ofFloats(new long[] {3}, new float[] {0, 0, 0}));
    m.put(JobJoined.MODIFIES_BASE, JobJoined.i64(1));
    m.put(JobJoined.TRAIN_EXAMPLES, JobJoined.i64(78));
    m.put(JobJoined.EVAL_EXAMPLES, JobJoined.i64(26));
    m.put(JobJoined.LABELS, JobJoined.labelsBlob(List.of("noun.act", "noun.animal", "noun.artifact")));
    m.put(JobJoined.MODEL_SHA256, JobJoined.utf8("ef".repeat(32)));
    return m;
  }

  /** A sample of {@code type}, or empty if there is none; {@code ref} supplies actor refs. */
  public static Optional<Object> sample(Class<?> type, ActorRef<Object> ref) {
    Function<ActorRef<Object>, Object> f = samples().get(type);
    return Optional.ofNullable(f).map(g -> g.apply(ref));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Map<Class<?>, Function<ActorRef<Object>, Object>> samples() {
    Map<Class<?>, Function<ActorRef<Object>, Object>> m = new LinkedHashMap<>();
    Function<ActorRef<Object>, Endpoint> endpoint = r -> new Endpoint(r, r);
    Map<String, TensorBlob> adapters = new LinkedHashMap<>();
    adapters.put("base_model.model.layer.0.q.lora_B.weight", tensor(6, 2, 0f));
    adapters.put("base_model.model.layer.0.q.lora_A.weight", tensor(2, 4, 1f));
    TensorBlob bf16 = new TensorBlob(DType.BF16, new long[] {3}, new byte[] {1, 2, 3, 4, 5, 6});

    m.put(WorkItem.InitShard.class, r -> new WorkItem.InitShard(1, 2));
    m.put(WorkItem.Sketch.class, r -> new WorkItem.Sketch(1, 3, "layer.1.v", 1));
    m.put(WorkItem.Gradients.class, r -> new WorkItem.Gradients(41, 5));
    m.put(WorkItem.Evaluation.class, r -> new WorkItem.Evaluation(40, 0));
    m.put(WorkItem.Export.class, r -> new WorkItem.Export(100));
    m.put(WorkItem.Join.class, r -> new WorkItem.Join("minilm"));

    m.put(RegisterWorker.class, r -> new RegisterWorker(WORKER, WireRegistry.PROTOCOL_VERSION, "cuda:0",
        Map.of("java", "17.0.15", "engine", "PyTorch 2.7.1", "threads", "2"), endpoint.apply(r)));
    m.put(Heartbeat.class, r -> new Heartbeat(WORKER, 12));
    m.put(InitShardAccumulated.class, r -> new InitShardAccumulated(JOB, WORKER, 2, 1, 4, 11.5));
    m.put(SketchReply.class, r -> new SketchReply(JOB, WORKER, 1, 2, 1, "layer.0.q", tensor(6, 3, -1f)));
    m.put(
        GradientsComputed.class,
        r ->
            new GradientsComputed(
                JOB, WORKER, 41, 5, 16, 212.0, 9.25, Map.of("tokens", 212.0), adapters));
    m.put(
        Evaluated.class,
        r ->
            new Evaluated(
                JOB, WORKER, 40, 0, 32, 4096.0, 20.5, Map.of("correct", 27.0, "tokens", 4096.0)));
    m.put(Exported.class, r -> new Exported(JOB, WORKER, 100, "/models/job-7", Map.of("model.onnx", "ab".repeat(32))));
    m.put(JobJoined.class, r -> new JobJoined(JOB, WORKER, layout()));
    m.put(WorkFailed.class, r -> new WorkFailed(JOB, WORKER, new WorkItem.Gradients(41, 5), "CUDA out of memory"));

    m.put(RegistrationAccepted.class, r -> new RegistrationAccepted(WORKER, endpoint.apply(r)));
    m.put(
        RegistrationRejected.class,
        r -> new RegistrationRejected(WORKER, "protocol version 2, coordinator speaks 1"));
    m.put(
        JoinJob.class,
        r ->
            JoinJob.of(
                JOB,
                dev.loraone.protocol.job.JobSpec.of(Map.of("train.steps", 10)),
                "cd".repeat(32)));
    m.put(AssignInitShard.class,
        r -> new AssignInitShard(JOB, 2, 1, List.of(4, 5, 6, 7), List.of("layer.0.q", "layer.0.v")));
    m.put(
        SketchRequest.class,
        r ->
            new SketchRequest(
                JOB, 2, 1, "layer.0.q", SketchSide.LEFT, List.of(0, 2), tensor(6, 3, 2f)));
    m.put(AdapterVersion.class, r -> new AdapterVersion(JOB, 41, Map.of("a", bf16, "b", tensor(1, 1, 3f))));
    m.put(ComputeGradients.class, r -> new ComputeGradients(JOB, 41, 5));
    m.put(Evaluate.class, r -> new Evaluate(JOB, 40, 3));
    m.put(Export.class, r -> new Export(JOB, 100, "/models/job-7", List.of("onnx", "peft")));
    m.put(CancelJob.class, r -> new CancelJob(JOB, "cancelled by user"));

    TransferId t = new TransferId("3f2c1b7e-0d4e-4a39-9a55-5b1f0f6c2e11");
    m.put(
        TransferMessage.TransferStart.class,
        r ->
            new TransferMessage.TransferStart(
                t, "W.AdapterVersion", 1_000_000, 196_608, 0xCAFEBABE, r, (ActorRef) r));
    m.put(
        TransferMessage.TransferChunk.class,
        r ->
            new TransferMessage.TransferChunk(
                t, 4, new TensorBlob(DType.U8, new long[] {5}, new byte[] {9, 8, 7, 6, -1})));
    m.put(TransferMessage.ChunkAck.class, r -> new TransferMessage.ChunkAck(t, 4));
    m.put(TransferMessage.TransferCompleted.class, r -> new TransferMessage.TransferCompleted(t));
    m.put(TransferMessage.TransferRejected.class, r -> new TransferMessage.TransferRejected(t, "CRC-32C mismatch"));
    m.put(NodeMessage.Describe.class, r -> new NodeMessage.Describe((ActorRef) r));
    m.put(NodeMessage.Capacity.class, r -> new NodeMessage.Capacity((ActorRef) r, "127.0.0.1:25521",
        List.of("worker-a-0", "worker-a-1"), List.of("cpu", "cuda:0"), 3L << 30));
    m.put(NodeMessage.Serve.class, r -> new NodeMessage.Serve(JOB, (ActorRef) r));
    return m;
  }
}
