package dev.loraone.data;

import java.util.Objects;

/**
 * The JSON keys or CSV/TSV column names that hold the two fields of each {@link Example} kind.
 *
 * <p>Role: lets a user point the readers at an existing file ({@code sentence,category}) without
 * rewriting it. The same names are used for JSONL keys and for CSV/TSV header columns. The keys of
 * an {@link Example.Pair} are fixed: {@value #QUERY}, {@value #POSITIVE} and the optional
 * {@value #NEGATIVE} (sentence-transformers' column names for in-batch-negatives training), and so is
 * a chat record's {@value #MESSAGES} (JSONL only: a list of {@code {role, content}} objects).
 *
 * @param text key of the classification input
 * @param label key of the classification label
 * @param prompt key of the generation prompt
 * @param completion key of the generation completion
 */
public record FieldNames(String text, String label, String prompt, String completion) {

    /** Key of a chat record's turns ({@link Example.Chat}). */
    public static final String MESSAGES = "messages";
    /** Key of an embedding pair's query. */
    public static final String QUERY = "query";
    /** Key of an embedding pair's relevant document. */
    public static final String POSITIVE = "positive";
    /** Key of an embedding pair's optional hard negative. */
    public static final String NEGATIVE = "negative";

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

    /** {@code {query,positive[,negative]}}: the embedding-pair shape, for messages. */
    public String pairShape() {
        return "{" + QUERY + "," + POSITIVE + "[," + NEGATIVE + "]}";
    }

    /** {@code {messages}}: the chat shape, for messages. */
    public String chatShape() {
        return "{" + MESSAGES + "}";
    }

    /** The shape of an example's kind, for messages. */
    String shapeOf(Example e) {
        if (e instanceof Example.Classification) {
            return classificationShape();
        }
        if (e instanceof Example.Chat) {
            return chatShape();
        }
        return e instanceof Example.Generation ? generationShape() : pairShape();
    }

    /** The {@code (expected {text,label}, {prompt,completion} or {query,positive[,negative]})} message suffix. */
    String expected() {
        return "(expected " + classificationShape() + ", " + generationShape() + " or " + pairShape() + ")";
    }

    /** {@link #expected()} for JSONL, which may also hold chat records: {@code {messages}} is added. */
    String expectedJsonl() {
        return "(expected " + classificationShape() + ", " + generationShape() + ", " + chatShape() + " or "
                + pairShape() + ")";
    }
}
