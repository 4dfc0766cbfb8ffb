package dev.loraone.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Encodes causal-LM rows, prompt/completion pairs or rendered chats, masking all but the target text out of
 * the loss.
 *
 * <p>Role: the generation counterpart of {@link TextTokenizer#encode}. Each row is
 *
 * <pre>
 *   input_ids = [BOS] prompt completion [EOS]      (BOS/EOS only if given)
 *   labels    = -100 -100.. completion [EOS]
 * </pre>
 *
 * Prompt and completion are tokenised separately without special tokens, so the boundary is
 * exact (no token merges across it). Rows longer than the tokenizer's {@code maxLength} are cut
 * on the right (a row whose completion is cut away entirely carries no loss; see
 * {@link CausalLmBatch#labelledTokens()}); the batch is right-padded to its longest row with the
 * pad id, attention 0 and label -100. BOS/EOS ids come from the model's {@code config.json}
 * ({@code bos_token_id}, {@code eos_token_id}).
 *
 * <p>A {@link RenderedChat} is tokenised whole, without adding special tokens (its template wrote BOS and
 * the turn markers, as HF's {@code apply_chat_template} then {@code add_special_tokens=False}); a token
 * is a target when its first character lies in an assistant span, which covers the assistant's content
 * and the end-of-turn text the template writes after it. Rows are cut on the right as above. Thread-safe.
 */
public final class CausalLmEncoder {

    /** The label of positions without loss: PyTorch's {@code CrossEntropyLoss} default {@code ignore_index}. */
    public static final long IGNORE_INDEX = -100;

    private final TextTokenizer tokenizer;
    private final OptionalLong bosId;
    private final OptionalLong eosId;

    public CausalLmEncoder(TextTokenizer tokenizer, OptionalLong bosId, OptionalLong eosId) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.bosId = Objects.requireNonNull(bosId, "bosId");
        this.eosId = Objects.requireNonNull(eosId, "eosId");
    }

    /** Encodes generation examples. */
    public CausalLmBatch encodeExamples(List<Example.Generation> examples) {
        return encodeRows(examples);
    }

    /** Encodes prompts with their completions (lists of equal size). */
    public CausalLmBatch encode(List<String> prompts, List<String> completions) {
        if (prompts.size() != completions.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + completions.size() + " completions");
        }
        List<long[][]> rows = new ArrayList<>(prompts.size());
        for (int r = 0; r < prompts.size(); r++) {
            rows.add(generation(prompts.get(r), completions.get(r)));
        }
        return pad(rows);
    }

    /** Encodes rows of either format; a batch may mix them. */
    public CausalLmBatch encodeRows(List<? extends CausalLmRow> rows) {
        List<long[][]> encoded = new ArrayList<>(rows.size());
        for (CausalLmRow row : rows) {
            encoded.add(row instanceof Example.Generation g ? generation(g.prompt(), g.completion())
                    : chat((RenderedChat) row));
        }
        return pad(encoded);
    }

    /** {@code {ids, labels}} of {@code [BOS] prompt completion [EOS]}, cut to the max length. */
    private long[][] generation(String promptText, String completionText) {
        long[] prompt = tokenizer.ids(promptText, false);
        long[] completion = tokenizer.ids(completionText, false);
        int n = (bosId.isPresent() ? 1 : 0) + prompt.length + completion.length + (eosId.isPresent() ? 1 : 0);
        long[] ids = new long[n];
        long[] labels = new long[n];
        int t = 0;
        if (bosId.isPresent()) {
            ids[t] = bosId.getAsLong();
            labels[t++] = IGNORE_INDEX;
        }
        for (long id : prompt) {
            ids[t] = id;
            labels[t++] = IGNORE_INDEX;
        }
        for (long id : completion) {
            ids[t] = id;
            labels[t++] = id;
        }
        if (eosId.isPresent()) {
            ids[t] = eosId.getAsLong();
            labels[t] = eosId.getAsLong();
        }
        int kept = Math.min(n, tokenizer.maxLength());
        return new long[][] {Arrays.copyOf(ids, kept), Arrays.copyOf(labels, kept)};
    }

    /**
     * {@code {ids, labels}} of a rendered chat: its text as tokenised, labelled where a token starts inside
     * an assistant span; cut to the max length.
     */
    private long[][] chat(RenderedChat row) {
        TextTokenizer.Tokens tokens = tokenizer.tokensWithStarts(row.text());
        int kept = Math.min(tokens.ids().length, tokenizer.maxLength());
        long[] ids = Arrays.copyOf(tokens.ids(), kept);
        long[] labels = new long[kept];
        for (int t = 0; t < kept; t++) {
            int start = tokens.starts()[t];
            labels[t] = start >= 0 && row.isAssistant(start) ? ids[t] : IGNORE_INDEX;
        }
        return new long[][] {ids, labels};
    }

    /** Right-pads rows to the longest with the pad id, attention 0 and label -100. */
    private CausalLmBatch pad(List<long[][]> rowsIdsLabels) {
        int rows = rowsIdsLabels.size();
        int length = 0;
        for (long[][] r : rowsIdsLabels) {
            length = Math.max(length, r[0].length);
        }
        long[] ids = new long[rows * length];
        long[] mask = new long[rows * length];
        long[] labels = new long[rows * length];
        Arrays.fill(ids, tokenizer.padId());
        Arrays.fill(labels, IGNORE_INDEX);
        for (int r = 0; r < rows; r++) {
            int n = rowsIdsLabels.get(r)[0].length;
            System.arraycopy(rowsIdsLabels.get(r)[0], 0, ids, r * length, n);
            System.arraycopy(rowsIdsLabels.get(r)[1], 0, labels, r * length, n);
            Arrays.fill(mask, r * length, r * length + n, 1L);
        }
        return new CausalLmBatch(rows, length, ids, mask, labels);
    }
}
