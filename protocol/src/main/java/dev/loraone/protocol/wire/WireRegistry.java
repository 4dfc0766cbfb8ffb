package dev.loraone.protocol.wire;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.transport.TransferId;
import dev.loraone.protocol.transport.TransferMessage;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Every class that may appear on the wire, with its Kryo registration id and its manifest.
 *
 * <p>Rules, checked by {@code WireRegistryTest} against a golden list in the test resources:
 * <ul>
 *   <li>An id, once published, always means the same class; a removed class's id goes to
 *       {@link #RETIRED_IDS} and is never given out again. Ids are grouped: 100 values,
 *       120 work items, 200 {@link CoordinatorMessage}, 300 {@link WorkerMessage},
 *       400 {@link TransferMessage}, 500 {@link NodeMessage}.
 *   <li>Manifests are short, stable names; renaming a Java class does not change its manifest.
 *   <li>Every permitted subclass of every {@link #SEALED_ROOTS} root is registered.
 * </ul>
 *
 * Kryo's built-in ids 0-9 (primitives and String) are left alone. Records change shape only with
 * a bump of {@link #PROTOCOL_VERSION}: components serialize positionally.
 */
public final class WireRegistry {
  /** Sent in {@code RegisterWorker}; both sides must agree. */
  public static final int PROTOCOL_VERSION =
      4; // 2: WorkItem.Join; 3: weights and metrics in GradientsComputed/Evaluated; 4: init module groups

  /** One registration: Kryo id, manifest, class. */
  public record Entry(int id, String manifest, Class<?> type) {}

  /** Ids of classes that were removed; never reuse them. */
  public static final Set<Integer> RETIRED_IDS = Set.of();

  /** The sealed hierarchies whose members travel; the round-trip test walks each one. */
  public static final List<Class<?>> SEALED_ROOTS =
      List.of(CoordinatorMessage.class, WorkerMessage.class, TransferMessage.class, WorkItem.class,
          NodeMessage.class);

  private static final List<Entry> ENTRIES = List.of(
      new Entry(100, "TensorBlob", TensorBlob.class),
      new Entry(101, "JobId", JobId.class),
      new Entry(102, "WorkerId", WorkerId.class),
      new Entry(103, "Endpoint", Endpoint.class),
      new Entry(104, "SketchSide", SketchSide.class),
      new Entry(105, "TransferId", TransferId.class),

      new Entry(120, "I.InitShard", WorkItem.InitShard.class),
      new Entry(121, "I.Sketch", WorkItem.Sketch.class),
      new Entry(122, "I.Gradients", WorkItem.Gradients.class),
      new Entry(123, "I.Evaluation", WorkItem.Evaluation.class),
      new Entry(124, "I.Export", WorkItem.Export.class),
      new Entry(125, "I.Join", WorkItem.Join.class),

      new Entry(200, "C.RegisterWorker", CoordinatorMessage.RegisterWorker.class),
      new Entry(201, "C.Heartbeat", CoordinatorMessage.Heartbeat.class),
      new Entry(202, "C.InitShardAccumulated", CoordinatorMessage.InitShardAccumulated.class),
      new Entry(203, "C.SketchReply", CoordinatorMessage.SketchReply.class),
      new Entry(204, "C.GradientsComputed", CoordinatorMessage.GradientsComputed.class),
      new Entry(205, "C.Evaluated", CoordinatorMessage.Evaluated.class),
      new Entry(206, "C.Exported", CoordinatorMessage.Exported.class),
      new Entry(207, "C.WorkFailed", CoordinatorMessage.WorkFailed.class),
      new Entry(208, "C.JobJoined", CoordinatorMessage.JobJoined.class),

      new Entry(300, "W.RegistrationAccepted", WorkerMessage.RegistrationAccepted.class),
      new Entry(301, "W.RegistrationRejected", WorkerMessage.RegistrationRejected.class),
      new Entry(302, "W.JoinJob", WorkerMessage.JoinJob.class),
      new Entry(303, "W.AssignInitShard", WorkerMessage.AssignInitShard.class),
      new Entry(304, "W.SketchRequest", WorkerMessage.SketchRequest.class),
      new Entry(305, "W.AdapterVersion", WorkerMessage.AdapterVersion.class),
      new Entry(306, "W.ComputeGradients", WorkerMessage.ComputeGradients.class),
      new Entry(307, "W.Evaluate", WorkerMessage.Evaluate.class),
      new Entry(308, "W.Export", WorkerMessage.Export.class),
      new Entry(309, "W.CancelJob", WorkerMessage.CancelJob.class),

      new Entry(400, "T.Start", TransferMessage.TransferStart.class),
      new Entry(401, "T.Chunk", TransferMessage.TransferChunk.class),
      new Entry(402, "T.Ack", TransferMessage.ChunkAck.class),
      new Entry(403, "T.Completed", TransferMessage.TransferCompleted.class),
      new Entry(404, "T.Rejected", TransferMessage.TransferRejected.class),

      new Entry(500, "N.Describe", NodeMessage.Describe.class),
      new Entry(501, "N.Capacity", NodeMessage.Capacity.class),
      new Entry(502, "N.Serve", NodeMessage.Serve.class));

  private static final Map<String, Entry> BY_MANIFEST =
      ENTRIES.stream().collect(Collectors.toUnmodifiableMap(Entry::manifest, e -> e));
  private static final Map<Class<?>, Entry> BY_CLASS =
      ENTRIES.stream().collect(Collectors.toUnmodifiableMap(Entry::type, e -> e));

  private WireRegistry() {}

  public static List<Entry> entries() {
    return ENTRIES;
  }

  public static Optional<Entry> byManifest(String manifest) {
    return Optional.ofNullable(BY_MANIFEST.get(manifest));
  }

  public static Optional<Entry> byClass(Class<?> type) {
    return Optional.ofNullable(BY_CLASS.get(type));
  }

  /**
   * One serializer per registered class, built once and shared by every thread's Kryo (they hold
   * no mutable state). Fails here, at start-up, if a record has a component the wire cannot carry.
   */
  static Map<Class<?>, Serializer<?>> serializers(ActorRefCodec refs) {
    Set<Class<?>> registered = BY_CLASS.keySet();
    Map<Class<?>, Serializer<?>> out = new LinkedHashMap<>();
    for (Entry e : ENTRIES) out.put(e.type(), serializerFor(e.type(), registered, refs));
    return out;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Serializer<?> serializerFor(Class<?> type, Set<Class<?>> registered, ActorRefCodec refs) {
    if (type == TensorBlob.class) return new TensorBlobSerializer();
    if (type.isEnum()) return new EnumNameSerializer(type);
    if (type.isRecord()) return new WireRecordSerializer<>(type, registered, refs);
    throw new IllegalStateException("no wire serializer for " + type.getName());
  }

  /** A Kryo that knows exactly the registered classes, under their ids, and nothing else. */
  static Kryo newKryo(Map<Class<?>, Serializer<?>> serializers) {
    Kryo kryo = new Kryo(new WireClassResolver(), null);
    kryo.setRegistrationRequired(true);
    kryo.setReferences(false);
    for (Entry e : ENTRIES) kryo.register(e.type(), serializers.get(e.type()), e.id());
    return kryo;
  }
}
