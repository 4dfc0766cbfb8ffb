package dev.loraone.cli;

import dev.loraone.runtime.Bootstrap;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The {@code --discovery} options of {@code loraone node} and {@code loraone serve}: cluster formation
 * through Cluster Bootstrap instead of {@code --seed-nodes} ({@link Bootstrap}).
 */
final class DiscoveryOptions {
  @Option(
      names = "--discovery",
      paramLabel = "METHOD",
      description = "find the cluster without a seed list: kubernetes-api (pods labelled"
          + " app.kubernetes.io/part-of=<service name>) | config (--contact-points); default: --seed-nodes")
  String discovery;

  @Option(
      names = "--management-port",
      defaultValue = "7626",
      description = "with --discovery: the management endpoint's port (/ready, /alive, bootstrap) (default: "
          + "${DEFAULT-VALUE})")
  int managementPort;

  @Option(
      names = "--management-host",
      description = "with --discovery: the management endpoint's address (default: the cluster address)")
  String managementHost;

  @Option(
      names = "--contact-points",
      split = ",",
      paramLabel = "HOST:PORT",
      description = "with --discovery config: every node's management endpoint, comma-separated")
  List<String> contactPoints = List.of();

  @Option(
      names = "--service-name",
      defaultValue = "loraone",
      description = "with --discovery: the name the nodes of one cluster share (default: ${DEFAULT-VALUE})")
  String serviceName;

  /** The bootstrap options, or null without {@code --discovery} (seed nodes, as before). */
  Bootstrap.Options options() {
    if (discovery == null) {
      if (!contactPoints.isEmpty()) throw new IllegalArgumentException("--contact-points needs --discovery config");
      return null;
    }
    return new Bootstrap.Options(discovery, managementHost, managementPort, contactPoints, serviceName);
  }
}
