package dev.loraone.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.JobSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The service's jobs on disk, so that a restarted service (or one killed with {@code kill -9})
 * finds every job as it left it: queued jobs stay queued, running ones resume from their
 * checkpoints. One folder per job under {@code root/jobs}:
 *
 * <pre>
 *   jobs/&lt;id&gt;/job.json       the record (state, times, reason, adapter hash): replaced atomically
 *   jobs/&lt;id&gt;/spec.conf      the canonical job spec ({@link JobSpec#render()})
 *   jobs/&lt;id&gt;/events.jsonl   every event of the job, one JSON object per line, appended
 *   jobs/&lt;id&gt;/out/           the coordinator's output folder: checkpoint/, adapter/, model/
 * </pre>
 * A job id is {@code <name>-<sequence>}; the sequence counts submissions of this store, so ids are
 * never reused.
 */
public final class JobStore {
  /** Valid job ids: also what the HTTP routes accept, so no id can name a path outside {@code jobs/}. */
  public static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");

  public enum State {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public boolean ended() {
      return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
  }

  /**
   * A job as the store keeps it.
   *
   * @param submitted, started, ended epoch milliseconds; 0 when not yet
   * @param reason why it failed or was cancelled; null otherwise
   * @param cancelRequested a cancel was asked while it ran: its end is CANCELLED, not FAILED
   * @param submittedBy the name of the token it was submitted with ({@link Tokens}); null without tokens
   */
  public record Record(
      String id,
      String name,
      long seq,
      State state,
      long submitted,
      long started,
      long ended,
      String reason,
      boolean cancelRequested,
      String adapterSha256,
      String submittedBy) {
    Record with(State s, String why) {
      long now = System.currentTimeMillis();
      return new Record(
          id,
          name,
          seq,
          s,
          submitted,
          s == State.RUNNING && started == 0 ? now : started,
          s.ended() ? now : ended,
          why,
          cancelRequested,
          adapterSha256,
          submittedBy);
    }

    Record cancelling() {
      return new Record(id, name, seq, state, submitted, started, ended, reason, true, adapterSha256, submittedBy);
    }

    Record finished(String sha) {
      return new Record(
          id,
          name,
          seq,
          State.SUCCEEDED,
          submitted,
          started,
          System.currentTimeMillis(),
          null,
          cancelRequested,
          sha,
          submittedBy);
    }
  }

  /** A job read back at start-up: its record, spec and events so far. */
  public record Loaded(Record record, JobSpec spec, List<ObjectNode> events) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path jobs;
  private long lastSeq;

  public JobStore(Path root) throws IOException {
    this.jobs = root.resolve("jobs");
    Files.createDirectories(jobs);
  }

  public Path root() {
    return jobs.getParent();
  }

  public Path dir(String id) {
    if (!ID.matcher(id).matches()) throw new IllegalArgumentException("invalid job id '" + id + "'");
    return jobs.resolve(id);
  }

  /** The coordinator's output folder of job {@code id}. */
  public Path outDir(String id) {
    return dir(id).resolve("out");
  }

  /**
   * Every job in the store, in submission order; a job folder that cannot be read is skipped with a
   * warning on {@code warn}.
   */
  public synchronized List<Loaded> load(java.util.function.Consumer<String> warn)
      throws IOException {
    List<Loaded> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(jobs)) {
      for (Path d : ds) {
        Path rec = d.resolve("job.json");
        if (!Files.isRegularFile(rec)) continue;
        try {
          Record r = JSON.readValue(rec.toFile(), Record.class);
          JobSpec spec = JobSpec.parseFile(d.resolve("spec.conf"));
          out.add(new Loaded(r, spec, readEvents(d.resolve("events.jsonl"))));
          lastSeq = Math.max(lastSeq, r.seq());
        } catch (IOException | RuntimeException e) {
          warn.accept("job folder " + d + " is not readable, skipped: " + e.getMessage());
        }
      }
    }
    out.sort(Comparator.comparingLong(l -> l.record().seq()));
    return out;
  }

  /** Events of a job; a last line cut short by a crash is dropped. */
  private static List<ObjectNode> readEvents(Path file) throws IOException {
    List<ObjectNode> events = new ArrayList<>();
    if (!Files.exists(file)) return events;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.isBlank()) continue;
      try {
        JsonNode n = JSON.readTree(line);
        if (n instanceof ObjectNode o) events.add(o);
      } catch (IOException e) {
        // a torn write at a crash: the rest of the job's state is in job.json and its checkpoint
      }
    }
    return events;
  }

  /** A new queued job, submitted anonymously. */
  public Record create(JobSpec spec) throws IOException {
    return create(spec, null);
  }

  /**
   * A new queued job: its folder, spec and record on disk before the caller hears of it.
   *
   * @param submittedBy the submitter's token name, or null
   */
  public synchronized Record create(JobSpec spec, String submittedBy) throws IOException {
    String name = spec.getString("name");
    long seq;
    Path d;
    do { // a folder load() skipped as unreadable still holds its id
      seq = ++lastSeq;
      d = dir(name + "-" + seq);
    } while (Files.exists(d));
    String id = name + "-" + seq;
    Files.createDirectories(d);
    write(
        d.resolve("spec.conf"),
        ("# job " + id + ", as submitted (defaults filled in)\n" + spec.render())
            .getBytes(StandardCharsets.UTF_8));
    Record r = new Record(id, name, seq, State.QUEUED, System.currentTimeMillis(), 0, 0, null, false, null,
        submittedBy);
    save(r);
    return r;
  }

  public synchronized void save(Record r) {
    try {
      write(dir(r.id()).resolve("job.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(r));
    } catch (IOException e) {
      throw new UncheckedIOException("job " + r.id() + ": could not write job.json", e);
    }
  }

  public synchronized void append(String id, ObjectNode event) {
    try {
      Files.write(
          dir(id).resolve("events.jsonl"),
          (event.toString() + "\n").getBytes(StandardCharsets.UTF_8),
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("job " + id + ": could not append to events.jsonl", e);
    }
  }

  /** Writes to a temporary file beside {@code file}, then renames it over {@code file}. */
  private static void write(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, bytes);
    try {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
