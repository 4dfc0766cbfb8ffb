package dev.loraone.protocol.wire;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Validation and normalisation shared by the wire records' compact constructors. They run on the
 * receiving side too (the record serializer calls the canonical constructor), so a peer cannot
 * hand an actor a record that breaks these rules.
 *
 * <p>Wire records carry no nulls; lists are immutable copies; maps are immutable and sorted by
 * key, so a message serializes to the same bytes whatever map the sender built it from.
 */
public final class WireChecks {
  /** Identifiers on the wire: safe in actor names, file names and logs. */
  public static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private WireChecks() {}

  /** Returns {@code value} if it is a valid id; otherwise throws naming the kind and the rule. */
  public static String id(String kind, String value) {
    if (value == null || !ID.matcher(value).matches()) {
      throw new IllegalArgumentException(
          kind + " \"" + value + "\" is invalid: expected 1-64 characters of [A-Za-z0-9._-]");
    }
    return value;
  }

  public static <T> T notNull(String name, T value) {
    return Objects.requireNonNull(value, () -> name + " must not be null");
  }

  public static int nonNegative(String name, int value) {
    if (value < 0) throw new IllegalArgumentException(name + " must be >= 0, got " + value);
    return value;
  }

  public static long nonNegative(String name, long value) {
    if (value < 0) throw new IllegalArgumentException(name + " must be >= 0, got " + value);
    return value;
  }

  /** An immutable copy; null elements are rejected with the list's name. */
  public static <T> List<T> list(String name, List<T> values) {
    notNull(name, values);
    for (T v : values) notNull("element of " + name, v);
    return List.copyOf(values);
  }

  /** An immutable copy sorted by key; null keys or values are rejected with the map's name. */
  public static <K extends Comparable<K>, V> SortedMap<K, V> sortedMap(String name, Map<K, V> values) {
    notNull(name, values);
    TreeMap<K, V> copy = new TreeMap<>();
    for (Map.Entry<K, V> e : values.entrySet()) {
      copy.put(notNull("key of " + name, e.getKey()), notNull(name + "[" + e.getKey() + "]", e.getValue()));
    }
    return Collections.unmodifiableSortedMap(copy);
  }
}
