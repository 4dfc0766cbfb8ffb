package dev.loraone.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The HTTP side of {@link Tokens}: who a request comes from (401 when the service has tokens and the
 * request none it knows) and whether that caller's scopes allow it (403 naming the scope needed).
 *
 * <p>A token travels in {@code Authorization: Bearer <token>}. For {@code GET} only, the cookie
 * {@link #COOKIE} is accepted too: the web page sets it so that what the browser fetches by itself
 * (its event stream, artefact links) carries the token. Requests that change something never take
 * the cookie, so another site cannot make a browser submit or cancel (no CSRF), and the page sets it
 * {@code SameSite=Strict} anyway.
 */
final class Guard extends AllDirectives {
  /** The web page's cookie: the token, URI-encoded. */
  static final String COOKIE = "loraone-token";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Tokens tokens;

  Guard(Tokens tokens) {
    this.tokens = tokens;
  }

  /** {@code inner} with the request's caller; 401 when the service has tokens and the request none it knows. */
  Route caller(Function<Tokens.Holder, Route> inner) {
    if (!tokens.required()) return inner.apply(Tokens.ANYONE);
    return extractMethod(method -> optionalHeaderValueByName("Authorization", header -> optionalCookie(COOKIE,
        cookie -> {
          Optional<String> presented = header.map(h -> h.startsWith("Bearer ") ? h.substring(7).strip() : "");
          if (presented.isEmpty() && method.equals(HttpMethods.GET) && cookie.isPresent()) {
            presented = Optional.of(URLDecoder.decode(cookie.get().value(), StandardCharsets.UTF_8));
          }
          Optional<Tokens.Holder> who = presented.flatMap(tokens::find);
          if (who.isPresent()) return inner.apply(who.get());
          String why = presented.isPresent() ? "wrong bearer token"
              : "this request needs Authorization: Bearer <token>"
                  + (cookie.isPresent() ? " (the page's cookie is taken for reads only)" : "");
          return respondWithHeader(WWWAuthenticate.create(HttpChallenge.create("Bearer", "loraone")),
              () -> error(StatusCodes.UNAUTHORIZED, why));
        })));
  }

  /** {@code inner} when {@code who} has {@code scope}; 403 naming {@code what} and the scope otherwise. */
  Route require(Tokens.Holder who, Tokens.Scope scope, String what, Supplier<Route> inner) {
    return who.has(scope) ? inner.get() : error(StatusCodes.FORBIDDEN, Tokens.denied(who, scope, what));
  }

  Route error(StatusCode status, String message) {
    return complete(HttpResponse.create().withStatus(status).withEntity(
        HttpEntities.create(ContentTypes.APPLICATION_JSON, JSON.createObjectNode().put("error", message).toString())));
  }
}
