package dev.loraone.service;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.JobSpec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.ContentDisposition;
import org.apache.pekko.http.javadsl.model.headers.ContentDispositionTypes;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.MalformedRequestContentRejection;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The service's HTTP API and web page (Pekko HTTP). When the service has tokens ({@link Tokens}; it
 * must when it listens beyond loopback, see {@link Service}) every request but the page's files and
 * {@code /health} needs one ({@link Guard}): reads need scope read, submitting and cancelling one's own
 * jobs submit, cancelling others' jobs and draining worker nodes admin.
 *
 * <pre>
 *   POST /jobs                        HOCON or JSON job spec (at most max-body bytes) -&gt; 201 job | 400 {problems}:
 *                                     bad keys or values, a model or task no worker could open ({@link JobPreflight})
 *   GET  /jobs                        every job's summary
 *   GET  /jobs/{id}                   phase, step, curves and evaluations with the task's metrics (headline: accuracy |
 *                                     perplexity), timeline, workers, artefacts
 *   GET  /jobs/{id}/events            server-sent events: every event so far, then live ones (Last-Event-ID or ?from=N
 *                                     resumes; ?follow=false ends after the events so far)
 *   POST /jobs/{id}/cancel            202 | 404 | 409 (already ended); 403 without admin for another's job
 *   GET  /jobs/{id}/artifacts/adapter the PEFT adapter folder as a zip
 *   GET  /jobs/{id}/artifacts/onnx    the merged ONNX model
 *   GET  /jobs/{id}/artifacts/{path}  any file under the job's output folder (never outside it)
 *   POST /datasets, GET|DELETE /datasets(/{sha})  uploaded datasets, named dataset:&lt;sha&gt; by jobs
 *                                     ({@link DatasetRoutes})
 *   POST /models, GET|DELETE /models(/{id}), GET /models/{id}/{file}  uploaded HF model folders (a zip),
 *                                     named model:&lt;id&gt; by jobs ({@link ModelRoutes})
 *   GET  /workers                     cluster members; POST /workers/{host:port}/leave drains a worker node
 *   GET  /metrics                     Prometheus text; GET /health
 *   GET  /                            the web page (resources web/)
 * </pre>
 */
final class HttpApi extends AllDirectives {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration ASK = Duration.ofSeconds(10);
  private static final Duration POLL = Duration.ofMillis(250);

  private final ActorSystem<?> system;
  private final ActorRef<JobManager.Command> jobs;
  private final JobStore store;
  private final ServiceMetrics metrics;
  private final Workers workers;
  private final Guard guard;
  private final long maxBody;
  private final PathRoots roots;
  private final DatasetRoutes datasets;
  private final ModelStore models;
  private final ModelRoutes modelRoutes;

  /** The cluster's worker nodes, for {@code /workers}. */
  interface Workers {
    ArrayNode list();

    /** Asks {@code hostPort}'s node to leave; false when no worker node has that address. */
    boolean leave(String hostPort);
  }

  HttpApi(
      ActorSystem<?> system,
      ActorRef<JobManager.Command> jobs,
      JobStore store,
      ServiceMetrics metrics,
      Workers workers,
      Tokens tokens,
      long maxBody,
      PathRoots roots,
      DatasetStore datasets,
      ModelStore models,
      long maxUpload,
      long maxModelUpload) {
    this.system = system;
    this.roots = roots;
    this.jobs = jobs;
    this.store = store;
    this.metrics = metrics;
    this.workers = workers;
    this.guard = new Guard(tokens);
    this.maxBody = maxBody;
    UploadRoutes.Users users = names -> ask((ActorRef<List<String>> r) -> new JobManager.Using(names, r));
    this.datasets = new DatasetRoutes(system, datasets, guard, maxUpload, users);
    this.models = models;
    this.modelRoutes = new ModelRoutes(system, models, guard, maxModelUpload, users);
  }

  Route routes() {
    return concat(
        pathEndOrSingleSlash(
            () -> get(() -> getFromResource("web/index.html", ContentTypes.TEXT_HTML_UTF8))),
        pathPrefix("ui", () -> get(() -> getFromResourceDirectory("web"))),
        path(
            "health",
            () -> get(() -> json(StatusCodes.OK, JSON.createObjectNode().put("status", "up")))),
        guard.caller(
            who ->
                extractMethod(
                    m ->
                        m.equals(HttpMethods.GET)
                            ? guard.require(
                                who, Tokens.Scope.READ, "reading jobs, events, artefacts or metrics",
                                () -> api(who))
                            : api(who))));
  }

  /** Everything but the page's files and /health: {@code who} is known, and may read when this is a GET. */
  private Route api(Tokens.Holder who) {
    return concat(
        path(
            "metrics",
            () ->
                get(
                    () ->
                        complete(
                            HttpResponse.create()
                                .withEntity(
                                    HttpEntities.create(
                                        ContentTypes.parse(
                                            "text/plain; version=0.0.4; charset=utf-8"),
                                        metrics.scrape().getBytes(StandardCharsets.UTF_8)))))),
        pathPrefix("jobs", () -> jobRoutes(who)),
        pathPrefix("datasets", () -> datasets.routes(who)),
        pathPrefix("models", () -> modelRoutes.routes(who)),
        pathPrefix("workers", () -> workerRoutes(who)));
  }

  private Route jobRoutes(Tokens.Holder who) {
    return concat(
        pathEnd(
            () ->
                concat(
                    get(
                        () ->
                            onSuccess(
                                ask(JobManager.ListJobs::new), list -> json(StatusCodes.OK, list))),
                    post(
                        () ->
                            guard.require(
                                who,
                                Tokens.Scope.SUBMIT,
                                "submitting a job",
                                () ->
                                    handleRejections(
                                        bodyRejections(),
                                        () ->
                                            withSizeLimit(
                                                maxBody,
                                                () ->
                                                    entity(
                                                        Unmarshaller.entityToString(),
                                                        body -> submit(body, who)))))))),
        pathPrefix(
            PathMatchers.segment(JobStore.ID),
            id ->
                concat(
                    pathEnd(
                        () ->
                            get(
                                () ->
                                    onSuccess(
                                        ask(
                                            (ActorRef<Optional<ObjectNode>> r) ->
                                                new JobManager.GetJob(id, r)),
                                        job ->
                                            job.map(j -> json(StatusCodes.OK, j))
                                                .orElseGet(
                                                    () ->
                                                        error(
                                                            StatusCodes.NOT_FOUND,
                                                            "no job '" + id + "'"))))),
                    path("events", () -> get(() -> events(id))),
                    path("cancel", () -> post(() -> cancel(id, who))),
                    pathPrefix("artifacts", () -> get(() -> artifacts(id))))),
        pathPrefix(
            PathMatchers.segment(),
            bad ->
                error(
                    StatusCodes.BAD_REQUEST,
                    "invalid job id '"
                        + bad
                        + "': expected 1-100 of [A-Za-z0-9._-], starting with a letter or digit")));
  }

  private Route submit(String body, Tokens.Holder who) {
    JobSpec spec;
    try {
      spec = JobSpec.parseString(body, "request body");
    } catch (JobSpec.InvalidJobException e) {
      return invalid(e.problems());
    } catch (IllegalArgumentException e) {
      return error(StatusCodes.BAD_REQUEST, e.getMessage());
    }
    List<String> confined = roots.problems(spec); // before the preflight touches the disk
    if (!confined.isEmpty()) return invalid(confined.stream().map(p -> spec.source() + ": " + p).toList());
    List<String> unknown = datasets.problems(spec); // dataset:<sha> names one this service stores
    if (!unknown.isEmpty()) return invalid(unknown);
    List<String> unknownModel = models.problems(spec); // model:<id> names one this service stores
    if (!unknownModel.isEmpty()) return invalid(unknownModel);
    // never queue a job no worker can open
    List<String> problems = JobPreflight.problems(models.local(datasets.local(spec)));
    if (!problems.isEmpty()) return invalid(problems);
    return onSuccess(
        ask((ActorRef<JobManager.Submitted> r) -> new JobManager.Submit(spec, who.name(), r)),
        s ->
            s.job() == null
                ? error(StatusCodes.SERVICE_UNAVAILABLE, s.error())
                : respondWithHeader(
                    Location.create("/jobs/" + s.job().path("id").asText()),
                    () -> json(StatusCodes.CREATED, s.job())));
  }

  /**
   * Cancels job {@code id}: scope submit for one's own job (submitted under {@code who}'s name), admin for
   * another's.
   */
  private Route cancel(String id, Tokens.Holder who) {
    return guard.require(who, Tokens.Scope.SUBMIT, "cancelling a job", () -> onSuccess(
        ask((ActorRef<Optional<ObjectNode>> r) -> new JobManager.GetJob(id, r)),
        job -> {
          if (job.isEmpty()) return error(StatusCodes.NOT_FOUND, "no job '" + id + "'");
          String owner = job.get().path("submittedBy").asText(null);
          String what = "cancelling job " + id + (owner == null ? "" : ", submitted by '" + owner + "',");
          return guard.require(who, Tokens.cancelNeeds(who, owner), what, () -> onSuccess(
              ask((ActorRef<JobManager.CancelOutcome> r) -> new JobManager.Cancel(id, r)),
              c -> c.error() != null && c.job() == null
                  ? error(StatusCodes.get(c.status()), c.error())
                  : json(StatusCodes.get(c.status()), c.error() == null ? c.job() : c.job().put("error", c.error()))));
        }));
  }

  /** 400 {@code {"error":"invalid job","problems":[...]}}: each problem names the key and what was expected. */
  private Route invalid(List<String> problems) {
    ObjectNode o = JSON.createObjectNode().put("error", "invalid job");
    ArrayNode p = o.putArray("problems");
    problems.forEach(p::add);
    return json(StatusCodes.BAD_REQUEST, o);
  }

  /** A body over --max-body: 413 naming the limit (Pekko's default said "The request content was malformed"). */
  private RejectionHandler bodyRejections() {
    return RejectionHandler.newBuilder()
        .handle(
            MalformedRequestContentRejection.class,
            r ->
                r.getCause() instanceof EntityStreamSizeException
                    ? error(
                        StatusCodes.PAYLOAD_TOO_LARGE,
                        "the request body is larger than the service's limit of "
                            + maxBody
                            + " bytes (loraone serve --max-body)")
                    : error(
                        StatusCodes.BAD_REQUEST,
                        "the request body is not readable: " + r.message()))
        .build();
  }

  /** Every event from the client's position on; completes after the job's last event. */
  private Route events(String id) {
    return optionalHeaderValueByName(
        "Last-Event-ID",
        last ->
            parameterOptional(
                "from",
                from ->
                    parameterOptional(
                        "follow",
                        follow -> {
                          boolean live = !follow.map("false"::equalsIgnoreCase).orElse(false);
                          int start;
                          try {
                            start =
                                last.map(l -> Integer.parseInt(l.trim()) + 1)
                                    .orElseGet(() -> from.map(Integer::parseInt).orElse(0));
                          } catch (NumberFormatException e) {
                            return error(
                                StatusCodes.BAD_REQUEST,
                                "Last-Event-ID / from: expected an event index, got "
                                    + last.orElse(from.orElse("")));
                          }
                          // does the job exist? (an index past the end: the answer carries no
                          // events)
                          return onSuccess(
                              ask(
                                  (ActorRef<JobManager.EventsPage> r) ->
                                      new JobManager.GetEvents(id, Integer.MAX_VALUE, r)),
                              first -> {
                                if (!first.found())
                                  return error(StatusCodes.NOT_FOUND, "no job '" + id + "'");
                                Source<ServerSentEvent, NotUsed> stream =
                                    Source.unfoldAsync(
                                            Math.max(0, start), i -> nextPage(id, i, live))
                                        .mapConcat(
                                            page -> {
                                              List<ServerSentEvent> out =
                                                  new java.util.ArrayList<>();
                                              for (int i = 0; i < page.events().size(); i++) {
                                                ObjectNode e = page.events().get(i);
                                                out.add(
                                                    ServerSentEvent.create(
                                                        e.toString(),
                                                        e.path("event").asText(),
                                                        String.valueOf(page.from() + i)));
                                              }
                                              return out;
                                            })
                                        .keepAlive(
                                            Duration.ofSeconds(15), ServerSentEvent::heartbeat);
                                return completeOK(stream, EventStreamMarshalling.toEventStream());
                              });
                        })));
  }

  /**
   * The next non-empty page of {@code id}'s events from {@code index}, polling while the job runs;
   * empty once it ended.
   */
  private CompletionStage<Optional<org.apache.pekko.japi.Pair<Integer, JobManager.EventsPage>>>
      nextPage(String id, int index, boolean live) {
    return ask((ActorRef<JobManager.EventsPage> r) -> new JobManager.GetEvents(id, index, r))
        .thenCompose(
            p -> {
              if (!p.events().isEmpty())
                return CompletableFuture.completedFuture(
                    Optional.of(org.apache.pekko.japi.Pair.create(index + p.events().size(), p)));
              if (p.ended() || !p.found() || !live)
                return CompletableFuture.completedFuture(Optional.empty());
              return after(POLL, () -> nextPage(id, index, live));
            });
  }

  private Route artifacts(String id) {
    Path out = store.outDir(id);
    return concat(
        path(
            "adapter",
            () -> {
              Path dir = out.resolve("adapter");
              if (!Files.isRegularFile(dir.resolve("adapter_model.safetensors")))
                return error(StatusCodes.NOT_FOUND, "job " + id + " has no adapter yet");
              return complete(
                  HttpResponse.create()
                      .withEntity(
                          HttpEntities.create(
                              ContentTypes.create(
                                  org.apache.pekko.http.javadsl.model.MediaTypes.APPLICATION_ZIP),
                              zip(dir)))
                      .addHeader(
                          ContentDisposition.create(
                              ContentDispositionTypes.ATTACHMENT,
                              java.util.Map.of("filename", id + "-adapter.zip"))));
            }),
        path(
            "onnx",
            () -> {
              Path f = out.resolve("model").resolve("model.onnx");
              return Files.isRegularFile(f)
                  ? getFromFile(f.toFile(), ContentTypes.APPLICATION_OCTET_STREAM)
                  : error(
                      StatusCodes.NOT_FOUND,
                      "job " + id + " has no ONNX model (it has not finished, or exported none)");
            }),
        extractUnmatchedPath(
            rest -> {
              String rel = rest.startsWith("/") ? rest.substring(1) : rest;
              rel = java.net.URLDecoder.decode(rel.replace("+", "%2B"), StandardCharsets.UTF_8);
              Path base = out.toAbsolutePath().normalize();
              Path f;
              try { // a NUL (or another character no file name may hold) makes Path throw: checked
                    // before any resolve
                f =
                    rel.isEmpty() || rel.indexOf('\0') >= 0 || Path.of(rel).isAbsolute()
                        ? null
                        : base.resolve(rel).normalize();
              } catch (java.nio.file.InvalidPathException e) {
                f = null;
              }
              if (f == null || !f.startsWith(base)) {
                return error(
                    StatusCodes.BAD_REQUEST,
                    "artifact path '"
                        + rel.replace("\0", "\\0")
                        + "' is not a file inside job "
                        + id
                        + "'s folder");
              }
              try {
                if (Files.isRegularFile(f) && f.toRealPath().startsWith(base.toRealPath())) {
                  return getFromFile(f.toFile(), ContentTypes.APPLICATION_OCTET_STREAM);
                }
              } catch (IOException e) {
                // not there: 404 below
              }
              return error(StatusCodes.NOT_FOUND, "job " + id + " has no artifact '" + rel + "'");
            }));
  }

  private Route workerRoutes(Tokens.Holder who) {
    return concat(
        pathEnd(() -> get(() -> json(StatusCodes.OK, workers.list()))),
        path(
            PathMatchers.segment(java.util.regex.Pattern.compile("[A-Za-z0-9.\\-]+:\\d{1,5}"))
                .slash("leave"),
            hostPort ->
                post(
                    () ->
                        guard.require(
                            who,
                            Tokens.Scope.ADMIN,
                            "draining a worker node",
                            () ->
                                workers.leave(hostPort)
                                    ? json(
                                        StatusCodes.ACCEPTED,
                                        JSON.createObjectNode().put("leaving", hostPort))
                                    : error(
                                        StatusCodes.NOT_FOUND,
                                        "no worker node at "
                                            + hostPort
                                            + " (GET /workers lists them)")))));
  }

  // ---- helpers ----

  private <T> CompletionStage<T> ask(Function<ActorRef<T>, JobManager.Command> message) {
    return AskPattern.ask(jobs, message::apply, ASK, system.scheduler());
  }

  private Route json(StatusCode status, com.fasterxml.jackson.databind.JsonNode body) {
    return complete(
        HttpResponse.create()
            .withStatus(status)
            .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString())));
  }

  private Route error(StatusCode status, String message) {
    return json(status, JSON.createObjectNode().put("error", message));
  }

  private static byte[] zip(Path dir) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(bytes); var files = Files.list(dir)) {
      for (Path f : files.sorted().toList()) {
        if (!Files.isRegularFile(f)) continue;
        z.putNextEntry(new ZipEntry(f.getFileName().toString()));
        Files.copy(f, z);
        z.closeEntry();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static <T> CompletionStage<T> after(Duration d, Supplier<CompletionStage<T>> next) {
    return CompletableFuture.supplyAsync(
            () -> null, CompletableFuture.delayedExecutor(d.toMillis(), TimeUnit.MILLISECONDS))
        .thenCompose(x -> next.get());
  }
}
