package dev.loraone.protocol.job;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and broken job text, as POST /jobs, a cluster message or a job file may carry it: deep
 * nesting, huge arrays and strings, odd Unicode, every prefix and thousands of seeded mutations of a
 * valid job. Each must parse into a {@link JobSpec} or fail with an {@link JobSpec.InvalidJobException}
 * that says why; any other Throwable fails. A StackOverflowError here once took the whole service JVM
 * down, so the cases run on half the default thread stack and must be refused by
 * {@link JobTextShape#check}, not by the parser overflowing.
 */
class JobSpecFuzzTest {
  private static final Path JOB_FILE = Path.of("..", "conf", "jobs", "minilm-wordnet.conf");
  /** A representative job as one line of JSON, as a client would POST it. */
  private static final String JSON_JOB = "{\"job\": {\"name\": \"fuzz\", \"model\": \"minilm\", \"seed\": 7,"
      + " \"lora\": {\"rank\": 8, \"alpha\": 16.0, \"targets\": \"query,value\"}, \"init\": {\"method\": \"pissa\"},"
      + " \"train\": {\"steps\": 10, \"batch\": 16, \"micro-batch\": 8}, \"optimizer\": {\"lr\": 5e-4}}}";
  /** What a mutation inserts: HOCON's structure, escapes, odd characters, and nesting in bulk. */
  private static final String[] TOKENS = {"{", "}", "[", "]", "\"", "\"\"\"", "${", "${?", "+=", ".", "#", "//", "\n",
      "=", ":", ",", "\\", "\u0000", "\uD83D\uDE00", "\u202E", "include \"x\"", "job", "a.b.c.d.e.f.g.h", "{{{{{{{{",
      "[[[[[[[["};

  @TempDir Path dir;

  @Test
  void deepNestingIsRefusedNamingTheLimit() throws Throwable {
    Map<String, String> deep = new LinkedHashMap<>();
    for (int n : new int[] {1_000, 100_000}) {
      deep.put(n + " objects", "{\"job\":".repeat(n) + "{}" + "}".repeat(n));
      deep.put(n + " arrays", "{\"job\": {\"x\": " + "[".repeat(n) + "]".repeat(n) + "}}");
      deep.put(n + " objects and arrays", "job.x = " + "{\"a\": [".repeat(n) + "]}".repeat(n));
      deep.put(n + " unclosed", "job.x = " + "[{".repeat(n));
      deep.put(n + " dotted key", "job." + "a.".repeat(n) + "b = 1");
      deep.put(n + " dotted key with spaces", "job " + ". a ".repeat(n) + "= 1");
      deep.put(n + " quoted dotted key", "job" + ".\"a\"".repeat(n) + " = 1");
      deep.put(n + " substitution path", "job.name = ${" + "p.".repeat(n) + "q}");
    }
    String dots = "a.".repeat(30);
    deep.put("dotted keys under braces", (dots + "b {\n").repeat(40) + "}".repeat(40));
    deep.put("dotted keys over newlines", (dots + "b\n{\n").repeat(40) + "}".repeat(40));
    deep.put("dotted keys under concatenated objects", (dots + "b = {} {").repeat(40) + "}".repeat(40));
    for (String key : deep.keySet()) {
      String message = refused(key, deep.get(key));
      assertTrue(message.contains("fuzz: line ") && message.contains("nesting deeper than " + JobSpec.MAX_DEPTH
          + " levels"), () -> key + ": " + message);
    }
  }

  @Test
  void selfReferencesAndLongSubstitutionChainsAreRefused() throws Throwable {
    StringBuilder chain = new StringBuilder();
    for (int i = 0; i < 10_000; i++) chain.append("job.x").append(i).append(" = ${job.x").append(i + 1).append("}\n");
    Map<String, String> cases = Map.of(
        "+= lines", "job.x = [1]\n" + "job.x += 1\n".repeat(1_000),
        "self-referencing concatenations", "job.x = [1]\n" + "job.x = ${job.x} [1]\n".repeat(1_000),
        "optional substitutions", "job.x = " + "${?y}".repeat(100_000),
        "a substitution chain", chain.toString());
    cases.forEach((what, text) -> {
      String message = assertDoesNotThrow(() -> refused(what, text));
      assertTrue(message.contains("more than " + JobSpec.MAX_SUBSTITUTIONS + " substitutions"),
          () -> what + ": " + message);
    });
    String key = "job" + ".a".repeat(JobSpec.MAX_DEPTH - 3); // the deepest key, with the most self-references
    String most = key + " = [1]\n" + (key + " += 1\n").repeat(JobSpec.MAX_SUBSTITUTIONS - 1);
    assertTrue(refused("the most += on the deepest key", most).contains("unknown key 'job.a.a."));
    assertEquals(8, accepted("a few substitutions", "job { name = s, lora.rank = 8, init.batch = ${job.lora.rank} }")
        .getInt("init.batch"));
  }

  @Test
  void bracketsInStringsAndCommentsAreNotNesting() throws Throwable {
    String many = "{[".repeat(100_000);
    accepted("a comment", "job { name = c }\n# " + many + "\n// " + many + "\n");
    accepted("a quoted string", "job { name = q, model = \"" + many + "\\\"" + many + "\" }");
    accepted("a triple-quoted string", "job { name = t, model = \"\"\"" + many + "\n" + many + "\"\"\"\" }");
    accepted("the rendered spec", JobSpec.of(Map.of("train.steps", 3)).render());
    assertTrue(refused("after a string", "job.model = \"}\"" + " {".repeat(40)).contains("nesting deeper"));
  }

  @Test
  void hugeArraysAndLongStringsParseOrAreRefused() throws Throwable {
    refused("a huge array", "{\"job\": {\"lora\": {\"targets\": [" + "\"q\", ".repeat(100_000) + "\"v\"]}}}");
    String mb = "m".repeat(1_000_000);
    assertEquals(mb, accepted("a 1 MB string", "job { name = big, model = \"" + mb + "\" }").getString("model"));
    String triple = "job { name = big, model = \"\"\"" + mb + "\"\"\" }";
    assertEquals(mb, accepted("a 1 MB triple-quoted string", triple).getString("model"));
    accepted("a 1 MB comment", "job.name = big\n#" + mb);
    assertTrue(refused("a 1 MB name", "job.name = " + mb).contains("is not a job name"));
    String tooLong = refused("text over the limit", "job.name = big\n#" + mb + mb);
    assertTrue(tooLong.contains("a job text may have") && tooLong.contains(Integer.toString(JobSpec.MAX_CHARS)),
        tooLong);
  }

  @Test
  void oddUnicodeParsesOrIsRefused() throws Throwable {
    String[] odd = {"\uD800", "a\uDC00b", "\uDBFF", "\u0000", "a\u0000b", "\u200F", "\u202Egnp.exe", "\uFEFF",
        "\uD83D\uDE00", "\uD83D\uDC69\u200D\uD83D\uDCBB", "\u0085", "\u2028", "\u00A0", "\\u0000", "\\uD800"};
    for (String s : odd) {
      for (String text : new String[] {"job { name = ok, model = \"" + s + "\" }", "job { name = \"" + s + "\" }",
          "job { name = ok, \"" + s + "\" = \"" + s + "\" }", "job { name = ok, model = " + s + " }",
          "job." + s + " = 1", s + "job { name = ok }",
          "{\"job\": {\"name\": \"ok\", \"" + s + "\": \"" + s + "\"}}"}) {
        parse(text);
        parseFile(text);
      }
    }
    String emoji = "\uD83D\uDE00 \u202Eevil";
    assertEquals(emoji, accepted("emoji and RTL", "job { name = e, model = \"" + emoji + "\" }").getString("model"));
  }

  @Test
  void everyPrefixOfAValidJobParsesOrIsRefused() throws Throwable {
    assertTrue(Files.isRegularFile(JOB_FILE), () -> JOB_FILE.toAbsolutePath() + " (the example job) is missing");
    for (String job : new String[] {Files.readString(JOB_FILE), JSON_JOB}) {
      accepted("the whole job", job);
      onSmallStack(() -> {
        for (int n = 0; n < job.length(); n++) parse(job.substring(0, n));
      });
    }
  }

  @Test
  void seededMutationsOfAValidJobParseOrAreRefused() throws Throwable {
    byte[] base = Files.readAllBytes(JOB_FILE);
    byte[] json = JSON_JOB.getBytes(StandardCharsets.UTF_8);
    Random random = new Random(20240611);
    onSmallStack(() -> {
      for (int i = 0; i < 2_000; i++) {
        String text = new String(mutate(i % 2 == 0 ? base : json, random), StandardCharsets.UTF_8);
        parse(text);
        if (i % 100 == 0) parseFile(text);
      }
    });
  }

  /** One to four edits: a random byte, an inserted token, a deleted span, or a span repeated (up to 64 times). */
  private static byte[] mutate(byte[] in, Random r) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    byte[] b = in;
    for (int edits = 1 + r.nextInt(4); edits > 0; edits--) {
      int at = r.nextInt(b.length + 1);
      int len = Math.min(b.length - at, r.nextInt(40));
      out.reset();
      out.write(b, 0, at);
      switch (r.nextInt(4)) {
        case 0 -> {
          out.write(r.nextInt(256));
          out.write(b, Math.min(b.length, at + 1), b.length - Math.min(b.length, at + 1));
        }
        case 1 -> {
          out.writeBytes(TOKENS[r.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8));
          out.write(b, at, b.length - at);
        }
        case 2 -> out.write(b, at + len, b.length - at - len);
        default -> {
          for (int k = 1 + r.nextInt(64); k > 0; k--) out.write(b, at, len);
          out.write(b, at, b.length - at);
        }
      }
      b = out.toByteArray();
    }
    return b;
  }

  /** The outcome of parsing {@code text}: null for a valid spec (which renders and parses back), else the message. */
  private static String parse(String text) {
    JobSpec spec;
    try {
      spec = JobSpec.parseString(text, "fuzz");
    } catch (JobSpec.InvalidJobException e) {
      return explained(e, text);
    } catch (Throwable t) {
      return fail("not an InvalidJobException for " + abbreviated(text), t);
    }
    assertEquals(spec, JobSpec.parseString(spec.render(), "rendered"), () -> "round trip of " + abbreviated(text));
    return null;
  }

  /** As {@link #parse}, through {@link JobSpec#parseFile}. */
  private String parseFile(String text) {
    Path f = dir.resolve("fuzz.conf");
    try {
      Files.write(f, text.getBytes(StandardCharsets.UTF_8)); // a lone surrogate becomes '?'
      JobSpec.parseFile(f);
      return null;
    } catch (JobSpec.InvalidJobException e) {
      return explained(e, text);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (Throwable t) {
      return fail("not an InvalidJobException for the file " + abbreviated(text), t);
    }
  }

  private static String explained(JobSpec.InvalidJobException e, String text) {
    assertFalse(e.problems().isEmpty() || e.problems().stream().anyMatch(String::isBlank),
        () -> "no message for " + abbreviated(text));
    assertFalse(e.getMessage().contains("too deeply to parse"),
        () -> "the parser overflowed its stack; JobTextShape should have refused " + abbreviated(text));
    return e.getMessage();
  }

  private static String refused(String what, String text) throws Throwable {
    String[] message = new String[1];
    onSmallStack(() -> message[0] = parse(text));
    assertNotNull(message[0], () -> what + " was accepted");
    return message[0];
  }

  private static JobSpec accepted(String what, String text) throws Throwable {
    JobSpec[] spec = new JobSpec[1];
    onSmallStack(() -> {
      try {
        spec[0] = JobSpec.parseString(text, "fuzz");
      } catch (JobSpec.InvalidJobException e) {
        fail(what + " was refused", e);
      }
    });
    return spec[0];
  }

  /** Runs {@code body} on a thread with half of HotSpot's default 1 MB stack: the limits hold with room to spare. */
  private static void onSmallStack(Executable body) throws Throwable {
    Throwable[] failure = new Throwable[1];
    Thread t = new Thread(null, () -> {
      try {
        body.execute();
      } catch (Throwable e) {
        failure[0] = e;
      }
    }, "fuzz", 512 * 1024);
    t.start();
    t.join();
    if (failure[0] != null) throw failure[0];
  }

  private static String abbreviated(String text) {
    String s = text.length() <= 200 ? text : text.substring(0, 100) + " ... (" + text.length() + " chars) ... "
        + text.substring(text.length() - 100);
    return "\"" + s.replace("\n", "\\n") + "\"";
  }
}
