package dev.loraone.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The Python {@code str} methods Hugging Face chat templates call, for {@link ChatJinja}.
 *
 * <p>Role: HF renders templates with Python's Jinja2, where {@code message['content'].strip()} is a
 * Python method call; jinjava resolves method calls against Java classes, whose {@code String} has no
 * {@code startswith} or {@code lstrip('\n')}. {@link #call} implements the methods templates use with
 * Python's semantics (whitespace is {@code str.isspace}); it answers {@code null} for any other name so
 * the Java method, if one exists, runs instead. Pure and stateless.
 */
final class PythonStrings {

    private PythonStrings() {}

    /** Whether {@code name} is a method {@link #call} implements. */
    static boolean has(String name) {
        return switch (name) {
            case "strip", "lstrip", "rstrip", "startswith", "endswith", "lower", "upper", "title", "capitalize",
                    "split", "replace", "find" -> true;
            default -> false;
        };
    }

    /**
     * {@code s.name(*args)} as Python computes it.
     *
     * @throws IllegalArgumentException for arguments Python would refuse (a wrong count or type)
     */
    static Object call(String s, String name, Object[] args) {
        return switch (name) {
            case "strip" -> rstrip(lstrip(s, chars(args)), chars(args));
            case "lstrip" -> lstrip(s, chars(args));
            case "rstrip" -> rstrip(s, chars(args));
            case "startswith" -> s.startsWith(text(args, 0, name));
            case "endswith" -> s.endsWith(text(args, 0, name));
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT)
                    + s.substring(1).toLowerCase(Locale.ROOT);
            case "split" -> split(s, splitSeparator(args));
            case "replace" -> s.replace(text(args, 0, name), text(args, 1, name));
            case "find" -> (long) s.indexOf(text(args, 0, name));
            default -> throw new IllegalArgumentException("str has no method " + name);
        };
    }

    /** Python's {@code str.isspace} for one char. */
    static boolean isSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085';
    }

    /** {@code s.lstrip(chars)}; {@code chars} null strips whitespace. */
    static String lstrip(String s, String chars) {
        int i = 0;
        while (i < s.length() && strips(s.charAt(i), chars)) {
            i++;
        }
        return s.substring(i);
    }

    /** {@code s.rstrip(chars)}; {@code chars} null strips whitespace. */
    static String rstrip(String s, String chars) {
        int i = s.length();
        while (i > 0 && strips(s.charAt(i - 1), chars)) {
            i--;
        }
        return s.substring(0, i);
    }

    /** {@code s.split(sep)}: on runs of whitespace without empty parts when {@code sep} is null. */
    static List<String> split(String s, String sep) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int i = 0;
            while (i < s.length()) {
                while (i < s.length() && isSpace(s.charAt(i))) {
                    i++;
                }
                int from = i;
                while (i < s.length() && !isSpace(s.charAt(i))) {
                    i++;
                }
                if (i > from) {
                    out.add(s.substring(from, i));
                }
            }
            return out;
        }
        if (sep.isEmpty()) {
            throw new IllegalArgumentException("split: empty separator");
        }
        int from = 0;
        for (int at = s.indexOf(sep); at >= 0; at = s.indexOf(sep, from)) {
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    private static String splitSeparator(Object[] args) {
        if (args.length > 1) {
            throw new IllegalArgumentException("split: maxsplit is not supported");
        }
        return args.length == 0 || args[0] == null ? null : text(args, 0, "split");
    }

    private static String title(String s) {
        StringBuilder b = new StringBuilder(s.length());
        boolean previousCased = false;
        for (char c : s.toCharArray()) {
            b.append(previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
            previousCased = Character.isLetter(c);
        }
        return b.toString();
    }

    private static boolean strips(char c, String chars) {
        return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
    }

    private static String chars(Object[] args) {
        if (args.length > 1) {
            throw new IllegalArgumentException("strip takes at most 1 argument, got " + args.length);
        }
        return args.length == 0 || args[0] == null ? null : text(args, 0, "strip");
    }

    private static String text(Object[] args, int i, String method) {
        if (args.length <= i || !(args[i] instanceof String s)) {
            throw new IllegalArgumentException(method + ": argument " + (i + 1) + " must be a string");
        }
        return s;
    }
}
