package dev.loraone.service;

import dev.loraone.protocol.job.DatasetRefs;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.ModelRefs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.javadsl.FileIO;

/**
 * Uploaded HF model folders over HTTP ({@link ModelStore}); {@link HttpApi} mounts these under its guard.
 *
 * <pre>
 *   POST /models             the body: a zip of the folder (config.json, *.safetensors [+ index], tokenizer.json,
 *        ...), streamed to disk, at most --max-model-upload bytes (413 beyond; also the unpacked limit), unpacked
 *        safely and checked as a job opens it ({@link ModelUnpack}; 400 naming the entry or file and what was
 *        expected) -&gt; 201 {id, files, bytes, modelType, uploaded} (200 when stored before: same id). Scope submit.
 *   GET  /models             every stored model
 *   GET  /models/{id}        its manifest: {id, files: [{name, sha256, bytes}], bytes, modelType, uploaded}
 *   GET  /models/{id}/{name} one file (Range requests resume a download)
 *   DELETE /models/{id}      204; 409 while a job that has not ended names it; 404 when not stored. Scope admin.
 * </pre>
 * Jobs name a model {@code model:<id>} ({@link dev.loraone.protocol.job.ModelRefs}, where the id's formula is).
 */
final class ModelRoutes extends UploadRoutes {
  private final ModelStore store;

  ModelRoutes(ActorSystem<?> system, ModelStore store, Guard guard, long maxUpload, Users users) {
    super(system, guard, maxUpload, "--max-model-upload", users);
    this.store = store;
  }

  /** The routes under {@code /models}; GETs have passed the read check. */
  Route routes(Tokens.Holder who) {
    return concat(
        collection(who, () -> store.list().stream().map(ModelStore.Entry::json).toList(), "uploading a model",
            this::upload),
        pathPrefix(PathMatchers.segment(DatasetRefs.SHA256), id -> store.find(id)
            .map(e -> concat(
                pathEnd(() -> concat(get(() -> json(StatusCodes.OK, e.json())),
                    remove(who, "model " + id, spec -> names(spec, id), () -> store.remove(id)))),
                path(PathMatchers.remaining(), name -> get(() -> store.file(e, name)
                    .map(f -> getFromFile(f.toFile(), ContentTypes.APPLICATION_OCTET_STREAM))
                    .orElseGet(() -> error(StatusCodes.NOT_FOUND, "model " + id + " has no file '" + name + "'"))))))
            .orElseGet(() -> error(StatusCodes.NOT_FOUND, "no model " + id + " (GET /models lists them)"))),
        pathPrefix(PathMatchers.segment(), bad -> error(StatusCodes.BAD_REQUEST,
            "'" + bad + "' is not a model id: expected 64 lower-case hex digits as POST /models answers")));
  }

  /** Whether {@code spec} names model {@code id}. */
  private static boolean names(JobSpec spec, String id) {
    try {
      return ModelRefs.of(spec).filter(id::equals).isPresent();
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private Route upload() {
    return withRequestTimeout(Duration.ofMinutes(60), () -> limited(() -> extractDataBytes(
        bytes -> onComplete(keep(bytes), done -> done.fold(this::refused, stored ->
            json(stored.getValue() ? StatusCodes.CREATED : StatusCodes.OK, stored.getKey().json()))))));
  }

  /** Streams the zip to an incoming file, then unpacks, checks and keeps the folder. */
  private CompletionStage<Map.Entry<ModelStore.Entry, Boolean>> keep(
      org.apache.pekko.stream.javadsl.Source<org.apache.pekko.util.ByteString, ?> bytes) {
    Path zip;
    Path dir;
    try {
      zip = store.incoming();
      dir = store.unpacking();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.runWith(FileIO.toPath(zip), materializer).thenApplyAsync(io -> {
      try {
        ModelUnpack.Unpacked u = ModelUnpack.unzip(zip, dir, maxUpload);
        String type = ModelUnpack.check(dir, u.files());
        return store.commit(dir, u, type);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, blocking).whenComplete((ok, failure) -> {
      try {
        Files.deleteIfExists(zip);
        if (failure != null) ModelStore.delete(dir);
      } catch (IOException e) {
        // a leftover in incoming/ is harmless
      }
    });
  }

  /** An upload that was not kept: 413 over the limit, 400 for a bad archive or folder. */
  private Route refused(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof EntityStreamSizeException) {
        return tooLarge();
      }
      if (c instanceof IllegalArgumentException) return error(StatusCodes.BAD_REQUEST, "invalid model: "
          + c.getMessage());
    }
    Throwable root = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return error(StatusCodes.INTERNAL_SERVER_ERROR, "the upload was not stored: " + root);
  }
}
