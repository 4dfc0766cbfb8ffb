package dev.loraone.data;

import java.util.Objects;

/**
 * The JSON keys or CSV/TSV column names that hold the two fields of each {@link Example} kind.
 *
 * <p>Role: lets a user point the readers at an existing file ({@code sentence,category}) without
 * rewriting it. The same names are used for JSONL keys and for CSV/TSV header columns.
 *
 * @param text key of the classification input
 * @param label key of the classification label
 * @param prompt key of the generation prompt
 * @param completion key of the generation completion
 */
public record FieldNames(String text, String label, String prompt, String completion) {

    /** {@code text, label, prompt, completion}. */
    public static final FieldNames DEFAULT = new FieldNames("text", "label", "prompt", "completion");

    public FieldNames {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(completion, "completion");
    }

    /** {@code {text,label}}: the classification shape, for messages. */
    public String classificationShape() {
        return "{" + text + "," + label + "}";
    }

    /** {@code {prompt,completion}}: the generation shape, for messages. */
    public String generationShape() {
        return "{" + prompt + "," + completion + "}";
    }

    /** The {@code (expected {text,label} or {prompt,completion})} suffix of error messages. */
    String expected() {
        return "(expected " + classificationShape() + " or " + generationShape() + ")";
    }
}
