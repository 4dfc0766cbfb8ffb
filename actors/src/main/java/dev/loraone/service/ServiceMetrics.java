package dev.loraone.service;

import dev.loraone.protocol.job.JobEvent;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.job.TaskMetrics;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntSupplier;

/**
 * The service's Prometheus metrics ({@code GET /metrics}), fed from the jobs' events:
 *
 * <pre>
 *   loraone_step_seconds            summary   wall time of an optimizer step (all jobs)
 *   loraone_tokens_per_second       gauge     last step's tokens/s, job label (examples x max-length: padding included)
 *   loraone_train_loss              gauge     last step's training loss, job label (running jobs only)
 *   loraone_train_accuracy          gauge     last step's training accuracy, job label (classification; running)
 *   loraone_train_perplexity        gauge     last step's training perplexity, job label (causal LM; running)
 *   loraone_eval_accuracy           gauge     last evaluation's accuracy, job label (classification; running)
 *   loraone_eval_perplexity         gauge     last evaluation's perplexity, job label (causal LM; running)
 *   loraone_eval_recall_at_1        gauge     last evaluation's recall@1, job label (embedding; running)
 *   loraone_bytes_sent_total        counter   tensor bytes coordinators sent to workers
 *   loraone_bytes_received_total    counter   tensor bytes coordinators received from workers
 *   loraone_live_workers            gauge     cluster members with the worker role that are up, plus this node's own
 *       workers
 *   loraone_queue_length            gauge     jobs waiting for a slot
 *   loraone_jobs_running            gauge     jobs with a coordinator
 *   loraone_jobs_ended_total        counter   jobs that ended, state label
 * </pre>
 *
 * A task's metric gauges appear with the job's first step or evaluation that reports the metric
 * ({@link TaskMetrics}), so a causal-LM job shows no accuracy and a classification job no
 * perplexity.
 */
public final class ServiceMetrics {
  /** The task metrics that get gauges: each task's headline ({@code tokens} is a count, not a quality). */
  private static final List<String> GAUGED = TaskMetrics.TASKS.stream().map(TaskMetrics::headline).toList();

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Timer stepTime =
      Timer.builder("loraone.step")
          .description("wall time of an optimizer step")
          .register(registry);
  private final Counter sent =
      Counter.builder("loraone.bytes.sent")
          .description("tensor bytes coordinators sent to workers")
          .register(registry);
  private final Counter received =
      Counter.builder("loraone.bytes.received")
          .description("tensor bytes coordinators received from workers")
          .register(registry);
  private final Map<String, JobGauges> perJob = new ConcurrentHashMap<>();
  private final Map<String, long[]> lastTraffic = new ConcurrentHashMap<>();

  /** Last values of one running job, read by its gauges. */
  private static final class JobGauges {
    final AtomicLong loss = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    final AtomicLong tokensPerSecond = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    /** By gauge name ({@code loraone.eval.perplexity}): registered when the job first reports the metric. */
    final Map<String, AtomicLong> metrics = new ConcurrentHashMap<>();
    final List<Meter> meters = new CopyOnWriteArrayList<>();
  }

  public ServiceMetrics(IntSupplier liveWorkers) {
    Gauge.builder("loraone.live.workers", liveWorkers::getAsInt)
        .description("worker nodes up in the cluster, plus local workers")
        .register(registry);
  }

  void queue(IntSupplier queued, IntSupplier running) {
    Gauge.builder("loraone.queue.length", queued::getAsInt).description("jobs waiting for a slot").register(registry);
    Gauge.builder("loraone.jobs.running", running::getAsInt).description("jobs with a coordinator").register(registry);
  }

  void started(String id) {
    JobGauges g = new JobGauges();
    g.meters.add(Gauge.builder("loraone.train.loss", g.loss, a -> Double.longBitsToDouble(a.get())).tag("job", id)
        .description("last step's training loss").register(registry));
    g.meters.add(
        Gauge.builder(
                "loraone.tokens.per.second",
                g.tokensPerSecond,
                a -> Double.longBitsToDouble(a.get()))
            .tag("job", id)
            .description("last step's tokens per second (examples x max-length, padding included)")
            .register(registry));
    perJob.put(id, g);
  }

  /** Sets job {@code id}'s gauges {@code loraone.<kind>.<metric>} to the task metrics in {@code metrics}. */
  private void metrics(String id, JobGauges g, String kind, Map<String, Double> metrics) {
    for (String m : GAUGED) {
      Double v = metrics.get(m);
      if (v == null) continue;
      String name = "loraone." + kind + "." + m.replace("@", ".at."); // recall@1 -> loraone_eval_recall_at_1
      g.metrics
          .computeIfAbsent(
              name,
              n -> {
                AtomicLong a = new AtomicLong(Double.doubleToLongBits(Double.NaN));
                String what = (kind.equals("eval") ? "evaluation's " : "step's training ") + m;
                g.meters.add(
                    Gauge.builder(n, a, x -> Double.longBitsToDouble(x.get()))
                        .tag("job", id)
                        .description("last " + what)
                        .register(registry));
                return a;
              })
          .set(Double.doubleToLongBits(v));
    }
  }

  void event(String id, JobEvent e, JobSpec spec) {
    JobGauges g = perJob.get(id);
    if (e instanceof JobEvent.StepDone s) {
      stepTime.record(Duration.ofNanos((long) (s.seconds() * 1e9)));
      if (g != null) {
        g.loss.set(Double.doubleToLongBits(s.loss()));
        double tokens = (double) spec.getInt("train.batch") * spec.getInt("train.max-length");
        g.tokensPerSecond.set(Double.doubleToLongBits(s.seconds() > 0 ? tokens / s.seconds() : Double.NaN));
        metrics(id, g, "train", s.metrics());
      }
    } else if (e instanceof JobEvent.Evaluated v && g != null) {
      metrics(id, g, "eval", v.metrics());
    } else if (e instanceof JobEvent.Traffic t) {
      long[] last = lastTraffic.computeIfAbsent(id, k -> new long[2]);
      if (t.bytesSent() >= last[0]) sent.increment(t.bytesSent() - last[0]);
      if (t.bytesReceived() >= last[1]) received.increment(t.bytesReceived() - last[1]);
      last[0] = t.bytesSent();
      last[1] = t.bytesReceived();
    }
  }

  void ended(String id, JobStore.State state) {
    Counter.builder("loraone.jobs.ended")
        .tag("state", state.name())
        .description("jobs that ended")
        .register(registry)
        .increment();
    JobGauges g = perJob.remove(id);
    if (g != null) g.meters.forEach(registry::remove);
    lastTraffic.remove(id);
  }

  /** The Prometheus text exposition of every metric. */
  public String scrape() {
    return registry.scrape();
  }
}
