package dev.loraone.data;

/**
 * One row of causal-LM training data, ready for {@link CausalLmEncoder}: a prompt/completion pair
 * ({@link Example.Generation}) or a conversation already rendered by the model's chat template
 * ({@link RenderedChat}).
 *
 * <p>Role: lets one encoder, one batch type and one loss serve both data formats, so a step's loss
 * stays "summed target-token loss over target tokens" whichever format a file holds.
 */
public sealed interface CausalLmRow permits Example.Generation, RenderedChat {

    /** Where the row was read, for messages. */
    SourceLocation source();
}
