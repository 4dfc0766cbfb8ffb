package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.Phase;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.runtime.JobEventJson;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link JobView} folds a job's events, as {@link JobEventJson} writes them, into what the API and the page show. */
class JobViewTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JobId LLAMA = new JobId("llama-1");
  private static final JobId BERT = new JobId("bert-1");

  /** A causal-LM job's coordinator events: two steps, an evaluation, the end (perplexity = exp(loss)). */
  static List<JobEvent> causalLm() {
    JobEvent.Evaluated eval = new JobEvent.Evaluated(LLAMA, 2, 2.0,
        TaskMetrics.summarise(TaskMetrics.CAUSAL_LM, 2.0, 8, Map.of("tokens", 96.0)), 8);
    return List.of(
        new JobEvent.PhaseChanged(LLAMA, Phase.TRAINING, "2 steps"),
        step(LLAMA, 1, 3.0, TaskMetrics.summarise(TaskMetrics.CAUSAL_LM, 3.0, 8, Map.of("tokens", 40.0))),
        step(LLAMA, 2, 2.5, TaskMetrics.summarise(TaskMetrics.CAUSAL_LM, 2.5, 8, Map.of("tokens", 44.0))),
        eval,
        new JobEvent.Finished(LLAMA, Path.of("adapter"), "ab".repeat(32), eval, Map.of()));
  }

  static JobEvent.StepDone step(JobId job, int step, double loss, Map<String, Double> metrics) {
    return new JobEvent.StepDone(job, step, 2, loss, metrics, 1e-3, 0.5, 0.25);
  }

  static JobView fold(String id, List<JobEvent> events) {
    String name = id.substring(0, id.indexOf('-'));
    JobView v = new JobView(new JobStore.Record(id, name, 1, JobStore.State.RUNNING, 1, 2, 0, null, false, null, null));
    long time = 1000;
    for (JobEvent e : events) v.add(JobEventJson.toNode(e).put("time", time++));
    return v;
  }

  @Test
  void aCausalLmJobShowsPerplexityCurvesAndNoAccuracy() {
    ObjectNode d = fold("llama-1", causalLm()).detail();
    assertEquals("perplexity", d.path("headline").asText(), d::toString);
    assertEquals(Math.exp(2.0), d.path("evalPerplexity").asDouble(), 1e-12, d::toString);
    JsonNode curve = d.path("curve");
    assertEquals(2, curve.size(), curve::toString);
    for (int i = 0; i < 2; i++) {
      JsonNode p = curve.get(i);
      double loss = p.path("loss").asDouble();
      assertEquals(Math.exp(loss), p.path("perplexity").asDouble(), 1e-12, p::toString);
      assertEquals(Math.exp(loss), p.path("metrics").path("perplexity").asDouble(), 1e-12, p::toString);
      assertFalse(p.has("accuracy") || p.path("metrics").has("accuracy"), () -> "a causal LM has no accuracy: " + p);
    }
    assertEquals(44.0, curve.get(1).path("tokens").asDouble(), curve::toString);
    JsonNode eval = d.path("evaluations").get(0);
    assertEquals(2, eval.path("step").asInt());
    assertEquals(Math.exp(2.0), eval.path("perplexity").asDouble(), 1e-12, eval::toString);
    assertEquals(96.0, eval.path("metrics").path("tokens").asDouble(), eval::toString);
    assertEquals(8, eval.path("examples").asInt(), eval::toString);
    assertFalse(eval.has("accuracy"), eval::toString);
  }

  @Test
  void aClassificationJobKeepsItsAccuracyFields() {
    JobEvent.Evaluated eval = new JobEvent.Evaluated(BERT, 2, 0.9, Map.of("accuracy", 0.75), 32);
    ObjectNode d = fold("bert-1", List.of(step(BERT, 1, 1.2, Map.of("accuracy", 0.5)),
        step(BERT, 2, 1.0, Map.of("accuracy", 0.625)), eval)).detail();
    assertEquals("accuracy", d.path("headline").asText(), d::toString);
    assertEquals(0.75, d.path("evalAccuracy").asDouble(), d::toString);
    assertEquals(0.625, d.path("curve").get(1).path("accuracy").asDouble(), d::toString);
    assertEquals(0.75, d.path("evaluations").get(0).path("accuracy").asDouble(), d::toString);
    assertFalse(d.path("curve").get(1).has("perplexity"), d::toString);
  }

  @Test
  void eventsOfAnOlderServiceWithoutAMetricsObjectStillShowTheirAccuracy() throws Exception {
    JobView v = fold("bert-1", List.of());
    v.add((ObjectNode) JSON.readTree("{\"event\":\"StepDone\",\"job\":\"bert-1\",\"step\":1,\"steps\":2,\"loss\":1.5,"
        + "\"accuracy\":0.25,\"lr\":0.001,\"gradNorm\":1.0,\"seconds\":0.2,\"time\":5}"));
    JsonNode p = v.detail().path("curve").get(0);
    assertEquals(0.25, p.path("accuracy").asDouble(), p::toString);
    assertEquals(0.25, p.path("metrics").path("accuracy").asDouble(), p::toString);
    assertEquals("accuracy", v.summary().path("headline").asText());
  }

  @Test
  void aJobWithoutStepsNamesNoHeadline() {
    JobEvent waiting = new JobEvent.PhaseChanged(LLAMA, Phase.WAITING_FOR_WORKERS, "none yet");
    ObjectNode s = fold("llama-1", List.of(waiting)).summary();
    assertFalse(s.has("headline"), s::toString);
    assertEquals("WAITING_FOR_WORKERS", s.path("phase").asText(), s::toString);
  }
}
