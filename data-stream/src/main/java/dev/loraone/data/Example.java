package dev.loraone.data;

import java.util.List;
import java.util.Objects;

/**
 * One training example, read from a dataset file or built from WordNet.
 *
 * <p>Role: the single currency between readers, the label vocabulary, tokenisation and (later)
 * the Pekko Streams sources. Four kinds exist and a dataset holds one kind only:
 *
 * <ul>
 *   <li>{@link Classification}: {@code {text, label}} for sequence classification;
 *   <li>{@link Generation}: {@code {prompt, completion}} for causal-LM fine-tuning, where only the
 *       completion tokens carry loss;
 *   <li>{@link Chat}: {@code {messages: [{role, content}, ...]}} for causal-LM fine-tuning on
 *       conversations rendered with the model's chat template, where only assistant turns carry loss;
 *   <li>{@link Pair}: {@code {query, positive[, negative]}} for sentence embeddings trained with
 *       in-batch negatives (retrieval).
 * </ul>
 *
 * <p>Each keeps its {@link SourceLocation} so that later failures can name the file and line.
 */
public sealed interface Example permits Example.Classification, Example.Generation, Example.Chat, Example.Pair {

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
    record Generation(String prompt, String completion, SourceLocation source) implements Example, CausalLmRow {
        public Generation {
            Objects.requireNonNull(prompt, "prompt");
            Objects.requireNonNull(completion, "completion");
            Objects.requireNonNull(source, "source");
        }
    }

    /**
     * A conversation, as the OpenAI / Hugging Face {@code messages} list: turns of {@code system},
     * {@code user} and {@code assistant}, at least one of them an assistant turn with content.
     * {@link ChatTemplate} renders it to text with the model's chat template.
     *
     * @param messages the turns in order
     * @param source where it was read
     */
    record Chat(List<Message> messages, SourceLocation source) implements Example {
        /** The roles a turn may have. */
        public static final List<String> ROLES = List.of("system", "user", "assistant");
        /** The role whose turns carry loss. */
        public static final String ASSISTANT = "assistant";

        public Chat {
            messages = List.copyOf(messages);
            Objects.requireNonNull(source, "source");
        }

        /**
         * One turn.
         *
         * @param role one of {@link #ROLES}
         * @param content its text
         */
        public record Message(String role, String content) {
            public Message {
                Objects.requireNonNull(role, "role");
                Objects.requireNonNull(content, "content");
            }
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
