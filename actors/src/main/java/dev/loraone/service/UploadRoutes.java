package dev.loraone.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.JobSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Sink;

/** What the routes of uploads ({@link DatasetRoutes}, {@link ModelRoutes}) share: listing, the guard, the limit. */
abstract class UploadRoutes extends AllDirectives {
  static final ObjectMapper JSON = new ObjectMapper();

  /** The ids of the jobs that have not ended whose spec the predicate accepts ({@link JobManager.Using}). */
  @FunctionalInterface
  interface Users extends Function<Predicate<JobSpec>, CompletionStage<List<String>>> {}

  /** Deletes a stored entry; false when there was none. */
  @FunctionalInterface
  interface Removal {
    boolean remove() throws IOException;
  }

  /** The stored entries' JSON. */
  @FunctionalInterface
  interface Listing {
    List<ObjectNode> get() throws IOException;
  }

  final Guard guard;
  final long maxUpload;
  private final String limitOption;
  final Materializer materializer;
  final Executor blocking;
  private final Users users;

  /** {@code limitOption}: the {@code serve} option that sets {@code maxUpload}, named in a 413. */
  UploadRoutes(ActorSystem<?> system, Guard guard, long maxUpload, String limitOption, Users users) {
    this.guard = guard;
    this.maxUpload = maxUpload;
    this.limitOption = limitOption;
    this.users = users;
    this.materializer = Materializer.matFromSystem(system);
    this.blocking = system.dispatchers().lookup(DispatcherSelector.blocking());
  }

  /** {@code GET}: every stored entry; {@code POST}: {@code upload}, with scope submit ({@code what} names it). */
  Route collection(Tokens.Holder who, Listing list, String what, Supplier<Route> upload) {
    return pathEnd(() -> concat(
        get(() -> {
          try {
            ArrayNode a = JSON.createArrayNode();
            list.get().forEach(a::add);
            return json(StatusCodes.OK, a);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }),
        post(() -> guard.require(who, Tokens.Scope.SUBMIT, what, upload))));
  }

  /**
   * {@code DELETE} of the stored {@code what}: scope admin; 409 naming the jobs that have not ended and name it
   * ({@code names}), 404 when nothing is stored under it, else 204. A worker's cached copy is left alone: its
   * bytes are what the id says.
   */
  Route remove(Tokens.Holder who, String what, Predicate<JobSpec> names, Removal removal) {
    return delete(() -> guard.require(who, Tokens.Scope.ADMIN, "deleting " + what, () -> onSuccess(
        users.apply(names).thenApplyAsync(using -> { // deleting a model's folder is file I/O: the blocking pool
          if (!using.isEmpty()) {
            return error(StatusCodes.CONFLICT, what + " is named by jobs that have not ended: " + String.join(", ",
                using) + " (cancel them or wait for them to end)");
          }
          try {
            return removal.remove() ? complete(StatusCodes.NO_CONTENT)
                : error(StatusCodes.NOT_FOUND, "no " + what + " is stored");
          } catch (IOException e) {
            return error(StatusCodes.INTERNAL_SERVER_ERROR, what + " was not deleted: " + e);
          }
        }, blocking), route -> route)));
  }

  /**
   * Most bytes of a body declared over the limit that are read and dropped before the 413 goes out. The
   * server closes the connection after an early answer; closing a socket with unread bytes makes the kernel
   * reset it, and a client still sending then loses the answer ("header parser received no bytes").
   * Beyond this many bytes the connection is closed without waiting for the rest.
   */
  static final long DRAIN_CAP = 256L << 20;

  /**
   * {@code upload} with the body limited to {@code maxUpload} bytes; a body whose Content-Length is
   * already over it is answered 413 without running {@code upload}, once the body is read and dropped (at
   * most {@link #DRAIN_CAP} bytes), so the client reads the answer.
   */
  Route limited(Supplier<Route> upload) {
    return withoutSizeLimit(() -> extractRequestEntity(entity -> {
      OptionalLong declared = entity.getContentLengthOption();
      if (declared.isEmpty() || declared.getAsLong() <= maxUpload) {
        return withSizeLimit(maxUpload, upload);
      }
      CompletionStage<Done> drained = declared.getAsLong() > DRAIN_CAP
          ? CompletableFuture.completedFuture(Done.getInstance())
          : entity.getDataBytes().runWith(Sink.ignore(), materializer);
      return onComplete(drained, done -> tooLarge());
    }));
  }

  /** 413 for an upload over the limit. */
  Route tooLarge() {
    return error(StatusCodes.PAYLOAD_TOO_LARGE, "the upload is larger than the service's limit of " + maxUpload
        + " bytes (loraone serve " + limitOption + ")");
  }

  Route json(StatusCode status, JsonNode body) {
    return complete(HttpResponse.create().withStatus(status)
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString())));
  }

  Route error(StatusCode status, String message) {
    return json(status, JSON.createObjectNode().put("error", message));
  }
}
