package dev.loraone.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.loraone.runtime.Bootstrap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code deploy/k8s}: every manifest parses, and what refers to something names what exists: the
 * kustomization lists every file; selectors match pod labels; the pods carry the label Cluster
 * Bootstrap's kubernetes-api discovery selects; Services and probes name container ports; probes ask
 * the management paths Pekko Management serves; the container arguments parse as real {@code loraone}
 * command lines whose ports and data folder agree with the container's ports and volume mounts; the
 * service account may list pods.
 */
class KubernetesManifestsTest {
  private static final Path DIR = Path.of("..", "deploy", "k8s");
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final List<JsonNode> DOCS = new ArrayList<>();

  @BeforeAll
  static void parse() throws IOException {
    try (Stream<Path> files = Files.list(DIR)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        if (f.getFileName().toString().equals("kustomization.yaml")) continue;
        for (JsonNode d : YAML.readerFor(JsonNode.class).readValues(f.toFile()).readAll().stream()
            .map(JsonNode.class::cast).toList()) {
          for (String k : List.of("apiVersion", "kind")) assertTrue(d.hasNonNull(k), f + ": a document without " + k);
          assertTrue(d.path("metadata").hasNonNull("name"), f + ": a " + d.path("kind").asText() + " without a name");
          DOCS.add(d);
        }
      }
    }
  }

  private static List<JsonNode> kind(String kind) {
    return DOCS.stream().filter(d -> d.path("kind").asText().equals(kind)).toList();
  }

  private static String name(JsonNode d) {
    return d.path("metadata").path("name").asText();
  }

  private static List<JsonNode> workloads() {
    List<JsonNode> w = new ArrayList<>(kind("StatefulSet"));
    w.addAll(kind("Deployment"));
    return w;
  }

  private static Map<String, String> map(JsonNode n) {
    Map<String, String> m = new HashMap<>();
    n.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asText()));
    return m;
  }

  @Test
  void theKustomizationListsEveryManifest() throws IOException {
    JsonNode k = YAML.readTree(DIR.resolve("kustomization.yaml").toFile());
    Set<String> listed = new TreeSet<>();
    k.path("resources").forEach(r -> listed.add(r.asText()));
    Set<String> files = new TreeSet<>();
    try (Stream<Path> s = Files.list(DIR)) {
      s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml") && !n.equals("kustomization.yaml"))
          .forEach(files::add);
    }
    assertEquals(files, listed);
    assertFalse(workloads().isEmpty());
  }

  @Test
  void selectorsMatchPodLabelsAndDiscoverySelectsEveryPod() {
    Config node = ConfigFactory.parseResources(Bootstrap.class, "/loraone-node.conf");
    String[] selector = node.getString("pekko.discovery.kubernetes-api.pod-label-selector").split("=");
    for (JsonNode w : workloads()) {
      Map<String, String> labels = map(w.at("/spec/template/metadata/labels"));
      Map<String, String> match = map(w.at("/spec/selector/matchLabels"));
      assertFalse(match.isEmpty(), name(w));
      match.forEach((k, v) -> assertEquals(v, labels.get(k), name(w) + ": selector " + k + " vs the pod's labels"));
      String service = option(w, "--service-name", "loraone");
      assertEquals(selector[1].formatted(service), labels.get(selector[0]),
          name(w) + ": its pods must carry the label kubernetes-api discovery selects");
    }
    for (JsonNode s : kind("Service")) {
      Map<String, String> sel = map(s.at("/spec/selector"));
      List<JsonNode> pods = workloads().stream().filter(w -> {
        Map<String, String> labels = map(w.at("/spec/template/metadata/labels"));
        return sel.entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey())));
      }).toList();
      assertFalse(pods.isEmpty(), "Service " + name(s) + " selects no pod template");
      for (JsonNode p : s.at("/spec/ports")) {
        for (JsonNode w : pods) {
          assertTrue(portNames(w).contains(p.path("targetPort").asText()),
              "Service " + name(s) + " port " + p.path("name").asText() + " targets no named port of " + name(w));
        }
      }
    }
    for (JsonNode ss : kind("StatefulSet")) {
      String governing = ss.at("/spec/serviceName").asText();
      assertTrue(kind("Service").stream().anyMatch(s -> name(s).equals(governing)
          && s.at("/spec/clusterIP").asText().equals("None")), name(ss) + ": no headless Service " + governing);
    }
  }

  @Test
  void probesAskTheManagementPathsOnTheManagementPort() {
    Config management = ConfigFactory.load();
    Map<String, String> paths = Map.of(
        "readinessProbe", "/" + management.getString("pekko.management.health-checks.readiness-path"),
        "livenessProbe", "/" + management.getString("pekko.management.health-checks.liveness-path"));
    for (JsonNode w : workloads()) {
      JsonNode c = w.at("/spec/template/spec/containers/0");
      for (Map.Entry<String, String> p : paths.entrySet()) {
        JsonNode get = c.path(p.getKey()).path("httpGet");
        assertEquals(p.getValue(), get.path("path").asText(), name(w) + " " + p.getKey());
        assertEquals("management", get.path("port").asText(), name(w) + " " + p.getKey());
      }
      assertEquals(option(w, "--management-port", "7626"), Integer.toString(containerPort(c, "management")),
          name(w) + ": --management-port vs the container port named management");
      assertTrue(c.at("/resources/requests").has("memory") && c.at("/resources/limits").has("memory"), name(w));
    }
  }

  @Test
  void containerArgumentsAreLoraoneCommandLinesThatAgreeWithTheirPorts() {
    for (JsonNode w : workloads()) {
      JsonNode c = w.at("/spec/template/spec/containers/0");
      CommandLine.ParseResult cmd = parse(w).subcommand();
      assertEquals("kubernetes-api", cmd.matchedOptionValue("--discovery", ""), name(w));
      assertFalse(cmd.hasMatchedOption("--seed-nodes"), name(w) + ": bootstrap needs no seed list");
      String clusterPort = cmd.commandSpec().name().equals("serve") ? "--cluster-port" : "--port";
      assertEquals(cmd.matchedOptionValue(clusterPort, 0), containerPort(c, "cluster"), name(w) + " " + clusterPort);
      if (cmd.commandSpec().name().equals("serve")) {
        assertEquals(cmd.matchedOptionValue("--port", 0), containerPort(c, "http"), name(w) + " --port");
        String data = cmd.matchedOptionValue("--data", Path.of("")).toString();
        String claim = w.at("/spec/volumeClaimTemplates/0/metadata/name").asText();
        assertTrue(mounts(c).getOrDefault(claim, "").equals(data), name(w) + ": --data " + data
            + " is not where the PersistentVolumeClaim " + claim + " is mounted");
        List<String> secrets = new ArrayList<>();
        c.path("env").forEach(e -> {
          if (e.path("name").asText().equals("LORAONE_TOKEN"))
            secrets.add(e.at("/valueFrom/secretKeyRef/name").asText() + "/"
                + e.at("/valueFrom/secretKeyRef/key").asText());
        });
        assertEquals(List.of("loraone-token/token"), secrets, name(w) + ": the token comes from the Secret");
      }
      Set<String> env = new HashSet<>();
      c.path("env").forEach(e -> env.add(e.path("name").asText()));
      for (JsonNode a : c.path("args")) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\$\\((\\w+)\\)").matcher(a.asText());
        while (m.find()) assertTrue(env.contains(m.group(1)), name(w) + ": " + a.asText() + " names no env variable");
      }
    }
  }

  @Test
  void theServiceAccountMayListPodsInItsNamespace() {
    for (JsonNode w : workloads()) {
      String account = w.at("/spec/template/spec/serviceAccountName").asText();
      assertTrue(kind("ServiceAccount").stream().anyMatch(a -> name(a).equals(account)), name(w) + ": " + account);
      JsonNode binding = kind("RoleBinding").stream()
          .filter(b -> b.at("/subjects/0/name").asText().equals(account)).findFirst()
          .orElseThrow(() -> new AssertionError("no RoleBinding for " + account));
      JsonNode role = kind("Role").stream().filter(r -> name(r).equals(binding.at("/roleRef/name").asText()))
          .findFirst().orElseThrow(() -> new AssertionError("no Role " + binding.at("/roleRef/name")));
      Set<String> verbs = new HashSet<>();
      for (JsonNode rule : role.path("rules")) {
        if (rule.path("resources").toString().contains("\"pods\"")) {
          rule.path("verbs").forEach(v -> verbs.add(v.asText()));
        }
      }
      assertTrue(verbs.containsAll(List.of("get", "list", "watch")), name(role) + ": " + verbs);
    }
  }

  private static CommandLine.ParseResult parse(JsonNode w) {
    List<String> args = new ArrayList<>();
    w.at("/spec/template/spec/containers/0/args").forEach(a -> args.add(a.asText()));
    return Main.newCommandLine().parseArgs(args.toArray(String[]::new));
  }

  private static String option(JsonNode w, String name, String fallback) {
    return String.valueOf(parse(w).subcommand().matchedOptionValue(name, (Object) fallback));
  }

  private static Set<String> portNames(JsonNode w) {
    Set<String> s = new HashSet<>();
    w.at("/spec/template/spec/containers/0/ports").forEach(p -> s.add(p.path("name").asText()));
    return s;
  }

  private static int containerPort(JsonNode container, String name) {
    for (JsonNode p : container.path("ports")) {
      if (p.path("name").asText().equals(name)) return p.path("containerPort").asInt();
    }
    throw new AssertionError("no container port named " + name + " in " + container.path("ports"));
  }

  private static Map<String, String> mounts(JsonNode container) {
    Map<String, String> m = new HashMap<>();
    container.path("volumeMounts").forEach(v -> m.put(v.path("name").asText(), v.path("mountPath").asText()));
    return m;
  }
}
