package dev.loraone.protocol.transport;

import static org.junit.jupiter.api.Assertions.*;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.SketchSide;
import dev.loraone.protocol.wire.WorkerMessage;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two ActorSystems on 127.0.0.1 (Artery TCP, random ports, default 256 KiB frame): a 160 MiB
 * adapter crosses as chunks and arrives bit-identical; a chunk lost on its first send is resent;
 * and, for contrast, the same kind of message told directly is dropped without an error.
 */
class TensorTransferIT {
  private static ActorTestKit sender;
  private static ActorTestKit receiver;
  private static ActorRef<TransferMessage> inboxOnReceiver;

  private static Config remote() {
    return ConfigFactory.parseString("""
        pekko.actor.provider = remote
        pekko.remote.artery.canonical.hostname = 127.0.0.1
        pekko.remote.artery.canonical.port = 0
        pekko.remote.warn-about-direct-use = off
        pekko.remote.use-unsafe-remote-features-outside-cluster = on # remote watch without a cluster
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.load());
  }

  @BeforeAll
  static void start() {
    sender = ActorTestKit.create("sender", remote());
    receiver = ActorTestKit.create("receiver", remote());
    inboxOnReceiver = receiver.spawn(TransferInbox.create(TransferSettings.of(receiver.system())), "transfer-inbox");
  }

  @AfterAll
  static void stop() {
    sender.shutdownTestKit();
    receiver.shutdownTestKit();
  }

  /** The receiver's {@code ref} as seen from the sender's system, so that telling it goes over Artery. */
  private static <T> ActorRef<T> viaNetwork(ActorRef<T> ref) {
    String path = ActorRefResolver.get(receiver.system()).toSerializationFormat(ref);
    assertTrue(path.startsWith("pekko://receiver@127.0.0.1:"), path);
    return ActorRefResolver.get(sender.system()).resolveActorRef(path);
  }

  private static TensorBlob randomTensor(long rows, long cols, long seed) {
    byte[] b = new byte[Math.toIntExact(rows * cols * 4)];
    new Random(seed).nextBytes(b);
    return new TensorBlob(DType.F32, new long[] {rows, cols}, b);
  }

  @Test
  void a160MiBAdapterArrivesIntactWithoutRaisingTheFrameSize() {
    assertEquals(
        256 * 1024,
        receiver
            .system()
            .settings()
            .config()
            .getBytes("pekko.remote.artery.advanced.maximum-frame-size"));
    // Llama-7B, r = 16, all linear layers: ~160 MB of adapters (DESIGN.md section 5).
    WorkerMessage.AdapterVersion adapters =
        new WorkerMessage.AdapterVersion(new JobId("job-160"), 1, Map.of("all_lora", randomTensor(40_960, 1_024, 42)));
    TestProbe<WorkerMessage> target = receiver.createTestProbe();
    TestProbe<TransferOutcome> outcome = sender.createTestProbe();
    TransferSettings settings = TransferSettings.of(sender.system());

    sender.spawn(
        ChunkSender.create(
            TransferId.random(),
            adapters,
            viaNetwork(target.ref()),
            viaNetwork(inboxOnReceiver),
            outcome.ref(),
            settings));

    WorkerMessage received = target.receiveMessage(Duration.ofSeconds(50));
    TransferOutcome.Delivered d =
        assertInstanceOf(
            TransferOutcome.Delivered.class, outcome.receiveMessage(Duration.ofSeconds(10)));
    assertEquals(adapters, received, "reassembled adapter differs");
    assertNotSame(adapters, received);
    System.out.printf(
        "TensorTransferIT: %.1f MB (%d MiB) in %.2f s = %.1f MB/s; %d chunks of %d KiB, window %d, %d retransmits%n",
        d.bytes() / 1e6,
        d.bytes() >> 20,
        d.elapsed().toNanos() / 1e9,
        d.megabytesPerSecond(),
        d.chunks(),
        settings.chunkSize() / 1024,
        settings.window(),
        d.retransmits());
  }

  @Test
  void aChunkLostOnTheFirstSendIsRetransmittedOverTheNetwork() {
    WorkerMessage.AdapterVersion adapters =
        new WorkerMessage.AdapterVersion(new JobId("job-loss"), 2, Map.of("w", randomTensor(1_024, 2_048, 7)));
    TestProbe<WorkerMessage> target = receiver.createTestProbe();
    TestProbe<TransferOutcome> outcome = sender.createTestProbe();
    ActorRef<TransferMessage> inbox = viaNetwork(inboxOnReceiver);
    Set<Integer> dropped = new HashSet<>();
    ActorRef<TransferMessage> lossy = sender.spawn(Behaviors.receiveMessage(m -> {
      if (!(m instanceof TransferMessage.TransferChunk c && c.index() == 5 && dropped.add(c.index()))) inbox.tell(m);
      return Behaviors.same();
    }));
    TransferSettings fastResend = TransferSettings.of(sender.system())
        .withRetransmit(Duration.ofMillis(300), Duration.ofMillis(50), 10);

    sender.spawn(
        ChunkSender.create(
            TransferId.random(),
            adapters,
            viaNetwork(target.ref()),
            lossy,
            outcome.ref(),
            fastResend));

    TransferOutcome.Delivered d =
        assertInstanceOf(
            TransferOutcome.Delivered.class, outcome.receiveMessage(Duration.ofSeconds(20)));
    assertEquals(Set.of(5), dropped);
    assertTrue(d.retransmits() >= 1, d.toString());
    assertEquals(adapters, target.receiveMessage(Duration.ofSeconds(5)));
    target.expectNoMessage(Duration.ofMillis(200));
  }

  @Test
  void aMessageOverTheFrameSizeToldDirectlyIsDroppedSilently() {
    // FEASIBILITY.md section 5: no exception for the sender, only a log line. Why the transport exists.
    TestProbe<WorkerMessage> target = receiver.createTestProbe();
    TensorBlob operand = randomTensor(512, 256, 3); // 512 KiB
    viaNetwork(target.ref()).tell(
        new WorkerMessage.SketchRequest(new JobId("job-x"), 0, 0, "layer.0.q", SketchSide.RIGHT, List.of(0), operand));
    target.expectNoMessage(Duration.ofSeconds(1));
  }
}
