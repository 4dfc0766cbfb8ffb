package dev.loraone.service;

import dev.loraone.data.BadRecordException;
import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.runtime.DatasetFetcher;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.javadsl.FileIO;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * Uploaded datasets over HTTP ({@link DatasetStore}); {@link HttpApi} mounts these under its guard.
 *
 * <pre>
 *   POST /datasets[?format=jsonl|csv|tsv|text][&amp;name=FILE]   the body, streamed to disk (never held in memory), at
 *        most --max-upload bytes (413 beyond), read line by line as the jobs read it (400 naming name:line and
 *        what was expected; {@link DatasetCheck}) -&gt; 201 {id, bytes, rows, format, uploaded} (200 when that
 *        content was stored before: same id). Scope submit.
 *   GET  /datasets          every stored dataset
 *   GET  /datasets/{sha}    the file (Range requests resume a download); X-Loraone-Format: its extension
 *   DELETE /datasets/{sha}  204; 409 while a job that has not ended names it; 404 when not stored. Scope admin.
 * </pre>
 * Jobs name a dataset {@code dataset:<id>} wherever they name a data file; {@link #problems} refuses one
 * the store does not hold when the job is submitted.
 */
final class DatasetRoutes extends UploadRoutes {
  private final DatasetStore store;

  DatasetRoutes(ActorSystem<?> system, DatasetStore store, Guard guard, long maxUpload, Users users) {
    super(system, guard, maxUpload, "--max-upload", users);
    this.store = store;
  }

  /** The routes under {@code /datasets}; GETs have passed the read check. */
  Route routes(Tokens.Holder who) {
    return concat(
        collection(who, () -> store.list().stream().map(DatasetStore.Entry::json).toList(), "uploading a dataset",
            this::upload),
        path(PathMatchers.segment(DatasetRefs.SHA256), sha -> concat(
            get(() -> store.find(sha)
                .map(e -> respondWithHeader(RawHeader.create(DatasetFetcher.FORMAT_HEADER, e.extension()),
                    () -> getFromFile(store.file(e).toFile(), ContentTypes.APPLICATION_OCTET_STREAM)))
                .orElseGet(() -> error(StatusCodes.NOT_FOUND, "no dataset " + sha + " (GET /datasets lists them)"))),
            remove(who, "dataset " + sha, spec -> names(spec, sha), () -> store.delete(sha)))),
        path(PathMatchers.segment(), bad -> error(StatusCodes.BAD_REQUEST,
            "'" + bad + "' is not a dataset id: expected its SHA-256, 64 lower-case hex digits")));
  }

  private Route upload() {
    return parameterOptional("format", format -> parameterOptional("name", name -> extractRequestEntity(entity -> {
      Optional<String> f;
      try {
        f = DatasetCheck.format(format, name, entity.getContentType().toString());
      } catch (IllegalArgumentException e) {
        return error(StatusCodes.BAD_REQUEST, e.getMessage());
      }
      if (f.isEmpty()) {
        return error(StatusCodes.BAD_REQUEST, "which format is the upload? give ?format=jsonl|csv|tsv|text, a ?name="
            + " with its extension, or a Content-Type (application/jsonl, text/csv, text/tab-separated-values,"
            + " text/plain); got Content-Type " + entity.getContentType());
      }
      String label = name.orElse("upload");
      return withRequestTimeout(Duration.ofMinutes(30), () -> limited(() -> extractDataBytes(
          bytes -> onComplete(keep(bytes, f.get(), label), done -> done.fold(this::refused, stored ->
              json(stored.getValue() ? StatusCodes.CREATED : StatusCodes.OK, stored.getKey().json()))))));
    })));
  }

  /** Streams {@code bytes} to an incoming file, hashing them on the way, then checks and keeps it. */
  private CompletionStage<Map.Entry<DatasetStore.Entry, Boolean>> keep(Source<ByteString, ?> bytes, String format,
      String name) {
    Path file;
    try {
      file = store.incoming();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    MessageDigest sha = sha256();
    long[] count = {0};
    return bytes.map(b -> {
      sha.update(b.asByteBuffer());
      count[0] += b.size();
      return b;
    }).runWith(FileIO.toPath(file), materializer).thenApplyAsync(io -> {
      try {
        long rows = DatasetCheck.rows(file, format, name);
        return store.commit(file, HexFormat.of().formatHex(sha.digest()), count[0], rows, format);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (DatasetStore.FormatConflict e) {
        throw new IllegalStateException(e.getMessage(), e);
      }
    }, blocking).whenComplete((ok, failure) -> {
      if (failure != null) {
        try {
          Files.deleteIfExists(file);
        } catch (IOException e) {
          // a leftover in incoming/ is harmless
        }
      }
    });
  }

  /** An upload that was not kept: 413 over the limit, 400 for a bad record or format, 409 for a format clash. */
  private Route refused(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof EntityStreamSizeException) {
        return tooLarge();
      }
      if (c instanceof BadRecordException || c instanceof IllegalArgumentException) {
        return error(StatusCodes.BAD_REQUEST, "invalid dataset: " + c.getMessage());
      }
      if (c instanceof IllegalStateException && c.getCause() instanceof DatasetStore.FormatConflict) {
        return error(StatusCodes.CONFLICT, c.getMessage());
      }
    }
    Throwable root = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return error(StatusCodes.INTERNAL_SERVER_ERROR, "the upload was not stored: " + root);
  }

  /** Every key of {@code spec} naming a dataset this service does not hold, as "'job.key' = value: why". */
  List<String> problems(JobSpec spec) {
    List<String> out = new ArrayList<>();
    Map<String, String> refs;
    try {
      refs = DatasetRefs.of(spec);
    } catch (IllegalArgumentException e) {
      return List.of(spec.source() + ": " + e.getMessage());
    }
    refs.forEach((key, sha) -> {
      if (store.find(sha).isEmpty()) {
        out.add(spec.source() + ": 'job." + key + "' = \"dataset:" + sha + "\": no such dataset on this service"
            + " (POST /datasets uploads one; GET /datasets lists them)");
      }
    });
    return out;
  }

  /** Whether {@code spec} names dataset {@code sha}. */
  private static boolean names(JobSpec spec, String sha) {
    try {
      return DatasetRefs.of(spec).containsValue(sha);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** {@code spec} with its datasets named by their stored files: what {@link JobPreflight} checks. */
  JobSpec local(JobSpec spec) {
    Map<String, String> paths = new java.util.LinkedHashMap<>();
    DatasetRefs.of(spec).forEach((key, sha) -> store.find(sha)
        .ifPresent(e -> paths.put(key, store.file(e).toAbsolutePath().toString())));
    return DatasetRefs.with(spec, paths);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
