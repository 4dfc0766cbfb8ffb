package dev.loraone.protocol.job;

import java.util.List;

/**
 * The shape check every job text passes before Typesafe Config parses it: its parser and resolver
 * recurse once per level of nesting, per segment of a dotted key and per self-reference, so 8 KB of
 * {@code {"job":{"job":...}}} or of {@code a += 1} lines threw StackOverflowError, and Pekko exits the
 * JVM on an Error. One linear pass refuses such text as a problem naming the line and the limit.
 */
final class JobTextShape {
  private JobTextShape() {}

  /** Deepest nesting a job text may have: each {, [ and ${ counts a level, and so does each dot of a key (a.b.c). */
  static final int MAX_DEPTH = 32;
  /** Most ${...} and += a job text may hold: the resolver recurses once per self-reference ({@code a += 1}). */
  static final int MAX_SUBSTITUTIONS = 64;
  /** Longest job text in characters (a job file: bytes); loraone serve's default --max-body. A job needs a few KB. */
  static final int MAX_CHARS = 1 << 20;
  /** The nesting a job needs: JSON's root braces, {@code job}, and the dots of its longest key ({@code lora.rank}). */
  private static final int NEEDED_DEPTH = 2 + JobKeys.ALL.keySet().stream()
      .mapToInt(k -> k.split("\\.").length - 1).max().orElse(0);

  /**
   * Rejects text whose shape would make Typesafe Config misbehave, in one linear pass before it parses: its parser and
   * resolver recurse once per level of nesting, per segment of a dotted key and per self-reference, so 8 KB of
   * {@code {"job":{"job":...}}} or of {@code a += 1} lines threw StackOverflowError, and Pekko exits the JVM on an
   * Error. Brackets and dots count outside "strings", """strings""" and # or // comments, where HOCON reads them.
   */
  static void check(String t, String source) {
    if (t.length() > MAX_CHARS) {
      throw new JobSpec.InvalidJobException(source, List.of(tooLong(source, t.length() + " characters")));
    }
    char[] kinds = new char[MAX_DEPTH]; // the enclosing levels: '{' object, '[' array, '$' substitution ${...}
    int[] dotsAt = new int[MAX_DEPTH]; // the dots of the key each enclosing level opened under
    char kind = '{';
    char mode = 'k'; // k: in a key (its dots nest), '=': before a value, v: in a value
    int levels = 0, depth = 0, dots = 0, line = 1, substitutions = 0;
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      char next = i + 1 < t.length() ? t.charAt(i + 1) : 0;
      if (c == '#' || c == '/' && next == '/') {
        while (i + 1 < t.length() && t.charAt(i + 1) != '\n') i++;
      } else if (c == '"' && t.startsWith("\"\"\"", i)) { // ends at the last quote of the next run of three or more
        int end = t.indexOf("\"\"\"", i + 3);
        end = end < 0 ? t.length() : end + 3;
        while (end < t.length() && t.charAt(end) == '"') end++;
        line += (int) t.substring(i, end).chars().filter(x -> x == '\n').count();
        i = end - 1;
        mode = mode == 'k' ? 'k' : 'v';
      } else if (c == '"') { // ends at an unescaped quote, or at a newline (a syntax error): read on from there
        while (i + 1 < t.length() && t.charAt(i + 1) != '"' && t.charAt(i + 1) != '\n') {
          i += t.charAt(i + 1) == '\\' && i + 2 < t.length() && t.charAt(i + 2) != '\n' ? 2 : 1;
        }
        if (i + 1 < t.length() && t.charAt(i + 1) == '"') i++;
        mode = mode == 'k' ? 'k' : 'v';
      } else if (c == '{' || c == '[' || c == '$' && next == '{') {
        if (depth + 1 + dots > MAX_DEPTH) throw tooDeep(source, line, depth + 1 + dots);
        if (c == '$' && ++substitutions > MAX_SUBSTITUTIONS) throw tooManySubstitutions(source, line);
        kinds[levels] = kind;
        dotsAt[levels++] = dots;
        depth += 1 + dots;
        kind = c;
        mode = c == '[' ? '=' : 'k';
        dots = 0;
        if (c == '$') i++;
      } else if ((c == '}' || c == ']') && levels > 0) { // the value goes on: {a=1} {b=2} nests under the same key
        kind = kinds[--levels];
        dots = dotsAt[levels];
        depth -= 1 + dots;
        mode = 'v';
      } else if (c == '.') {
        if (depth + ++dots > MAX_DEPTH) throw tooDeep(source, line, depth + dots);
        mode = mode == 'k' ? 'k' : 'v';
      } else if ((c == '\n' || c == ',') && mode == 'v') { // a value ended; a key may go on over newlines to its {
        dots = 0;
        mode = kind == '[' ? '=' : 'k';
      } else if ((c == '=' || c == ':') && mode == 'k') {
        mode = '=';
        if (c == '=' && i > 0 && t.charAt(i - 1) == '+' && ++substitutions > MAX_SUBSTITUTIONS) {
          throw tooManySubstitutions(source, line);
        }
      } else if (mode == '=' && !Character.isWhitespace(c)) {
        mode = 'v';
      }
      if (c == '\n') line++;
    }
  }

  private static JobSpec.InvalidJobException tooDeep(String source, int line, int depth) {
    return new JobSpec.InvalidJobException(
        source,
        List.of(
            source
                + ": line "
                + line
                + ": nesting deeper than "
                + MAX_DEPTH
                + " levels ({ or [ or a dot in a key; reached "
                + depth
                + "); a job file needs at most "
                + NEEDED_DEPTH));
  }

  private static JobSpec.InvalidJobException tooManySubstitutions(String source, int line) {
    return new JobSpec.InvalidJobException(
        source,
        List.of(
            source
                + ": line "
                + line
                + ": more than "
                + MAX_SUBSTITUTIONS
                + " substitutions (${...} or +=); a job file needs a few at most"));
  }

  static String tooLong(String source, String size) {
    return source + ": " + size + ", more than the " + MAX_CHARS
        + " a job text may have (a job file needs a few kilobytes)";
  }
}
