package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.service.Tokens.Holder;
import dev.loraone.service.Tokens.Scope;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokensTest {
  static final String READER = "read-0123456789abcdef";
  static final String ALICE = "alice-0123456789abcdef";
  static final String BOB = "bob-0123456789abcdef00";
  static final String ROOT = "root-0123456789abcdef";

  static Tokens file() {
    return Tokens.parse(
        List.of(
            "# who may do what",
            "",
            READER + " read dashboard",
            "  " + ALICE + "\tsubmit alice  ",
            BOB + " read,submit bob",
            ROOT + " admin"),
        "tokens.txt");
  }

  @Test
  void eachLineGivesItsNameAndScopesAndCommentsAreSkipped() {
    Tokens t = file();
    assertTrue(t.required());
    assertEquals(4, t.size());
    Holder reader = t.find(READER).orElseThrow();
    assertEquals("dashboard", reader.name());
    assertTrue(reader.has(Scope.READ));
    assertFalse(reader.has(Scope.SUBMIT));
    assertEquals("alice", t.find(ALICE).orElseThrow().name());
    assertEquals("bob", t.find(BOB).orElseThrow().name());
    assertTrue(t.find("nobody-0123456789abcdef").isEmpty());
    assertTrue(t.find("").isEmpty());
    assertTrue(t.find(READER + "x").isEmpty(), "a longer token with the same prefix is another token");
  }

  @Test
  void scopesIncludeTheOnesBelowThem() {
    Holder submit = file().find(ALICE).orElseThrow();
    assertTrue(submit.has(Scope.READ), "submit includes read (submit follows its job)");
    assertFalse(submit.has(Scope.ADMIN));
    Holder admin = file().find(ROOT).orElseThrow();
    for (Scope s : Scope.values()) assertTrue(admin.has(s), s::key);
    assertEquals("read,submit,admin", admin.scopesText());
  }

  @Test
  void aLineWithoutANameIsNamedByItsTokensHashNotTheToken() {
    String name = file().find(ROOT).orElseThrow().name();
    assertTrue(name.matches("token-[0-9a-f]{8}"), name);
    assertFalse(ROOT.contains(name.substring(6)), "the name does not quote the token");
  }

  @Test
  void cancellingOnesOwnJobNeedsSubmitAndAnothersNeedsAdmin() {
    Tokens t = file();
    Holder alice = t.find(ALICE).orElseThrow();
    assertEquals(Scope.SUBMIT, Tokens.cancelNeeds(alice, "alice"));
    assertEquals(Scope.ADMIN, Tokens.cancelNeeds(alice, "bob"));
    assertEquals(Scope.ADMIN, Tokens.cancelNeeds(alice, null), "a job of no one known is another's");
    assertEquals(Scope.ADMIN, Tokens.cancelNeeds(new Holder(null, Tokens.ANYONE.scopes()), null));
    assertTrue(Tokens.ANYONE.has(Tokens.cancelNeeds(Tokens.ANYONE, "alice")), "without tokens anyone may");
  }

  @Test
  void aDenialNamesTheScopeNeededAndTheTokensScopes() {
    Holder reader = file().find(READER).orElseThrow();
    assertEquals(
        "submitting a job needs a token with scope 'submit'; token 'dashboard' has read",
        Tokens.denied(reader, Scope.SUBMIT, "submitting a job"));
  }

  @Test
  void badLinesAreNamedByFileAndLine() {
    assertProblem("tokens.txt:2: unknown scope 'write'", "# x", ALICE + " read,write");
    assertProblem("tokens.txt:1: expected TOKEN SCOPE[,SCOPE] [NAME], got 1 field(s) (no scope)", ALICE);
    assertProblem("tokens.txt:1: expected TOKEN SCOPE[,SCOPE] [NAME], got 4 field(s)", ALICE + " read a b");
    assertProblem("tokens.txt:1: use at least 16 characters for a token (got 5)", "short read");
    assertProblem("tokens.txt:3: the same token as line 1", ALICE + " read", BOB + " read", ALICE + " admin x");
    assertProblem("tokens.txt:1: name 'a/b' must be 1-64 of", ALICE + " read a/b");
    assertProblem("tokens.txt:1: unknown scope ''", ALICE + " read,");
  }

  @Test
  void theSingleTokenHasEveryScopeAndJoinsTheFile(@TempDir Path dir) throws Exception {
    Path f = Files.writeString(dir.resolve("tokens"), READER + " read\n");
    Tokens t = Tokens.of(ROOT, f);
    assertEquals(2, t.size());
    Holder op = t.find(ROOT).orElseThrow();
    assertEquals(Tokens.OPERATOR, op.name());
    assertTrue(op.has(Scope.ADMIN));
    assertFalse(Tokens.of(null, null).required());
    assertFalse(Tokens.of("  ", null).required(), "a blank $LORAONE_TOKEN is no token");
    IllegalArgumentException short1 =
        assertThrows(IllegalArgumentException.class, () -> Tokens.of("tooshort", null));
    assertTrue(short1.getMessage().startsWith("--token: use at least 16 characters"), short1.getMessage());
    IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> Tokens.of(READER, f));
    assertTrue(twice.getMessage().contains("holds the --token token again"), twice.getMessage());
    IllegalArgumentException missing =
        assertThrows(IllegalArgumentException.class, () -> Tokens.of(null, dir.resolve("nope")));
    assertTrue(missing.getMessage().contains("--token-file") && missing.getMessage().contains("no such file"));
  }

  private static void assertProblem(String expectedStart, String... lines) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Tokens.parse(List.of(lines), "tokens.txt"));
    assertTrue(e.getMessage().startsWith(expectedStart), () -> "expected '" + expectedStart + "', got: "
        + e.getMessage());
  }
}
