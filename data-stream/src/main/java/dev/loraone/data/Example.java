package dev.loraone.data;

import java.util.Objects;

/**
 * One training example, read from a dataset file or built from WordNet.
 *
 * <p>Role: the single currency between readers, the label vocabulary, tokenisation and (later)
 * the Pekko Streams sources. Three kinds exist and a dataset holds one kind only:
 *
 * <ul>
 *   <li>{@link Classification}: {@code {text, label}} for sequence classification;
 *   <li>{@link Generation}: {@code {prompt, completion}} for causal-LM fine-tuning, where only the
 *       completion tokens carry loss;
 *   <li>{@link Pair}: {@code {query, positive[, negative]}} for sentence embeddings trained with
 *       in-batch negatives (retrieval).
 * </ul>
 *
 * <p>Each keeps its {@link SourceLocation} so that later failures can name the file and line.
 */
public sealed interface Example permits Example.Classification, Example.Generation, Example.Pair {

    /** Where this example was read from. */
    SourceLocation source();

    /**
     * A text with a class label.
     *
     * @param text the input text (may be empty)
     * @param label the class label as written in the file (never blank)
     * @param source where it was read
     */
    record Classification(String text, String label, SourceLocation source) implements Example {
        public Classification {
            Objects.requireNonNull(text, "text");
            Objects.requireNonNull(label, "label");
            Objects.requireNonNull(source, "source");
        }
    }

    /**
     * A prompt and the completion the model should learn to produce after it.
     *
     * @param prompt the conditioning text (its tokens are masked out of the loss)
     * @param completion the target text
     * @param source where it was read
     */
    record Generation(String prompt, String completion, SourceLocation source) implements Example {
        public Generation {
            Objects.requireNonNull(prompt, "prompt");
            Objects.requireNonNull(completion, "completion");
            Objects.requireNonNull(source, "source");
        }
    }

    /**
     * A query and the document it should retrieve, optionally with a hard negative: a document
     * close to the query that it should not retrieve. The other pairs' documents in a batch are the
     * query's other negatives.
     *
     * @param query the query text (not blank)
     * @param positive the relevant document (not blank)
     * @param negative the hard negative, or {@code null} for none
     * @param source where it was read
     */
    record Pair(String query, String positive, String negative, SourceLocation source) implements Example {
        public Pair {
            Objects.requireNonNull(query, "query");
            Objects.requireNonNull(positive, "positive");
            Objects.requireNonNull(source, "source");
        }

        /** A pair without a hard negative. */
        public Pair(String query, String positive, SourceLocation source) {
            this(query, positive, null, source);
        }

        /** Whether the record names a hard negative. */
        public boolean hasNegative() {
            return negative != null;
        }
    }
}
