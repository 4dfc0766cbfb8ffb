package dev.loraone.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Encodes prompt/completion pairs for causal-LM fine-tuning, masking the prompt out of the loss.
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
 * ({@code bos_token_id}, {@code eos_token_id}). Thread-safe.
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
        return encode(examples.stream().map(Example.Generation::prompt).toList(),
                examples.stream().map(Example.Generation::completion).toList());
    }

    /** Encodes prompts with their completions (lists of equal size). */
    public CausalLmBatch encode(List<String> prompts, List<String> completions) {
        if (prompts.size() != completions.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + completions.size() + " completions");
        }
        int maxLength = tokenizer.maxLength();
        List<long[]> rowIds = new ArrayList<>(prompts.size());
        List<long[]> rowLabels = new ArrayList<>(prompts.size());
        int length = 0;
        for (int r = 0; r < prompts.size(); r++) {
            long[] prompt = tokenizer.ids(prompts.get(r), false);
            long[] completion = tokenizer.ids(completions.get(r), false);
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
            int kept = Math.min(n, maxLength);
            rowIds.add(Arrays.copyOf(ids, kept));
            rowLabels.add(Arrays.copyOf(labels, kept));
            length = Math.max(length, kept);
        }
        int rows = prompts.size();
        long[] ids = new long[rows * length];
        long[] mask = new long[rows * length];
        long[] labels = new long[rows * length];
        Arrays.fill(ids, tokenizer.padId());
        Arrays.fill(labels, IGNORE_INDEX);
        for (int r = 0; r < rows; r++) {
            int n = rowIds.get(r).length;
            System.arraycopy(rowIds.get(r), 0, ids, r * length, n);
            System.arraycopy(rowLabels.get(r), 0, labels, r * length, n);
            Arrays.fill(mask, r * length, r * length + n, 1L);
        }
        return new CausalLmBatch(rows, length, ids, mask, labels);
    }
}
