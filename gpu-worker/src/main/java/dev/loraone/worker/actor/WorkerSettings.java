package dev.loraone.worker.actor;

import com.typesafe.config.Config;
import dev.loraone.data.stream.Prefetch;
import dev.loraone.protocol.transport.TransferSettings;
import java.time.Duration;

/** The {@code loraone.worker} section (meanings in gpu-worker's {@code reference.conf}). */
public record WorkerSettings(Duration registerRetry, Duration heartbeatInterval, long directSendLimit,
    int rememberResults, int keepVersions, int maxWaiting, int maxResends, Prefetch prefetch,
    TransferSettings transfer) {
  public static WorkerSettings fromConfig(Config root) {
    Config c = root.getConfig("loraone.worker");
    int ahead = c.getInt("prefetch");
    Prefetch prefetch = new Prefetch(ahead, Math.min(c.getInt("encode-parallelism"), Math.max(ahead, 1)));
    return new WorkerSettings(
        c.getDuration("register-retry"),
        c.getDuration("heartbeat-interval"),
        c.getBytes("direct-send-limit"),
        c.getInt("remember-results"),
        c.getInt("keep-versions"),
        c.getInt("max-waiting"),
        c.getInt("max-resends"),
        prefetch,
        TransferSettings.fromConfig(root));
  }

  /** These settings with {@code prefetch} instead ({@link Prefetch#OFF}: no encoding ahead). */
  public WorkerSettings withPrefetch(Prefetch prefetch) {
    return new WorkerSettings(registerRetry, heartbeatInterval, directSendLimit, rememberResults, keepVersions,
        maxWaiting, maxResends, prefetch, transfer);
  }
}
