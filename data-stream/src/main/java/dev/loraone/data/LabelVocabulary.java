package dev.loraone.data;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Maps string class labels to dense ids {@code 0..size-1} in sorted order.
 *
 * <p>Role: the classifier head needs integer targets, and every worker and every run must agree
 * on them. Sorting ({@link String#compareTo}: UTF-16 code-unit order, independent of locale) makes
 * the mapping a function of the label <em>set</em> alone, not of file order or hash order. Note
 * that this puts upper case first: {@code noun.Tops < noun.act}. Immutable and thread-safe.
 */
public final class LabelVocabulary {

    private final List<String> labels;
    private final Map<String, Integer> ids;

    private LabelVocabulary(List<String> sortedDistinct) {
        this.labels = sortedDistinct;
        this.ids = new HashMap<>(sortedDistinct.size() * 2);
        for (int i = 0; i < sortedDistinct.size(); i++) {
            ids.put(sortedDistinct.get(i), i);
        }
    }

    /** The vocabulary of the distinct labels given, in any order and with repeats. */
    public static LabelVocabulary of(Collection<String> labels) {
        TreeSet<String> sorted = new TreeSet<>();
        for (String label : labels) {
            sorted.add(Objects.requireNonNull(label, "label"));
        }
        return new LabelVocabulary(List.copyOf(sorted));
    }

    /** The vocabulary of the labels of classification examples. */
    public static LabelVocabulary fromExamples(Collection<Example.Classification> examples) {
        return of(examples.stream().map(Example.Classification::label).toList());
    }

    /** The number of classes. */
    public int size() {
        return labels.size();
    }

    /** The labels in id order. */
    public List<String> labels() {
        return labels;
    }

    /** Whether the label is known. */
    public boolean contains(String label) {
        return ids.containsKey(label);
    }

    /**
     * The id of a label.
     *
     * @throws IllegalArgumentException if the label is not in the vocabulary
     */
    public int id(String label) {
        Integer id = ids.get(label);
        if (id == null) {
            throw new IllegalArgumentException("unknown label \"" + label + "\" (expected one of " + size()
                    + " labels: " + abbreviated() + ")");
        }
        return id;
    }

    /** The id of an example's label; an unknown label's message names the example's file and line. */
    public int id(Example.Classification example) {
        try {
            return id(example.label());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(example.source() + ": " + e.getMessage(), e);
        }
    }

    /** The label of an id. */
    public String label(int id) {
        return labels.get(id);
    }

    private String abbreviated() {
        return labels.size() <= 10 ? labels.toString() : labels.subList(0, 10) + "...";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LabelVocabulary other && labels.equals(other.labels);
    }

    @Override
    public int hashCode() {
        return labels.hashCode();
    }

    @Override
    public String toString() {
        return "LabelVocabulary" + labels;
    }
}
