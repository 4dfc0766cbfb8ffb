package dev.loraone.coordinator;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.protocol.io.PeftAdapter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The coordinator's file I/O, as a child on the blocking dispatcher so that disk writes never hold
 * the coordinator's thread. Requests are served one at a time in arrival order, so checkpoints
 * land in step order and {@link Flush} answers only after everything asked before it is on disk.
 */
final class Writer {
  private Writer() {}

  sealed interface Request {}

  record WriteCheckpoint(Checkpoint checkpoint, Path dir, ActorRef<Written> replyTo) implements Request {}

  /** The PEFT adapter, plus {@code labels.json} (class names in id order) when there are labels. */
  record WriteAdapter(PeftAdapter adapter, List<String> labels, Path dir, ActorRef<Written> replyTo)
      implements Request {}

  record Flush(ActorRef<Written> replyTo) implements Request {}

  sealed interface Written {}

  /** {@code failure} is null on success. */
  record CheckpointWritten(int step, Path file, String failure) implements Written {}

  /** {@code sha256} of {@code adapter_model.safetensors}; {@code failure} is null on success. */
  record AdapterWritten(Path dir, String sha256, String failure) implements Written {}

  record Flushed() implements Written {}

  static final String LABELS_FILE = "labels.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  static Behavior<Request> create() {
    return Behaviors.receiveMessage(
        r -> {
          if (r instanceof WriteCheckpoint c) {
            try {
              c.replyTo()
                  .tell(
                      new CheckpointWritten(
                          c.checkpoint().step(), c.checkpoint().write(c.dir()), null));
            } catch (IOException | RuntimeException e) {
              c.replyTo()
                  .tell(
                      new CheckpointWritten(
                          c.checkpoint().step(),
                          null,
                          "writing the checkpoint into " + c.dir() + ": " + e));
            }
          } else if (r instanceof WriteAdapter a) {
            try {
              a.replyTo().tell(new AdapterWritten(a.dir(), writeAdapter(a), null));
            } catch (IOException | RuntimeException e) {
              a.replyTo()
                  .tell(
                      new AdapterWritten(
                          a.dir(), null, "writing the adapter into " + a.dir() + ": " + e));
            }
          } else if (r instanceof Flush f) {
            f.replyTo().tell(new Flushed());
          }
          return Behaviors.same();
        });
  }

  private static String writeAdapter(WriteAdapter a) throws IOException {
    a.adapter().write(a.dir());
    if (!a.labels().isEmpty()) {
      Path tmp = Files.createTempFile(a.dir(), LABELS_FILE, ".tmp");
      try {
        Files.writeString(tmp, JSON.writeValueAsString(a.labels()) + "\n");
        Files.move(
            tmp,
            a.dir().resolve(LABELS_FILE),
            StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
    return Checkpoint.sha256(a.dir().resolve(PeftAdapter.WEIGHTS_FILE));
  }
}
