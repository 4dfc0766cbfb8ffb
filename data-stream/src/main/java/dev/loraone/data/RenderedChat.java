package dev.loraone.data;

import java.util.List;
import java.util.Objects;

/**
 * A conversation rendered by its model's chat template, with the character spans of its assistant
 * turns: the only text that carries loss.
 *
 * <p>Role: what {@link ChatTemplate#render(Example.Chat)} hands to {@link CausalLmEncoder}, which
 * tokenises {@link #text()} as it is (the template writes BOS and the turn markers itself) and labels
 * the tokens that start inside a span. Spans are {@code [start, end)} UTF-16 indices into
 * {@link #text()}, in order and disjoint; each covers an assistant turn's content and whatever the
 * template writes after it before the next turn (end-of-turn token, EOS, newline).
 *
 * @param text the rendered conversation
 * @param assistantSpans the assistant turns' character spans
 * @param lastReply the last assistant turn's content as written in the row (for exact-match evaluation)
 * @param source where the row was read
 */
public record RenderedChat(String text, List<Span> assistantSpans, String lastReply, SourceLocation source)
        implements CausalLmRow {

    /** A character range {@code [start, end)} of {@link #text()}. */
    public record Span(int start, int end) {
        public Span {
            if (start < 0 || end <= start) {
                throw new IllegalArgumentException("span [" + start + ", " + end + ") is empty or negative");
            }
        }
    }

    public RenderedChat {
        Objects.requireNonNull(text, "text");
        assistantSpans = List.copyOf(assistantSpans);
        Objects.requireNonNull(lastReply, "lastReply");
        Objects.requireNonNull(source, "source");
        if (assistantSpans.isEmpty()) {
            throw new IllegalArgumentException(source + ": a rendered chat needs an assistant span");
        }
        int from = 0;
        for (Span s : assistantSpans) {
            if (s.start() < from || s.end() > text.length()) {
                throw new IllegalArgumentException(source + ": span " + s + " out of order or past the text");
            }
            from = s.end();
        }
    }

    /** The text before the last assistant turn: the conversation up to it with the generation prompt. */
    public String lastPrompt() {
        return text.substring(0, assistantSpans.get(assistantSpans.size() - 1).start());
    }

    /** Whether character {@code i} of {@link #text()} lies in an assistant span. */
    public boolean isAssistant(int i) {
        for (Span s : assistantSpans) {
            if (i >= s.start() && i < s.end()) {
                return true;
            }
        }
        return false;
    }
}
