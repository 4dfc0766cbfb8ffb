package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link TextTokenizer#shared}: one tokenizer per file content and length limit, the ids of a private one. */
class SharedTokenizerTest {
    @BeforeEach
    @AfterEach
    void empty() {
        TextTokenizer.closeShared();
    }

    private static byte[] miniLm() throws IOException {
        try (InputStream in = MiniLmTokenizer.class.getClassLoader().getResourceAsStream(MiniLmTokenizer.RESOURCE)) {
            return in.readAllBytes();
        }
    }

    @Test
    void theSameContentAndLengthGiveOneTokenizerThatCloseLeavesOpen() throws IOException {
        byte[] json = miniLm();
        TextTokenizer a = TextTokenizer.shared(new ByteArrayInputStream(json), 12);
        a.close(); // a job that ends: the next one still uses it
        TextTokenizer b = TextTokenizer.shared(new ByteArrayInputStream(json.clone()), 12);
        assertSame(a, b);
        assertNotSame(a, TextTokenizer.shared(new ByteArrayInputStream(json), 13), "another length limit");
        List<String> texts = List.of("The quick brown fox jumps over the lazy dog again and again", "hi");
        try (TextTokenizer own = TextTokenizer.fromJson(new ByteArrayInputStream(json), 12)) {
            TokenBatch expected = own.encode(texts);
            TokenBatch got = b.encode(texts);
            assertArrayEquals(expected.inputIds(), got.inputIds());
            assertArrayEquals(expected.attentionMask(), got.attentionMask());
            assertEquals(own.padId(), b.padId());
        }
    }

    @Test
    void otherContentIsAnotherTokenizer() throws IOException {
        byte[] json = miniLm();
        String changed = new String(json, StandardCharsets.UTF_8).replaceFirst("\\{", "{ ");
        TextTokenizer a = TextTokenizer.shared(new ByteArrayInputStream(json), 20);
        TextTokenizer b = TextTokenizer.shared(new ByteArrayInputStream(changed.getBytes(StandardCharsets.UTF_8)), 20);
        assertNotSame(a, b);
        assertArrayEquals(a.ids("hello world", true), b.ids("hello world", true));
    }

    @Test
    void pastTheBoundAPrivateTokenizerIsReturned() throws IOException {
        byte[] json = miniLm();
        TextTokenizer last = null;
        for (int len = 100; len < 100 + TextTokenizer.SHARED_MAX + 2; len++) {
            last = TextTokenizer.shared(new ByteArrayInputStream(json), len);
        }
        TextTokenizer again = TextTokenizer.shared(new ByteArrayInputStream(json), 100 + TextTokenizer.SHARED_MAX + 1);
        assertNotSame(last, again, "not kept once " + TextTokenizer.SHARED_MAX + " are held");
        last.close();
        again.close();
    }
}
