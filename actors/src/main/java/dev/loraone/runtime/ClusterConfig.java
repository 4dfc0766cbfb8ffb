package dev.loraone.runtime;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The actor-system config of one cluster node: where it listens, which nodes it joins through, its
 * role and its {@code --tls-*} options (from the command line, first), then {@code -Dkey=value}, then
 * {@code -Dconfig.file}, then the node defaults of {@code loraone-node.conf} (split-brain resolver,
 * Artery, {@code loraone.cluster.tls}), then the jars' reference.conf files (protocol: the Kryo
 * binding with registration required; gpu-worker: the DJL dispatcher).
 *
 * <p>With {@code loraone.cluster.tls.enabled = on} the Artery transport runs over TLS with mutual
 * authentication ({@link ClusterTls}): only nodes whose certificate the trust store holds can join.
 * Its stores are opened here, so a missing file or a wrong password stops the node before its actor
 * system starts, with a message naming the file and the option or key.
 */
public final class ClusterConfig {
  private ClusterConfig() {}

  /** A node's role: it runs a job's coordinator, or serves coordinators with worker actors. */
  public enum Role { COORDINATOR, WORKER }

  /**
   * The {@code --tls-*} options of {@code loraone node}; each may be null (not given). Giving a store
   * turns TLS on; {@code passwordEnv} names an environment variable holding the password of both
   * stores and of the key, above {@code LORAONE_TLS_*_PASSWORD} and the config.
   */
  public record TlsOptions(Path keyStore, Path trustStore, String passwordEnv) {
    /** No {@code --tls-*} option: TLS as the config says (off by default). */
    public static final TlsOptions NONE = new TlsOptions(null, null, null);
  }

  /** The origin description of values from the command line; {@link ClusterTls} names options for them. */
  static final String COMMAND_LINE = "command line";

  private static final Pattern HOST_PORT = Pattern.compile("([A-Za-z0-9.-]+|\\[[0-9a-fA-F:]+\\]):(\\d{1,5})");

  /** A node without {@code --tls-*} options (TLS as the config says). */
  public static Config of(Role role, String host, int port, List<String> seeds) {
    return of(role, host, port, seeds, TlsOptions.NONE);
  }

  /**
   * @param port 0 picks a free port (a node nobody needs to name as a seed)
   * @param seeds {@code host:port} of nodes to join through; a node that lists itself first may start a new cluster
   * @throws IllegalArgumentException for a bad option, or TLS enabled with a store that cannot be opened
   */
  public static Config of(Role role, String host, int port, List<String> seeds, TlsOptions tls) {
    return of(role, host, port, seeds, tls, null, System.getenv());
  }

  /**
   * As {@link #of(Role, String, int, List, TlsOptions)}; with {@code boot} (not null) the node finds the
   * cluster through discovery and Cluster Bootstrap ({@link Bootstrap}) and {@code seeds} must be empty.
   */
  public static Config of(Role role, String host, int port, List<String> seeds, TlsOptions tls,
      Bootstrap.Options boot) {
    return of(role, host, port, seeds, tls, boot, System.getenv());
  }

  /** As {@link #of(Role, String, int, List, TlsOptions)}, {@code --tls-password-env} read from {@code env}. */
  static Config of(Role role, String host, int port, List<String> seeds, TlsOptions tls, Map<String, String> env) {
    return of(role, host, port, seeds, tls, null, env);
  }

  private static Config of(Role role, String host, int port, List<String> seeds, TlsOptions tls,
      Bootstrap.Options boot, Map<String, String> env) {
    if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in [0, 65535], got " + port);
    if (boot != null && !seeds.isEmpty())
      throw new IllegalArgumentException("--seed-nodes and --discovery exclude each other: with --discovery "
          + boot.discovery() + " the node finds the cluster itself");
    if (boot == null && seeds.isEmpty())
      throw new IllegalArgumentException(
          "--seed-nodes: give at least one host:port (e.g. 127.0.0.1:25520), or --discovery");
    List<String> addresses = new ArrayList<>();
    for (String s : seeds) addresses.add("pekko://" + EmbeddedJob.SYSTEM_NAME + "@" + hostPort(s));
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("pekko.actor.provider", "cluster");
    line.put("pekko.remote.artery.canonical.hostname", host);
    line.put("pekko.remote.artery.canonical.port", port);
    if (boot == null) line.put("pekko.cluster.seed-nodes", addresses);
    else line.putAll(Bootstrap.keys(boot, host));
    line.put("pekko.cluster.roles", List.of(role.name().toLowerCase(Locale.ROOT)));
    line.putAll(tlsOptions(tls, env));
    Config config = ConfigFactory.parseMap(line, COMMAND_LINE)
        .withFallback(ConfigFactory.systemProperties())
        .withFallback(ConfigFactory.defaultApplication())
        .withFallback(ConfigFactory.parseResources(ClusterConfig.class, "/loraone-node.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
    return withTls(config);
  }

  /**
   * When {@code loraone.cluster.tls.enabled}, opens its stores (failing with a message naming the
   * file and the option or key) and sets Artery's {@code tls-tcp} transport from it; else {@code config}.
   */
  public static Config withTls(Config config) {
    ClusterTls tls = ClusterTls.read(config);
    return tls == null ? config : tls.check().applyTo(config);
  }

  /** The {@code loraone.cluster.tls} keys the {@code --tls-*} options set. */
  private static Map<String, Object> tlsOptions(TlsOptions tls, Map<String, String> env) {
    Map<String, Object> keys = new LinkedHashMap<>();
    if (tls.keyStore() != null) keys.put(ClusterTls.KEY + ".key-store", tls.keyStore().toString());
    if (tls.trustStore() != null) keys.put(ClusterTls.KEY + ".trust-store", tls.trustStore().toString());
    if (!keys.isEmpty()) keys.put(ClusterTls.KEY + ".enabled", true);
    if (tls.passwordEnv() != null) {
      String password = env.get(tls.passwordEnv());
      if (password == null || password.isEmpty()) {
        throw new IllegalArgumentException("--tls-password-env " + tls.passwordEnv() + ": the environment variable "
            + tls.passwordEnv() + " is not set (expected the password of the TLS key and trust stores)");
      }
      for (String k : List.of("key-store-password", "key-password", "trust-store-password"))
        keys.put(ClusterTls.KEY + "." + k, password);
    }
    return keys;
  }

  /** Checks one {@code --seed-nodes} entry, naming it when it is not {@code host:port}. */
  static String hostPort(String seed) {
    return hostPort("--seed-nodes", seed);
  }

  /** Checks a node address given as {@code what}, naming both when it is not {@code host:port}. */
  public static String hostPort(String what, String value) {
    Matcher m = HOST_PORT.matcher(value.trim());
    if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
      throw new IllegalArgumentException(what + ": '" + value + "' is not host:port (e.g. 127.0.0.1:25520)");
    }
    return value.trim();
  }
}
