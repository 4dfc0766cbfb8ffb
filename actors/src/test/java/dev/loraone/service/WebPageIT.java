package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web page as a user sees it: a real {@code loraone serve} (packaged jar, one local worker)
 * opened in a real headless Chromium driven by Selenium. A tiny real MiniLM job is submitted from
 * the page's form, selected in the job list, watched (the loss curve grows, the phase timeline
 * fills) and cancelled from the page; the HTTP API then says CANCELLED with the reason. An invalid
 * spec shows the server's problems under the form. A tiny causal-LM job (a random Llama) charts perplexity
 * instead of accuracy, with that axis label. On a second service, with tokens, the page asks for one and,
 * given a read token, lists and follows a job (its event stream authenticated by the page's cookie), names
 * its submitter and shows the 403 of a cancel.
 *
 * <p>Needs Debian's {@code chromium} and {@code chromium-driver} ({@code /usr/bin/chromium},
 * {@code /usr/bin/chromedriver}; {@code .ci/run} installs them; {@code -Dloraone.chromium=PATH} and
 * {@code -Dloraone.chromedriver=PATH} point elsewhere). Without them it fails when {@code CI=true} and
 * is skipped otherwise. Selenium Manager never runs: the driver and the browser are given
 * explicitly. Screenshots go to {@code target/failsafe-artifacts/}: {@code web-running.png},
 * {@code web-cancelled.png}, {@code web-invalid.png}, and {@code web-failure-<test>.png} (with the
 * page's HTML) when a test fails. The page must log no script error.
 */
class WebPageIT {
  static final Path CHROMIUM = Path.of(System.getProperty("loraone.chromium", "/usr/bin/chromium"));
  static final Path CHROMEDRIVER = Path.of(System.getProperty("loraone.chromedriver", "/usr/bin/chromedriver"));
  static final Path ARTIFACTS = Path.of("target", "failsafe-artifacts").toAbsolutePath();
  /** Enough steps to watch the curve grow and cancel mid-training (a step takes 0.1-0.3 s here). */
  static final int STEPS = 300;
  static final Duration FIRST_STEP = Duration.ofSeconds(90);
  static final Duration UI = Duration.ofSeconds(20);

  static {
    try (var old = Files.exists(ARTIFACTS) ? Files.list(ARTIFACTS) : java.util.stream.Stream.<Path>empty()) {
      for (Path f : old.filter(f -> f.getFileName().toString().startsWith("web-")).toList())
        Files.delete(f); // last build's pictures
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @TempDir static Path dir;
  static ServiceProcess service;
  static ChromeDriverService driverService;
  static WebDriver browser;

  @RegisterExtension
  static final AfterTestExecutionCallback SCREENSHOT_ON_FAILURE = (ExtensionContext c) -> {
    if (c.getExecutionException().isPresent() && browser != null) {
      String name = "web-failure-" + c.getRequiredTestMethod().getName();
      screenshot(name + ".png");
      try {
        Files.writeString(ARTIFACTS.resolve(name + ".html"), browser.getPageSource());
      } catch (RuntimeException e) {
        // the browser is gone: the screenshot attempt said so already
      }
    }
  };

  /** Why the browser can't run (Chromium or its driver missing), or null when it can. */
  static String missingBrowser() {
    List<String> missing = new ArrayList<>();
    for (Path p : List.of(CHROMIUM, CHROMEDRIVER)) if (!Files.isExecutable(p)) missing.add(p.toString());
    return missing.isEmpty()
        ? null
        : "WebPageIT needs headless Chromium and its driver, missing: "
            + String.join(", ", missing)
            + "; install them with: apt-get update && apt-get install -y chromium chromium-driver";
  }

  @BeforeAll
  static void start() throws Exception {
    String missing = missingBrowser();
    if (missing != null) {
      // CI must run this test (.ci/run installs Chromium): fail there; elsewhere each test is
      // skipped with the message
      if ("true".equalsIgnoreCase(System.getenv("CI")))
        fail(missing + " (CI=true: .ci/run installs them when missing)");
      return;
    }
    Files.createDirectories(ARTIFACTS);
    service = ServiceProcess.start(dir, dir.resolve("data"), 0, List.of("--workers", "1"));
    Logger.getLogger("org.openqa.selenium").setLevel(Level.SEVERE); // no "no CDP for Chromium N" warning
    driverService = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile())
        .usingAnyFreePort()
        .withLogFile(dir.resolve("chromedriver.log").toFile())
        // Chromium's crash reports, dconf and caches in the temp folder, not the user's home
        .withEnvironment(Map.of("XDG_CONFIG_HOME", Files.createDirectories(dir.resolve("xdg-config")).toString(),
            "XDG_CACHE_HOME", Files.createDirectories(dir.resolve("xdg-cache")).toString()))
        .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        "--user-data-dir=" + Files.createDirectories(dir.resolve("chromium-profile")), "--window-size=1400,1000");
    browser = new ChromeDriver(driverService, options);
    browser.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30)).scriptTimeout(Duration.ofSeconds(10));
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (browser != null) browser.quit();
    } finally {
      browser = null;
      try {
        if (driverService != null) driverService.stop();
      } finally {
        driverService = null;
        if (service != null) service.close();
        service = null;
      }
    }
  }

  @BeforeEach
  void open() {
    Assumptions.assumeTrue(browser != null, WebPageIT::missingBrowser);
    browser.get(service.url + "/");
    await("the page's job list", b -> !b.findElements(By.cssSelector("#jobs tbody")).isEmpty());
  }

  /**
   * The page threw nothing and logged no error (but the 400 of the invalid spec, and the 401 and 403 of
   * a service with tokens, which the browser logs as failed loads).
   */
  @AfterEach
  void noScriptErrors() {
    if (browser == null) return;
    List<String> errors = browser.manage().logs().get(LogType.BROWSER).getAll().stream()
        .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
        .map(LogEntry::getMessage)
        .filter(m -> !m.matches("(?s).*Failed to load resource: the server responded with a status of 40[013].*"))
        .toList();
    assertEquals(List.of(), errors, "errors in the browser console");
  }

  @Test
  void submitWatchAndCancelAJobFromThePage() throws Exception {
    // submit from the form
    type(el("spec"), ServiceProcess.tinyJob("web-tiny", STEPS, false));
    el("submit").click();
    String result = await("'submitted <id>' under the form", b -> {
      String t = el("submit-result").getText();
      return t.startsWith("submitted ") ? t : null;
    });
    String id = result.substring("submitted ".length()).trim();
    assertTrue(id.startsWith("web-tiny"), result);

    // it appears in the job list; select it there
    By row = By.cssSelector("#jobs tbody tr[data-id='" + id + "']");
    await("job " + id + " in the job list", b -> !b.findElements(row).isEmpty());
    await("a click on job " + id + "'s row", b -> {
      b.findElement(row).click(); // the list is redrawn every 2 s: a stale row is clicked again
      return true;
    });
    await("job " + id + "'s detail", b -> el("detail").isDisplayed() && id.equals(el("detail-title").getText()));
    await("the row of the selected job marked", b -> b.findElement(row).getAttribute("class").contains("selected"));

    // the loss curve grows while it trains
    int first = await("the loss curve's first points", FIRST_STEP, b -> {
      int n = lossPoints();
      return n >= 3 ? n : null;
    });
    int later = await("the loss curve to grow past " + first + " points", b -> {
      int n = lossPoints();
      return n >= first + 12 ? n : null; // a dozen more steps: a curve worth a screenshot
    });
    assertTrue(later > first, later + " > " + first);
    assertEquals("RUNNING", el("state").getText());
    assertEquals("TRAINING", el("phase").getText());
    assertTrue(el("workers").getText().contains("local"), el("workers").getText());
    await("where the job runs, by the scheduler", b -> el("schedule").getText().startsWith("on 127.0.0.1:"));
    assertTrue(el("step").getText().endsWith("/" + STEPS), el("step").getText());
    assertEquals("accuracy", el("metric-axis").getText(), "a classification job's right axis");
    assertEquals("train accuracy (right axis)", el("legend-train").getText());
    assertEquals("Training loss and accuracy", el("chart-title").getText());

    // the phase timeline shows the phases so far, in order
    List<String> timeline = texts("#timeline li");
    int at = -1;
    for (String phase : List.of("QUEUED", "WAITING_FOR_WORKERS", "GRADIENT_ACCUMULATION", "SVD_INIT", "TRAINING")) {
      int i = indexOf(timeline, " " + phase);
      assertTrue(i > at, "phase " + phase + " after index " + at + " in the timeline " + timeline);
      at = i;
    }
    screenshot("web-running.png");

    // cancel from the page
    assertTrue(el("cancel").isEnabled(), "Cancel enabled while it runs");
    el("cancel").click();
    await("state CANCELLED on the page", b -> "CANCELLED".equals(el("state").getText()));
    await("the reason on the page", b -> el("reason").getText().contains("cancelled: by the user"));
    assertFalse(el("cancel").isEnabled(), "Cancel disabled once cancelled");
    await("CANCELLED in the job list", b -> {
      List<WebElement> cells = b.findElement(row).findElements(By.tagName("td"));
      return cells.size() > 1 && "CANCELLED".equals(cells.get(1).getText());
    });
    await("the timeline to end with CANCELLED", b -> {
      List<String> t = texts("#timeline li");
      String end = t.isEmpty() ? "" : t.get(t.size() - 1);
      return end.contains(" CANCELLED") && end.contains("cancelled: by the user");
    });
    int stopped = lossPoints();
    screenshot("web-cancelled.png");

    // the API agrees
    JsonNode job = service.awaitJob(id, j -> "CANCELLED".equals(j.path("state").asText()), Duration.ofSeconds(10));
    assertTrue(job.path("reason").asText().contains("cancelled: by the user"), job.toString());
    assertTrue(job.path("cancelRequested").asBoolean(), job.toString());
    int step = job.path("step").asInt();
    assertTrue(step > 0 && step < STEPS, "cancelled mid-training: " + job);
    assertEquals(step, stopped, "the page's curve ends at the job's last step");
  }

  @Test
  void anInvalidSpecShowsTheServersProblems() throws Exception {
    type(el("spec"), "job {\n  name = web-bad\n  train { steps = 3, stepz = 4 }\n}\n");
    el("submit").click();
    String shown = await("the server's problems under the form", b -> {
      String t = el("submit-result").getText();
      return t.contains("stepz") ? t : null;
    });
    assertTrue(shown.startsWith("400 invalid job"), shown);
    assertTrue(shown.contains("unknown key 'job.train.stepz'"), shown);
    screenshot("web-invalid.png");
    ServiceProcess.Response jobs = service.get("/jobs");
    assertEquals(200, jobs.status());
    for (JsonNode j : jobs.body())
      assertNotEquals("web-bad", j.path("name").asText(), "no job was created: " + jobs.body());
  }

  @Test
  void aCausalLmJobChartsPerplexity() throws Exception {
    Path llama = dir.resolve("tiny-llama");
    LlamaFixture.Spec s = LlamaFixture.Spec.tiny(false);
    LlamaFixture.write(llama, s, 41, DType.F32, false);
    LlamaFixture.writeTokenizer(llama, s);
    Random r = new Random(3);
    List<String> pairs = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      String prompt = "w" + (3 + r.nextInt(47)) + " w" + (3 + r.nextInt(47));
      pairs.add("{\"prompt\": \"" + prompt + "\", \"completion\": \"w10 w11" + " w12".repeat(1 + i % 3) + "\"}");
    }
    Path task = Files.write(dir.resolve("pairs.jsonl"), pairs);
    int steps = 8;
    type(el("spec"), """
        job {
          name = web-llama
          model = "%s"
          task = "%s"
          lora { rank = 2, alpha = 4, targets = all-linear }
          init { batch = 4, iters = 4, shards = 2 }
          optimizer { lr = 1e-2, warmup = 1 }
          train { steps = %d, batch = 8, micro-batch = 4, max-length = 16 }
          eval { every = 4, examples = 8 }
          export.onnx = false
        }
        """.formatted(llama, task, steps));
    el("submit").click();
    String id = await("'submitted <id>' under the form", b -> {
      String t = el("submit-result").getText();
      return t.startsWith("submitted ") ? t.substring("submitted ".length()).trim() : null;
    });
    await("job " + id + "'s detail", b -> id.equals(el("detail-title").getText()));
    await("job " + id + " to succeed on the page", Duration.ofMinutes(3),
        b -> "SUCCEEDED".equals(el("state").getText()));
    await("the whole curve", b -> lossPoints() == steps);

    assertEquals("perplexity", el("metric-axis").getText(), "a causal LM's right axis");
    assertEquals("train perplexity (right axis)", el("legend-train").getText());
    assertEquals("eval perplexity", el("legend-eval").getText());
    assertEquals("Training loss and perplexity", el("chart-title").getText());
    String stats = el("chart-stats").getText();
    assertTrue(stats.contains("train perplexity ") && stats.contains("eval perplexity ") && !stats.contains("accuracy"),
        stats);
    String trainPoints = browser.findElement(By.cssSelector("#loss-chart path.acc-line")).getAttribute("data-points");
    assertEquals(String.valueOf(steps), trainPoints, "a perplexity point per step");
    screenshot("web-llama.png");

    JsonNode job = service.awaitJob(id, j -> "SUCCEEDED".equals(j.path("state").asText()), Duration.ofSeconds(10));
    assertEquals("perplexity", job.path("headline").asText(), job::toString);
    int evals = job.path("evaluations").size();
    assertTrue(evals >= 2, () -> "evaluations at steps 4 and 8: " + job);
    int shown = browser.findElements(By.cssSelector("#loss-chart circle.eval-point")).size();
    assertEquals(evals, shown, "an eval point each");
    JsonNode last = job.path("evaluations").get(evals - 1);
    assertEquals(Math.exp(last.path("loss").asDouble()), last.path("perplexity").asDouble(), 1e-6, last::toString);
  }

  /**
   * A service with tokens: the page says it needs one; with a read token entered it lists the jobs and
   * follows one's event stream (the cookie carries the token there), shows its submitter, and a cancel
   * shows the 403 naming the scope needed.
   */
  @Test
  void onAServiceWithTokensThePageAsksForOneAndFollowsAJobWithIt() throws Exception {
    String viewer = "viewer-" + System.nanoTime() + "-0123456789";
    String alice = "alice-" + System.nanoTime() + "-0123456789";
    Path tokens = Files.writeString(dir.resolve("tokens.txt"), viewer + " read viewer\n" + alice + " submit alice\n");
    try (ServiceProcess secured = ServiceProcess.start(dir, dir.resolve("data-tokens"), 0,
        List.of("--workers", "0", "--token-file", tokens.toString()))) {
      secured.token = alice;
      ServiceProcess.Response r = secured.post("/jobs", ServiceProcess.tinyJob("web-token", 2, false));
      assertEquals(201, r.status(), r.body()::toString);
      String id = r.body().path("id").asText(); // no worker: it waits, and its events say so

      browser.get(secured.url + "/");
      try {
        follow(id, viewer);
      } finally {
        browser.get("about:blank"); // the page stops polling before this service stops
      }
      assertEquals(202, secured.post("/jobs/" + id + "/cancel", "").status(), "alice cancels her job");
      secured.awaitEnd(id, Duration.ofSeconds(30));
    }
  }

  /** On the page of a service with tokens: enters {@code viewer}'s token and follows job {@code id}. */
  private static void follow(String id, String viewer) {
    await("the page asking for a token", b -> el("conn").getText().contains("needs a token"));
    type(el("token"), viewer);
    el("token").sendKeys(org.openqa.selenium.Keys.TAB); // a change event: the page keeps it and reloads
    By row = By.cssSelector("#jobs tbody tr[data-id='" + id + "']");
    await("job " + id + " in the job list", b -> !b.findElements(row).isEmpty());
    await("a click on job " + id + "'s row", b -> {
      b.findElement(row).click();
      return true;
    });
    await("its submitter", b -> "alice".equals(el("by").getText()));
    await("its events (the stream took the cookie)", b -> indexOf(texts("#timeline li"), " QUEUED") >= 0);
    el("cancel").click();
    await("the 403 naming the scope", b -> el("reason").getText().contains("needs a token with scope 'submit'"));
    assertEquals("", el("conn").getText());
    screenshot("web-tokens.png");
  }

  // ---- helpers ----

  static WebElement el(String id) {
    return browser.findElement(By.id(id));
  }

  /** Clears a field and types {@code text} into it as a user does. */
  static void type(WebElement field, String text) {
    field.clear();
    field.sendKeys(text);
    assertEquals(text, field.getDomProperty("value"));
  }

  /**
   * The loss line's data-points (0 before the first step), read in one script: the page redraws the
   * chart on every event.
   */
  static int lossPoints() {
    Object n =
        ((JavascriptExecutor) browser)
            .executeScript(
                "const p = document.querySelector('#loss-chart path.loss-line'); return p ? "
                    + "p.getAttribute('data-points') : '0';");
    return Integer.parseInt(String.valueOf(n));
  }

  /**
   * The rendered text of every element {@code css} selects, read in one script (the page redraws
   * them as events come).
   */
  @SuppressWarnings("unchecked")
  static List<String> texts(String css) {
    return (List<String>) ((JavascriptExecutor) browser).executeScript(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText);", css);
  }

  static int indexOf(List<String> lines, String part) {
    for (int i = 0; i < lines.size(); i++) if (lines.get(i).contains(part)) return i;
    return -1;
  }

  static <T> T await(String what, Function<WebDriver, T> condition) {
    return await(what, UI, condition);
  }

  /**
   * Waits until {@code condition} gives a non-null, non-false value; fails naming what with the
   * page and the service log.
   */
  static <T> T await(String what, Duration timeout, Function<WebDriver, T> condition) {
    WebDriverWait wait = new WebDriverWait(browser, timeout, Duration.ofMillis(100));
    wait.ignoring(StaleElementReferenceException.class);
    try {
      return wait.until(condition::apply);
    } catch (TimeoutException e) {
      String page;
      try {
        page = (String) ((JavascriptExecutor) browser).executeScript("return document.body.innerText");
      } catch (RuntimeException ex) {
        page = "(no page text: " + ex + ")";
      }
      throw new AssertionError(
          "waited "
              + timeout.toSeconds()
              + " s for "
              + what
              + "; the page says:\n"
              + page
              + "\n"
              + service.describe(),
          e);
    }
  }

  static void screenshot(String name) {
    try {
      File f = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
      Files.copy(f.toPath(), ARTIFACTS.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      System.err.println("WebPageIT: no screenshot " + name + ": " + e);
    }
  }
}
