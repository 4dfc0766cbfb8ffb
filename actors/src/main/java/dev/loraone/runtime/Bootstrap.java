package dev.loraone.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;

/**
 * Cluster formation without a seed list ({@code --discovery}): each node runs Pekko Management's HTTP
 * endpoint on its management port and Cluster Bootstrap, which finds the other nodes' management
 * endpoints through Pekko Discovery, asks them for the cluster's seed nodes and joins it; when no
 * cluster exists yet, the node with the lowest address among all contact points starts it (once
 * every contact point has answered and the contact points stayed stable for
 * {@code stable-margin}).
 *
 * <p>Discovery methods: {@code kubernetes-api} (pods selected by label in the pod's own namespace,
 * the management port named {@code management}: what {@code deploy/k8s} uses) and {@code config}
 * (a fixed list of management endpoints, {@code --contact-points}: what the tests use). The same
 * endpoint serves {@code /ready} (member Up; for the service also its HTTP port bound) and
 * {@code /alive}. The node's config carries {@link Starter} in {@code pekko.extensions}, so every
 * actor system made from it starts both, whatever command made it.
 */
public final class Bootstrap {
  private Bootstrap() {}

  /** The discovery methods {@code --discovery} accepts. */
  public static final List<String> METHODS = List.of("config", "kubernetes-api");

  /**
   * @param discovery {@code config} or {@code kubernetes-api}
   * @param managementHost the management endpoint's address; null: the node's cluster address
   * @param managementPort the management endpoint's port (Pekko's default 7626)
   * @param contactPoints config discovery: {@code host:port} of every node's management endpoint
   * @param serviceName the name discovery looks up (kubernetes-api: the {@code app.kubernetes.io/part-of} label)
   */
  public record Options(
      String discovery, String managementHost, int managementPort, List<String> contactPoints, String serviceName) {
    public Options {
      if (!METHODS.contains(discovery)) {
        throw new IllegalArgumentException("--discovery: expected one of " + METHODS + ", got '" + discovery + "'");
      }
      if (managementPort < 1 || managementPort > 65535) {
        throw new IllegalArgumentException("--management-port must be in [1, 65535], got " + managementPort);
      }
      contactPoints = List.copyOf(contactPoints);
      if (discovery.equals("config") && contactPoints.isEmpty()) {
        throw new IllegalArgumentException("--discovery config needs --contact-points host:port,... (every node's"
            + " management endpoint, e.g. 127.0.0.1:7626)");
      }
      if (!discovery.equals("config") && !contactPoints.isEmpty()) {
        throw new IllegalArgumentException("--contact-points is for --discovery config; " + discovery
            + " finds the nodes itself");
      }
      if (serviceName == null || !serviceName.matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?")) {
        throw new IllegalArgumentException("--service-name: expected a DNS label (a-z, 0-9, '-'), got '"
            + serviceName + "'");
      }
    }
  }

  /** The config keys of {@code o} for a node whose cluster address is {@code host}. */
  static Map<String, Object> keys(Options o, String host) {
    String boot = "pekko.management.cluster.bootstrap.contact-point-discovery.";
    Map<String, Object> k = new LinkedHashMap<>();
    k.put("pekko.extensions", List.of(Starter.class.getName()));
    k.put("pekko.management.http.hostname", o.managementHost() != null ? o.managementHost() : host);
    k.put("pekko.management.http.port", o.managementPort());
    k.put(boot + "service-name", o.serviceName());
    k.put(boot + "discovery-method", o.discovery());
    if (o.discovery().equals("config")) {
      List<Map<String, Object>> endpoints = new ArrayList<>();
      for (String c : o.contactPoints()) {
        String hp = ClusterConfig.hostPort("--contact-points", c);
        int colon = hp.lastIndexOf(':');
        String h = hp.substring(0, colon);
        endpoints.add(Map.of("host", h.startsWith("[") ? h.substring(1, h.length() - 1) : h,
            "port", Integer.parseInt(hp.substring(colon + 1))));
      }
      k.put("pekko.discovery.config.services." + o.serviceName() + ".endpoints", endpoints);
      // the listed endpoints may differ in port (nodes on one host): keep them all, not only this node's port
      k.put("pekko.management.cluster.bootstrap.contact-point.filter-on-fallback-port", false);
    } else {
      k.put(boot + "port-name", "management");
    }
    return k;
  }

  /** Started: the management endpoint and Cluster Bootstrap run on this actor system. */
  public static final class Started implements Extension {}

  /**
   * Loaded through {@code pekko.extensions}: starts the management endpoint, waiting for its port, and
   * Cluster Bootstrap when the actor system starts. A management port that cannot be bound fails the
   * actor system's start with a message naming {@code --management-port}.
   */
  public static final class Starter extends AbstractExtensionId<Started> {
    @Override
    public Started createExtension(ExtendedActorSystem system) {
      String where = system.settings().config().getString("pekko.management.http.hostname") + ":"
          + system.settings().config().getInt("pekko.management.http.port");
      try {
        PekkoManagement.get(system).start().toCompletableFuture().get(30, TimeUnit.SECONDS);
      } catch (ExecutionException | TimeoutException e) {
        Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
        throw new IllegalArgumentException("--management-port: the management endpoint could not listen on " + where
            + ": " + cause.getMessage(), cause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while the management endpoint started", e);
      }
      ClusterBootstrap.get(system).start();
      return new Started();
    }
  }
}
