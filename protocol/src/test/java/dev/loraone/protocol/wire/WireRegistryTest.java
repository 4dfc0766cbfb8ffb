package dev.loraone.protocol.wire;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class WireRegistryTest {
  private record Golden(int id, String manifest, String className) {}

  private static List<Golden> golden() throws IOException {
    try (InputStream in = WireRegistryTest.class.getResourceAsStream("wire-registry.golden")) {
      assertNotNull(in, "wire-registry.golden missing");
      List<Golden> out = new ArrayList<>();
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (line.isBlank() || line.startsWith("#")) continue;
        String[] f = line.trim().split("\\s+");
        out.add(new Golden(Integer.parseInt(f[0]), f[1], f[2]));
      }
      return out;
    }
  }

  @Test
  void idsAndManifestsAreUniqueAndOutsideKryosBuiltIns() {
    Set<Integer> ids = new HashSet<>();
    Set<String> manifests = new HashSet<>();
    for (WireRegistry.Entry e : WireRegistry.entries()) {
      assertTrue(ids.add(e.id()), "duplicate id " + e.id());
      assertTrue(manifests.add(e.manifest()), "duplicate manifest " + e.manifest());
      assertTrue(e.id() >= 100, e + ": ids below 100 are Kryo's or reserved");
      assertFalse(WireRegistry.RETIRED_IDS.contains(e.id()), e + " reuses a retired id");
      assertTrue(e.manifest().matches("[A-Za-z0-9.]{1,40}"), e + ": manifest must be short and plain");
    }
  }

  @Test
  void publishedIdsNeverChangeMeaningAndEveryIdIsPublished() throws IOException {
    List<Golden> golden = golden();
    Map<Integer, Golden> byId = new HashMap<>();
    Set<String> goldenManifests = new HashSet<>();
    for (Golden g : golden) {
      assertNull(byId.put(g.id(), g), "golden list repeats id " + g.id());
      assertTrue(goldenManifests.add(g.manifest()), "golden list repeats manifest " + g.manifest());
    }
    for (Golden g : golden) {
      var entry = WireRegistry.entries().stream().filter(e -> e.id() == g.id()).findFirst();
      if (WireRegistry.RETIRED_IDS.contains(g.id())) {
        assertTrue(entry.isEmpty(), "retired id " + g.id() + " is registered again");
        assertTrue(WireRegistry.byManifest(g.manifest()).isEmpty(), "retired manifest " + g.manifest() + " is reused");
        continue;
      }
      assertTrue(
          entry.isPresent(),
          "published id " + g.id() + " (" + g.manifest() + ") was removed: add it to RETIRED_IDS");
      assertEquals(g.manifest(), entry.get().manifest(), "id " + g.id() + " changed its manifest");
      assertEquals(g.className(), entry.get().type().getName(),
          "id " + g.id() + " now names another class (a pure rename: update the class column)");
    }
    for (WireRegistry.Entry e : WireRegistry.entries()) {
      assertTrue(byId.containsKey(e.id()), "new registration " + e + " must be appended to wire-registry.golden as \""
          + e.id() + " " + e.manifest() + " " + e.type().getName() + "\"");
    }
  }

  @Test
  void everyPermittedSubclassIsRegisteredAndEveryRegisteredMessageIsReachable() {
    List<Class<?>> permitted = WireSamples.permittedRecords();
    for (Class<?> c : permitted) {
      assertTrue(c.isRecord(), c + " is permitted in a wire family but is not a record");
      assertTrue(WireRegistry.byClass(c).isPresent(), c.getName() + " is not registered in WireRegistry");
    }
    for (WireRegistry.Entry e : WireRegistry.entries()) {
      if (WireMessage.class.isAssignableFrom(e.type())) {
        assertTrue(permitted.contains(e.type()), e + " is a message but not in any of WireRegistry.SEALED_ROOTS");
      }
    }
  }

  @Test
  void serializersBuildForEveryRegistrationWithoutAnActorSystem() {
    assertEquals(WireRegistry.entries().size(), WireRegistry.serializers(ActorRefCodec.NONE).size());
  }

  @Test
  void aRecordWithARawArrayIsRefusedAtRegistration() {
    record Bad(JobId job, float[] values) {}
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new WireRecordSerializer<>(Bad.class, Set.of(JobId.class), ActorRefCodec.NONE));
    assertTrue(e.getMessage().contains("no raw arrays"), e.getMessage());
  }

  @Test
  void aRecordWithAnUnregisteredFinalComponentIsRefusedAtRegistration() {
    record Bad(JobId job) {}
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new WireRecordSerializer<>(Bad.class, Set.of(), ActorRefCodec.NONE));
    assertTrue(e.getMessage().contains("Bad.job"), e.getMessage());
  }

  @Test
  void idsMustMatchThePattern() {
    assertEquals("a.B-9_z", new JobId("a.B-9_z").value());
    for (String bad : new String[] {"", "a b", "x/y", "é", "a".repeat(65)}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new WorkerId(bad));
      assertTrue(e.getMessage().contains("[A-Za-z0-9._-]"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> new JobId(null));
  }
}
