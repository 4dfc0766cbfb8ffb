package dev.loraone.data;

import static dev.loraone.data.MiniLmTokenizer.CLS;
import static dev.loraone.data.MiniLmTokenizer.SEP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link TextTokenizer} with the real MiniLM tokenizer: padding to the batch's longest, truncation, masks. */
class TextTokenizerTest {

    private static TextTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = MiniLmTokenizer.load(8);
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void knownSentenceEncodesToBertUncasedIds() {
        // bert-base-uncased vocabulary: hello=7592, world=2088.
        assertArrayEquals(new long[] {CLS, 7592, 2088, SEP}, tokenizer.ids("Hello world", true));
        assertEquals(0, tokenizer.padId());
    }

    @Test
    void batchIsPaddedToItsLongestRowWithMaskedPadding() {
        TokenBatch b = tokenizer.encode(List.of("hello world", "hello"));
        assertEquals(2, b.batchSize());
        assertEquals(4, b.sequenceLength()); // not the file's fixed 128, not maxLength 8
        assertArrayEquals(new long[] {CLS, 7592, 2088, SEP}, b.inputIds(0));
        assertArrayEquals(new long[] {1, 1, 1, 1}, b.attentionMask(0));
        assertArrayEquals(new long[] {CLS, 7592, SEP, 0}, b.inputIds(1));
        assertArrayEquals(new long[] {1, 1, 1, 0}, b.attentionMask(1));
        assertArrayEquals(new long[] {0, 0, 0, 0}, b.tokenTypeIds(1));
        assertEquals(3, b.length(1));
        assertEquals(8, b.inputIds().length);
    }

    @Test
    void longTextIsTruncatedToMaxLengthKeepingSpecialTokens() {
        TokenBatch b = tokenizer.encode(List.of("one two three four five six seven eight nine ten", "hi"));
        assertEquals(8, b.sequenceLength());
        long[] row = b.inputIds(0);
        assertEquals(CLS, row[0]);
        assertEquals(SEP, row[7]);
        assertArrayEquals(new long[] {1, 1, 1, 1, 1, 1, 1, 1}, b.attentionMask(0));
        assertEquals(3, b.length(1));
        assertEquals("one two three four five six", tokenizer.decode(row, true));
    }

    @Test
    void encodingIsDeterministic() {
        List<String> texts = List.of("a cat sat", "on the mat today");
        assertEquals(tokenizer.encode(texts), tokenizer.encode(texts));
    }
}
