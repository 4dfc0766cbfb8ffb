package dev.loraone.service;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Who may do what on the service: bearer tokens, each with scopes and a name that jobs record as their
 * submitter. Pure: the HTTP side ({@link Guard}) asks {@link #find} and the scope rules below.
 *
 * <pre>
 *   token file (serve --token-file), one token a line; blank lines and # comments skipped:
 *     TOKEN  SCOPE[,SCOPE...]  [NAME]        e.g.  3f9c...e1  submit  alice
 *   scopes, each including those before it:  read &lt; submit &lt; admin
 *     read    GET: jobs, events, artefacts, metrics, workers
 *     submit  POST /jobs; cancel one's own jobs (those submitted under the same name)
 *     admin   cancel anyone's job; drain worker nodes (POST /workers/{node}/leave)
 *   serve --token / $LORAONE_TOKEN: one more token, every scope, named "operator"
 * </pre>
 *
 * With no token at all the service is open (it then listens on loopback only, see {@link Service}).
 * Tokens are compared by their SHA-256 in constant time, against every entry, so neither a token's
 * length nor how much of it matched shows in the answer time.
 */
public final class Tokens {
  /** What a token may do; each scope includes the ones before it. */
  public enum Scope {
    READ, SUBMIT, ADMIN;

    public String key() {
      return name().toLowerCase(Locale.ROOT);
    }

    static Optional<Scope> parse(String s) {
      return Arrays.stream(values()).filter(v -> v.key().equals(s)).findFirst();
    }
  }

  /**
   * A caller: the name jobs record (null for {@link #ANYONE}) and the scopes its token grants.
   */
  public record Holder(String name, Set<Scope> scopes) {
    public boolean has(Scope s) {
      return scopes.stream().anyMatch(g -> g.ordinal() >= s.ordinal());
    }

    /** {@code read,submit}: the scopes granted, implied ones included. */
    String scopesText() {
      return Arrays.stream(Scope.values()).filter(this::has).map(Scope::key).collect(Collectors.joining(","));
    }
  }

  /** The caller of a service without tokens: anything goes, and no name is recorded. */
  public static final Holder ANYONE = new Holder(null, EnumSet.allOf(Scope.class));
  /** The name of {@code --token}'s holder. */
  public static final String OPERATOR = "operator";
  /** Shortest token accepted: 16 characters. */
  public static final int MIN_LENGTH = 16;

  private static final Pattern TOKEN = Pattern.compile("[\\x21-\\x7e]+");
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@-]{0,63}");

  private record Entry(byte[] digest, Holder holder) {}

  private final List<Entry> entries;

  private Tokens(List<Entry> entries) {
    this.entries = List.copyOf(entries);
  }

  /** No tokens: an open service. */
  public static Tokens none() {
    return new Tokens(List.of());
  }

  /**
   * {@code --token} (null or blank: none) with every scope, plus the tokens of {@code file} (null: none).
   *
   * @throws IllegalArgumentException naming the option, or {@code file:line}, of a bad token
   */
  public static Tokens of(String token, Path file) throws IOException {
    List<Entry> entries = new ArrayList<>();
    if (token != null && !token.isBlank()) {
      checkToken(token, "--token");
      entries.add(new Entry(digest(token), new Holder(OPERATOR, EnumSet.allOf(Scope.class))));
    }
    if (file != null) {
      if (!Files.isRegularFile(file)) throw new IllegalArgumentException("--token-file " + file + ": no such file");
      entries.addAll(parse(Files.readAllLines(file, StandardCharsets.UTF_8), file.toString()).entries);
    }
    boolean single = token != null && !token.isBlank(); // the file's own duplicates are named by parse
    for (int i = 1; single && i < entries.size(); i++) {
      if (MessageDigest.isEqual(entries.get(0).digest(), entries.get(i).digest()))
        throw new IllegalArgumentException("--token-file " + file + ": holds the --token token again");
    }
    return new Tokens(entries);
  }

  /** The tokens of a token file's {@code lines}; a problem names {@code source:line}. */
  static Tokens parse(List<String> lines, String source) {
    List<Entry> entries = new ArrayList<>();
    List<Integer> lineOf = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      String at = source + ":" + (i + 1);
      if (line.isEmpty() || line.startsWith("#")) continue;
      String[] f = line.split("\\s+");
      if (f.length < 2 || f.length > 3) {
        throw new IllegalArgumentException(at + ": expected TOKEN SCOPE[,SCOPE] [NAME], got " + f.length
            + " field(s)" + (f.length == 1 ? " (no scope)" : ""));
      }
      checkToken(f[0], at);
      Set<Scope> scopes = EnumSet.noneOf(Scope.class);
      for (String s : f[1].split(",", -1)) {
        scopes.add(Scope.parse(s.strip().toLowerCase(Locale.ROOT)).orElseThrow(() -> new IllegalArgumentException(
            at + ": unknown scope '" + s + "' (expected read, submit or admin, comma-separated)")));
      }
      String name = f.length == 3 ? f[2] : "token-" + HexFormat.of().formatHex(digest(f[0]), 0, 4);
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(at + ": name '" + name + "' must be 1-64 of [A-Za-z0-9._@-]");
      }
      byte[] d = digest(f[0]);
      for (int k = 0; k < entries.size(); k++) {
        if (MessageDigest.isEqual(entries.get(k).digest(), d))
          throw new IllegalArgumentException(at + ": the same token as line " + lineOf.get(k));
      }
      entries.add(new Entry(d, new Holder(name, Set.copyOf(scopes))));
      lineOf.add(i + 1);
    }
    return new Tokens(entries);
  }

  /** Does the service ask callers for a token? */
  public boolean required() {
    return !entries.isEmpty();
  }

  public int size() {
    return entries.size();
  }

  /** The holder of {@code presented}; empty when no entry has it. Constant time in the token. */
  Optional<Holder> find(String presented) {
    byte[] d = digest(presented);
    Holder found = null;
    for (Entry e : entries) { // no early exit: every entry is compared
      if (MessageDigest.isEqual(e.digest(), d)) found = e.holder();
    }
    return Optional.ofNullable(found);
  }

  /** The scope cancelling a job submitted by {@code submittedBy} (null: unknown) needs from {@code who}. */
  static Scope cancelNeeds(Holder who, String submittedBy) {
    return who.name() != null && who.name().equals(submittedBy) ? Scope.SUBMIT : Scope.ADMIN;
  }

  /** The 403 message: what was asked, the scope it needs and what the caller's token grants. */
  static String denied(Holder who, Scope needed, String what) {
    return what + " needs a token with scope '" + needed.key() + "'; token '" + who.name() + "' has "
        + who.scopesText();
  }

  private static void checkToken(String token, String where) {
    if (token.length() < MIN_LENGTH) {
      throw new IllegalArgumentException(where + ": use at least " + MIN_LENGTH + " characters for a token (got "
          + token.length() + ")");
    }
    if (!TOKEN.matcher(token).matches()) {
      throw new IllegalArgumentException(where + ": a token is printable ASCII without spaces");
    }
  }

  private static byte[] digest(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
