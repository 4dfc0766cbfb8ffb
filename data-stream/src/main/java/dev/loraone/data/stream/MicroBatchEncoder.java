package dev.loraone.data.stream;

import dev.loraone.data.CausalLmBatch;
import dev.loraone.data.CausalLmEncoder;
import dev.loraone.data.Example;
import dev.loraone.data.LabelVocabulary;
import dev.loraone.data.TextTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Turns the examples of one micro-batch into the model's input.
 *
 * <p>Role: the one varying part of {@link MicroBatchSource}: classification and causal-LM
 * fine-tuning share addressing, shuffling and prefetch, and differ only here. Implementations are
 * called from several threads at once and must be thread-safe ({@link TextTokenizer} and
 * {@link CausalLmEncoder} are).
 *
 * @param <E> the example kind
 * @param <B> the encoded batch
 */
@FunctionalInterface
public interface MicroBatchEncoder<E extends Example, B> {

    /** Encodes examples, one row each, in the order given. */
    B encode(List<E> examples);

    /**
     * Texts through {@link TextTokenizer#encode} (special tokens, truncation, right padding) and
     * labels through {@link LabelVocabulary#id(Example.Classification)}; an unknown label fails
     * with the example's {@code file:line}.
     */
    static MicroBatchEncoder<Example.Classification, LabelledTokenBatch> classification(
            TextTokenizer tokenizer, LabelVocabulary labels) {
        Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(labels, "labels");
        return examples -> {
            List<String> texts = new ArrayList<>(examples.size());
            int[] ids = new int[examples.size()];
            for (int i = 0; i < ids.length; i++) {
                Example.Classification e = examples.get(i);
                ids[i] = labels.id(e);
                texts.add(e.text());
            }
            return new LabelledTokenBatch(tokenizer.encode(texts), ids);
        };
    }

    /** Prompt/completion pairs through {@link CausalLmEncoder#encodeExamples}. */
    static MicroBatchEncoder<Example.Generation, CausalLmBatch> causalLm(CausalLmEncoder encoder) {
        Objects.requireNonNull(encoder, "encoder");
        return encoder::encodeExamples;
    }
}
