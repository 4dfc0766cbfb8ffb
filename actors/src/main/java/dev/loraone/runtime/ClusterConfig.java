package dev.loraone.runtime;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The actor-system config of one cluster node: where it listens, which nodes it joins through, its
 * role (from the command line, first), then {@code -Dkey=value}, then {@code -Dconfig.file}, then the
 * node defaults of {@code loraone-node.conf} (split-brain resolver, Artery), then the jars'
 * reference.conf files (protocol: the Kryo binding with registration required; gpu-worker: the DJL
 * dispatcher).
 */
public final class ClusterConfig {
  private ClusterConfig() {}

  /** A node's role: it runs a job's coordinator, or serves coordinators with worker actors. */
  public enum Role { COORDINATOR, WORKER }

  private static final Pattern HOST_PORT = Pattern.compile("([A-Za-z0-9.-]+|\\[[0-9a-fA-F:]+\\]):(\\d{1,5})");

  /**
   * @param port 0 picks a free port (a node nobody needs to name as a seed)
   * @param seeds {@code host:port} of nodes to join through; a node that lists itself first may start a new cluster
   */
  public static Config of(Role role, String host, int port, List<String> seeds) {
    if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in [0, 65535], got " + port);
    if (seeds.isEmpty()) throw new IllegalArgumentException("--seed-nodes: give at least one host:port (e.g. 127.0.0.1:25520)");
    List<String> addresses = new ArrayList<>();
    for (String s : seeds) addresses.add("pekko://" + EmbeddedJob.SYSTEM_NAME + "@" + hostPort(s));
    return ConfigFactory.empty()
        .withValue("pekko.actor.provider", ConfigValueFactory.fromAnyRef("cluster"))
        .withValue("pekko.remote.artery.canonical.hostname", ConfigValueFactory.fromAnyRef(host))
        .withValue("pekko.remote.artery.canonical.port", ConfigValueFactory.fromAnyRef(port))
        .withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(addresses))
        .withValue("pekko.cluster.roles", ConfigValueFactory.fromIterable(List.of(role.name().toLowerCase(java.util.Locale.ROOT))))
        .withFallback(ConfigFactory.systemProperties())
        .withFallback(ConfigFactory.defaultApplication())
        .withFallback(ConfigFactory.parseResources(ClusterConfig.class, "/loraone-node.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  /** Checks one {@code --seed-nodes} entry, naming it when it is not {@code host:port}. */
  static String hostPort(String seed) {
    Matcher m = HOST_PORT.matcher(seed.trim());
    if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
      throw new IllegalArgumentException("--seed-nodes: '" + seed + "' is not host:port (e.g. 127.0.0.1:25520)");
    }
    return seed.trim();
  }
}
