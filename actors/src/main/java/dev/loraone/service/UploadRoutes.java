package dev.loraone.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
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

/** What the routes of uploads ({@link DatasetRoutes}, {@link ModelRoutes}) share: listing, the guard, the limit. */
abstract class UploadRoutes extends AllDirectives {
  static final ObjectMapper JSON = new ObjectMapper();

  /** The stored entries' JSON. */
  @FunctionalInterface
  interface Listing {
    List<ObjectNode> get() throws IOException;
  }

  final Guard guard;
  final long maxUpload;
  final Materializer materializer;
  final Executor blocking;

  UploadRoutes(ActorSystem<?> system, Guard guard, long maxUpload) {
    this.guard = guard;
    this.maxUpload = maxUpload;
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

  /** 413 for an upload over {@code --max-upload}. */
  Route tooLarge() {
    return error(StatusCodes.PAYLOAD_TOO_LARGE, "the upload is larger than the service's limit of " + maxUpload
        + " bytes (loraone serve --max-upload)");
  }

  Route json(StatusCode status, JsonNode body) {
    return complete(HttpResponse.create().withStatus(status)
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString())));
  }

  Route error(StatusCode status, String message) {
    return json(status, JSON.createObjectNode().put("error", message));
  }
}
