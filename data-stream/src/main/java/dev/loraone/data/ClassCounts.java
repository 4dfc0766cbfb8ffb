package dev.loraone.data;

import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * How many examples of each class each {@link Split} holds, with a printable table.
 *
 * <p>Role: the sanity check a user reads before training (is any class missing from validation?
 * how unbalanced is train?), and the numbers tests pin. Immutable.
 */
public final class ClassCounts {

    private final LabelVocabulary classes;
    private final int[][] counts;

    private ClassCounts(LabelVocabulary classes, int[][] counts) {
        this.classes = classes;
        this.counts = counts;
    }

  /**
   * Counts the examples of each split by class.
   *
   * @throws IllegalArgumentException if an example's label is not in {@code classes}
   */
  public static ClassCounts of(
      LabelVocabulary classes, Map<Split, ? extends Collection<Example.Classification>> bySplit) {
        Objects.requireNonNull(classes, "classes");
        int[][] counts = new int[Split.values().length][classes.size()];
        bySplit.forEach((split, examples) -> {
            for (Example.Classification e : examples) {
                counts[split.ordinal()][classes.id(e)]++;
            }
        });
        return new ClassCounts(classes, counts);
    }

    /** The classes, in id order. */
    public LabelVocabulary classes() {
        return classes;
    }

    /** The count of one class in one split. */
    public int count(Split split, int classId) {
        return counts[split.ordinal()][classId];
    }

    /** The count of one class, by label, in one split. */
    public int count(Split split, String label) {
        return count(split, classes.id(label));
    }

    /** The size of one split. */
    public int splitTotal(Split split) {
        int sum = 0;
        for (int c : counts[split.ordinal()]) {
            sum += c;
        }
        return sum;
    }

    /** The count of one class over all splits. */
    public int classTotal(int classId) {
        int sum = 0;
        for (int[] row : counts) {
            sum += row[classId];
        }
        return sum;
    }

    /** The count over all splits and classes. */
    public int total() {
        int sum = 0;
        for (Split s : Split.values()) {
            sum += splitTotal(s);
        }
        return sum;
    }

    /** The id of the class with the fewest examples overall (lowest id on ties). */
    public int smallestClass() {
        int best = 0;
        for (int c = 1; c < classes.size(); c++) {
            if (classTotal(c) < classTotal(best)) {
                best = c;
            }
        }
        return best;
    }

    /** The id of the class with the most examples overall (lowest id on ties). */
    public int largestClass() {
        int best = 0;
        for (int c = 1; c < classes.size(); c++) {
            if (classTotal(c) > classTotal(best)) {
                best = c;
            }
        }
        return best;
    }

    /** A table: one row per class and a total row; columns train, validation, test, total. */
    public String summary() {
        int width = 5;
        for (String label : classes.labels()) {
            width = Math.max(width, label.length());
        }
        String row = "%-" + width + "s %10s %10s %10s %10s%n";
    StringBuilder out =
        new StringBuilder(
            String.format(Locale.ROOT, row, "class", "train", "validation", "test", "total"));
        for (int c = 0; c < classes.size(); c++) {
            out.append(String.format(Locale.ROOT, row, classes.label(c), n(count(Split.TRAIN, c)),
                    n(count(Split.VALIDATION, c)), n(count(Split.TEST, c)), n(classTotal(c))));
        }
        out.append(String.format(Locale.ROOT, row, "total", n(splitTotal(Split.TRAIN)),
                n(splitTotal(Split.VALIDATION)), n(splitTotal(Split.TEST)), n(total())));
        return out.toString();
    }

    private static String n(int value) {
        return String.format(Locale.ROOT, "%,d", value);
    }

    @Override
    public String toString() {
        return summary();
    }
}
