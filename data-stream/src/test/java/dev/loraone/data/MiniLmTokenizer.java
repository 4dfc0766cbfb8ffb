package dev.loraone.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Test helper: the real MiniLM {@code tokenizer.json} from the langchain4j jar (BERT uncased WordPiece). */
final class MiniLmTokenizer {

    static final String RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    static final long CLS = 101;
    static final long SEP = 102;

    private MiniLmTokenizer() {}

    static TextTokenizer load(int maxLength) {
        try (InputStream in = MiniLmTokenizer.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " not on the test classpath");
            }
            return TextTokenizer.fromJson(in, maxLength);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
