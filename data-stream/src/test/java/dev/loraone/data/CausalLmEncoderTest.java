package dev.loraone.data;

import static dev.loraone.data.CausalLmEncoder.IGNORE_INDEX;
import static dev.loraone.data.MiniLmTokenizer.CLS;
import static dev.loraone.data.MiniLmTokenizer.SEP;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link CausalLmEncoder}: prompt tokens carry no loss, completion tokens are their own labels. */
class CausalLmEncoderTest {

    private static final long I = IGNORE_INDEX;
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
    void promptIsMaskedAndPaddingIsIgnored() {
        // Stand-ins for BOS/EOS: [CLS] and [SEP] of the BERT vocabulary.
        CausalLmEncoder enc = new CausalLmEncoder(tokenizer, OptionalLong.of(CLS), OptionalLong.of(SEP));
        CausalLmBatch b = enc.encode(List.of("hello world", "hello"), List.of("world", "world"));
        assertEquals(5, b.sequenceLength());
        assertArrayEquals(new long[] {CLS, 7592, 2088, 2088, SEP}, b.inputIds(0));
        assertArrayEquals(new long[] {I, I, I, 2088, SEP}, b.labels(0));
        assertArrayEquals(new long[] {1, 1, 1, 1, 1}, b.attentionMask(0));
        assertArrayEquals(new long[] {CLS, 7592, 2088, SEP, 0}, b.inputIds(1));
        assertArrayEquals(new long[] {I, I, 2088, SEP, I}, b.labels(1));
        assertArrayEquals(new long[] {1, 1, 1, 1, 0}, b.attentionMask(1));
        assertEquals(4, b.labelledTokens());
    }

    @Test
    void longRowsAreCutOnTheRightAtMaxLength() {
        CausalLmEncoder enc = new CausalLmEncoder(tokenizer, OptionalLong.empty(), OptionalLong.empty());
        CausalLmBatch b = enc.encodeExamples(List.of(new Example.Generation(
                "one two three four five", "six seven eight nine", new SourceLocation("g.jsonl", 1))));
        assertEquals(8, b.sequenceLength());
        long[] labels = b.labels(0);
        long[] ids = b.inputIds(0);
        for (int t = 0; t < 5; t++) {
            assertEquals(I, labels[t]);
        }
        for (int t = 5; t < 8; t++) {
            assertEquals(ids[t], labels[t]);
        }
        assertEquals("six seven eight", tokenizer.decode(new long[] {ids[5], ids[6], ids[7]}, true));
    }
}
