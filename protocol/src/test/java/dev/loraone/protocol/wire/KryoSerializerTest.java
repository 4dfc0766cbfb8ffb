package dev.loraone.protocol.wire;

import static dev.loraone.protocol.wire.WireSamples.JOB;
import static dev.loraone.protocol.wire.WireSamples.WORKER;
import static org.junit.jupiter.api.Assertions.*;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.io.Output;
import dev.loraone.protocol.tensor.TensorBlob;
import java.io.NotSerializableException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

class KryoSerializerTest {
  private static ActorTestKit testKit;
  private static KryoSerializer serializer;
  private static Serialization serialization;
  private static ActorRef<Object> ref;

  @BeforeAll
  static void start() {
    testKit = ActorTestKit.create("KryoSerializerTest");
    ExtendedActorSystem classic = (ExtendedActorSystem) Adapter.toClassic(testKit.system());
    serializer = new KryoSerializer(classic);
    serialization = SerializationExtension.get(classic);
    ref = testKit.createTestProbe().ref();
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  /** Messages round-trip as themselves; work items inside the message that carries them. */
  private static Object asMessage(Object sample) {
    if (sample instanceof WorkItem item) return new CoordinatorMessage.WorkFailed(JOB, WORKER, item, "sample");
    return sample;
  }

  @TestFactory
  Stream<DynamicTest> everyPermittedSubclassRoundTripsDirectlyAndThroughPekko() {
    List<Class<?>> classes = WireSamples.permittedRecords();
    assertTrue(classes.size() > 20, "walked only " + classes);
    return classes.stream()
        .map(
            c ->
                DynamicTest.dynamicTest(
                    c.getName(),
                    () -> {
                      Object sample =
                          WireSamples.sample(c, ref)
                              .orElseThrow(
                                  () ->
                                      new AssertionError(
                                          "no sample for " + c.getName() + " in WireSamples"));
                      assertEquals(c, sample.getClass());
                      Object message = asMessage(sample);

                      String manifest = serializer.manifest(message);
                      assertEquals(
                          WireRegistry.byClass(message.getClass()).orElseThrow().manifest(),
                          manifest);
                      Object direct = serializer.fromBinary(serializer.toBinary(message), manifest);
                      assertEquals(message, direct);
                      assertNotSame(message, direct);

                      Serializer bound = serialization.findSerializerFor(message);
                      assertEquals(
                          KryoSerializer.IDENTIFIER,
                          bound.identifier(),
                          "reference.conf binds WireMessage to the Kryo serializer");
                      byte[] bytes = serialization.serialize(message).get();
                      assertEquals(
                          message,
                          serialization
                              .deserialize(
                                  bytes,
                                  bound.identifier(),
                                  Serializers.manifestFor(bound, message))
                              .get());
                    }));
  }

  @Test
  void mapsSerializeToTheSameBytesWhateverTheirInsertionOrder() {
    Map<String, TensorBlob> ab = new LinkedHashMap<>();
    ab.put("a", WireSamples.tensor(2, 2, 1f));
    ab.put("b", WireSamples.tensor(2, 2, 2f));
    Map<String, TensorBlob> ba = new LinkedHashMap<>();
    ba.put("b", WireSamples.tensor(2, 2, 2f));
    ba.put("a", WireSamples.tensor(2, 2, 1f));
    assertArrayEquals(
        serializer.toBinary(new CoordinatorMessage.GradientsComputed(JOB, WORKER, 1, 2, 3, 1.0, 4.0, Map.of(), ab)),
        serializer.toBinary(new CoordinatorMessage.GradientsComputed(JOB, WORKER, 1, 2, 3, 1.0, 4.0, Map.of(), ba)));
  }

  @Test
  void joinJobCarriesTheCanonicalJobSpec() throws Exception {
    var spec = dev.loraone.protocol.job.JobSpec.of(Map.of("train.steps", 10, "init.niter", 3));
    var join = WorkerMessage.JoinJob.of(JOB, spec, "ab".repeat(32));
    var back = (WorkerMessage.JoinJob) serializer.fromBinary(serializer.toBinary(join), "W.JoinJob");
    assertEquals(spec, back.parsedSpec());
    assertEquals(10, back.parsedSpec().getInt("train.steps"));
  }

  @Test
  void javaSerializationIsOff() {
    assertTrue(serialization.serialize(new ArrayList<>(List.of(1))).isFailure());
  }

  @Test
  void anUnregisteredClassCannotBeSent() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> serializer.toBinary(new Object()));
    assertTrue(e.getMessage().contains("not a registered wire message"), e.getMessage());
    // Registered, but a value type rather than a message: no manifest.
    assertThrows(IllegalArgumentException.class, () -> serializer.manifest(JOB));
  }

  // ---- receiving side: forged bytes -------------------------------------------------------

  /** Instantiations are counted, so a test can prove the receiver never built one. */
  static final class Evil {
    static final AtomicInteger CREATED = new AtomicInteger();
    int payload = 42;

    Evil() {
      CREATED.incrementAndGet();
    }
  }

  /** The peer's Kryo: all our registrations plus one extra class the receiver does not know. */
  private static Kryo attacker() {
    Kryo k = WireRegistry.newKryo(WireRegistry.serializers(ActorRefCodec.NONE));
    k.register(Evil.class, 999);
    return k;
  }

  /** {@code WorkFailed(JOB, WORKER, item, "boom")} written component by component, with any item. */
  private static byte[] craftWorkFailed(Consumer<Output> item) {
    Kryo k = attacker();
    Output out = new Output(256, -1);
    k.writeObject(out, JOB);
    k.writeObject(out, WORKER);
    item.accept(out);
    out.writeString("boom");
    return out.toBytes();
  }

  private static NotSerializableException rejected(byte[] bytes, String manifest) {
    return assertThrows(NotSerializableException.class, () -> serializer.fromBinary(bytes, manifest));
  }

  @Test
  void craftedBytesWithALegalItemDecode() throws Exception {
    // Control for the forgeries below: the crafting matches the real layout.
    byte[] bytes = craftWorkFailed(out -> attacker().writeClassAndObject(out, new WorkItem.Export(3)));
    assertEquals(new CoordinatorMessage.WorkFailed(JOB, WORKER, new WorkItem.Export(3), "boom"),
        serializer.fromBinary(bytes, "C.WorkFailed"));
  }

  @Test
  void anUnregisteredClassIdIsRejectedAndNeverInstantiated() {
    Evil evil = new Evil();
    byte[] bytes = craftWorkFailed(out -> attacker().writeClassAndObject(out, evil));
    int created = Evil.CREATED.get();
    NotSerializableException e = rejected(bytes, "C.WorkFailed");
    assertTrue(e.getMessage().contains("unregistered class ID: 999"), e.getMessage());
    assertEquals(created, Evil.CREATED.get(), "the receiver instantiated an unregistered class");
  }

  /** Set by {@link NeverInitialized}'s static initializer; reading it does not initialize that class. */
  static final AtomicInteger NEVER_INITIALIZED_RAN = new AtomicInteger();

  static final class NeverInitialized {
    static {
      NEVER_INITIALIZED_RAN.incrementAndGet();
    }
  }

  @Test
  void aClassNameInTheBytesIsRejectedBeforeAnyLookup() {
    byte[] bytes = craftWorkFailed(out -> {
      out.writeVarInt(1, true); // Kryo's "class name follows" marker (NAME + 2)
      out.writeVarInt(0, true); // name id
      out.writeString(NeverInitialized.class.getName());
    });
    NotSerializableException e = rejected(bytes, "C.WorkFailed");
    assertTrue(e.getMessage().contains("class names are not accepted"), e.getMessage());
    assertEquals(0, NEVER_INITIALIZED_RAN.get());
  }

  @Test
  void aRegisteredClassOfTheWrongTypeIsRejected() {
    byte[] bytes = craftWorkFailed(out -> attacker().writeClassAndObject(out, JOB));
    NotSerializableException e = rejected(bytes, "C.WorkFailed");
    assertTrue(e.getMessage().contains("expected a WorkItem, got JobId"), e.getMessage());
  }

  @Test
  void anUnknownOrNonMessageManifestIsRejected() {
    byte[] heartbeat = serializer.toBinary(new CoordinatorMessage.Heartbeat(WORKER, 1));
    assertTrue(rejected(heartbeat, "C.Nope").getMessage().contains("unknown wire manifest"));
    assertTrue(rejected(heartbeat, "JobId").getMessage().contains("unknown wire manifest"));
  }

  @Test
  void recordValidationRunsOnTheReceivingSide() {
    Output out = new Output(64, -1);
    out.writeString("../../etc"); // JobId's only component
    out.writeString("{}");
    out.writeString("hash");
    NotSerializableException e = rejected(out.toBytes(), "W.JoinJob");
    assertTrue(e.getMessage().contains("job id \"../../etc\" is invalid"), e.getMessage());
  }

  @Test
  void forgedLengthsCannotForceLargeAllocations() {
    Output list = new Output(64, -1);
    attacker().writeObject(list, JOB);
    list.writeVarInt(0, false); // group
    list.writeVarInt(0, false); // shard
    list.writeVarInt(1 << 30, true); // claims a billion micro-batch indices
    assertTrue(rejected(list.toBytes(), "W.AssignInitShard").getMessage().contains("bytes left"));

    Output tensor = new Output(64, -1);
    attacker().writeObject(tensor, JOB);
    tensor.writeVarLong(1, false); // step
    tensor.writeVarInt(1, true); // one adapter
    tensor.writeString("a");
    tensor.writeString("F32");
    tensor.writeVarInt(1, true);
    tensor.writeVarLong(500_000_000L, true);
    tensor.writeVarInt(2_000_000_000, true); // 2 GB claimed, a few bytes present
    assertTrue(rejected(tensor.toBytes(), "W.AdapterVersion").getMessage().contains("bytes left"));
  }

  @Test
  void trailingBytesAreRejected() {
    byte[] ok = serializer.toBinary(new CoordinatorMessage.Heartbeat(WORKER, 1));
    byte[] longer = java.util.Arrays.copyOf(ok, ok.length + 1);
    assertTrue(rejected(longer, "C.Heartbeat").getMessage().contains("trailing"));
  }
}
