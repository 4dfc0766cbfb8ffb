package dev.loraone.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Hugging Face {@code tokenizer.json} tokenizer (DJL's Rust binding) that produces padded
 * int64 batches at a fixed maximum length.
 *
 * <p>Role: the one place where text becomes token ids, for classification ({@link #encode}) and,
 * through {@link CausalLmEncoder}, for causal-LM fine-tuning. Special tokens are added as the
 * file's post-processor says (BERT: {@code [CLS] ... [SEP]}); sequences longer than
 * {@code maxLength} are truncated by the tokenizer, which keeps the special tokens; a batch is
 * padded on the right to its longest row, never beyond {@code maxLength}. The padding settings of
 * the file itself (MiniLM's pads to a fixed 128) are replaced by this rule.
 *
 * <p>The pad id is the file's {@code padding.pad_id}, else the id of an added {@code [PAD]} or
 * {@code <pad>} token, else 0; padded positions are masked, so for models without a pad token the
 * value does not matter. DJL extracts its native library into {@code DJL_CACHE_DIR} (the build
 * sets it for tests). Thread-safe; close it to free the native tokenizer.
 */
public final class TextTokenizer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Tokenizers {@link #shared} keeps (by file content and length limit), never closed: a few MB each. */
    static final int SHARED_MAX = 8;
    private static final Map<String, TextTokenizer> SHARED = new HashMap<>();

    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;
    private final long padId;
    /** Kept in {@link #SHARED}: {@link #close} leaves it open for the next job. */
    private final boolean shared;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, long padId, boolean shared) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.padId = padId;
        this.shared = shared;
    }

    /**
     * {@link #fromJson}, shared: the tokenizer of the same file content and {@code maxLength} that an
     * earlier call built, or a new one kept for the next call (up to {@value #SHARED_MAX} of them; past
     * that a private one). Parsing a {@code tokenizer.json} costs tens of milliseconds, which a worker
     * opening many small jobs on one model pays once. Equal content gives equal token ids, so sharing
     * changes no result; {@link #close} of a shared one does nothing.
     */
    public static TextTokenizer shared(InputStream tokenizerJson, int maxLength) throws IOException {
        byte[] json = tokenizerJson.readAllBytes();
        String key = sha256(json) + "|" + maxLength;
        synchronized (SHARED) {
            TextTokenizer held = SHARED.get(key);
            if (held != null) return held;
            boolean keep = SHARED.size() < SHARED_MAX;
            TextTokenizer t = fromBytes(json, maxLength, keep);
            if (keep) SHARED.put(key, t);
            return t;
        }
    }

    /** Closes and forgets the shared tokenizers (tests: an empty table; none may be in use). */
    static void closeShared() {
        synchronized (SHARED) {
            SHARED.values().forEach(t -> t.tokenizer.close());
            SHARED.clear();
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JVM has SHA-256
        }
    }

    /**
     * Loads a tokenizer from the contents of a {@code tokenizer.json}; the stream is read, not
     * closed.
     *
     * @param maxLength the longest sequence produced, special tokens included, >= 2
     */
    public static TextTokenizer fromJson(InputStream tokenizerJson, int maxLength) throws IOException {
        return fromBytes(tokenizerJson.readAllBytes(), maxLength, false);
    }

    private static TextTokenizer fromBytes(byte[] json, int maxLength, boolean shared) throws IOException {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must be >= 2, got " + maxLength);
        }
        long padId = padId(JSON.readTree(json));
        Map<String, String> options = Map.of(
                "addSpecialTokens", "true",
                "truncation", "true",
                "padding", "false",
                "maxLength", Integer.toString(maxLength),
                // DJL clamps maxLength to modelMaxLength (default 512); the caller's value wins.
                "modelMaxLength", Integer.toString(maxLength));
    return new TextTokenizer(
        HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), options),
        maxLength,
        padId,
        shared);
    }

    /** Loads a {@code tokenizer.json} file, or the one in a model directory. */
    public static TextTokenizer fromPath(Path fileOrDirectory, int maxLength) throws IOException {
        Path file = Files.isDirectory(fileOrDirectory) ? fileOrDirectory.resolve("tokenizer.json") : fileOrDirectory;
        try (InputStream in = Files.newInputStream(file)) {
            return fromJson(in, maxLength);
        }
    }

    private static long padId(JsonNode root) {
        JsonNode pad = root.path("padding").path("pad_id");
        if (pad.isIntegralNumber()) {
            return pad.longValue();
        }
        for (JsonNode token : root.path("added_tokens")) {
            String content = token.path("content").asText();
            if (("[PAD]".equals(content) || "<pad>".equals(content)) && token.path("id").isIntegralNumber()) {
                return token.path("id").longValue();
            }
        }
        return 0;
    }

    /** The longest sequence this tokenizer produces. */
    public int maxLength() {
        return maxLength;
    }

    /** The id written at padded positions. */
    public long padId() {
        return padId;
    }

    /**
     * Encodes texts with special tokens, truncated to {@link #maxLength()} and padded to the
     * longest in the batch.
     */
    public TokenBatch encode(List<String> texts) {
        String[] array = texts.toArray(String[]::new);
        for (int i = 0; i < array.length; i++) {
            if (array[i] == null) {
                throw new NullPointerException("text at index " + i + " is null");
            }
        }
        Encoding[] encodings = tokenizer.batchEncode(array, true, false);
        int length = 0;
        for (Encoding e : encodings) {
            length = Math.max(length, e.getIds().length);
        }
        length = Math.min(length, maxLength);
        int rows = encodings.length;
        long[] ids = new long[rows * length];
        long[] mask = new long[rows * length];
        long[] types = new long[rows * length];
        for (int r = 0; r < rows; r++) {
            long[] rowIds = encodings[r].getIds();
            long[] rowTypes = encodings[r].getTypeIds();
            int n = Math.min(rowIds.length, length);
            int base = r * length;
            System.arraycopy(rowIds, 0, ids, base, n);
            System.arraycopy(rowTypes, 0, types, base, n);
            for (int t = 0; t < length; t++) {
                mask[base + t] = t < n ? 1 : 0;
            }
            for (int t = n; t < length; t++) {
                ids[base + t] = padId;
            }
        }
        return new TokenBatch(rows, length, ids, mask, types);
    }

    /** The token ids of one text, with or without special tokens, truncated to {@link #maxLength()}. */
    public long[] ids(String text, boolean addSpecialTokens) {
        return tokenizer.encode(Objects.requireNonNull(text, "text"), addSpecialTokens, false).getIds();
    }

    /**
     * The tokens of one text without special tokens (so added tokens written in the text, such as a chat
     * template's {@code <|im_start|>}, are the only specials), truncated to {@link #maxLength()}.
     *
     * @param ids token ids
     * @param starts each token's first UTF-16 index in the text, or -1 for a token with no characters
     */
    public record Tokens(long[] ids, int[] starts) {}

    /** {@link #ids(String, boolean) ids(text, false)} with where each token starts in {@code text}. */
    public Tokens tokensWithStarts(String text) {
        Encoding e = tokenizer.encode(Objects.requireNonNull(text, "text"), false, false);
        long[] ids = e.getIds();
        CharSpan[] spans = e.getCharTokenSpans();
        // The Rust tokenizer counts characters as code points; Java indexes UTF-16 units.
        int[] unitOf = new int[text.codePointCount(0, text.length()) + 1];
        for (int cp = 0, unit = 0; cp < unitOf.length; cp++) {
            unitOf[cp] = unit;
            if (unit < text.length()) {
                unit += Character.charCount(text.codePointAt(unit));
            }
        }
        int[] starts = new int[ids.length];
        for (int k = 0; k < ids.length; k++) {
            CharSpan span = spans == null || k >= spans.length ? null : spans[k];
            boolean empty = span == null || span.getEnd() <= span.getStart() || span.getStart() >= unitOf.length;
            starts[k] = empty ? -1 : unitOf[span.getStart()];
        }
        return new Tokens(ids, starts);
    }

    /** The text of token ids. */
    public String decode(long[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(ids, skipSpecialTokens);
    }

    @Override
    public void close() {
        if (!shared) tokenizer.close();
    }
}
