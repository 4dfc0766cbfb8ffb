package dev.loraone.data;

import static dev.loraone.data.CausalLmEncoder.IGNORE_INDEX;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * {@link CausalLmEncoder} on chats rendered by real templates ({@link ChatTemplateTest}): the rendered text is
 * tokenised whole, and exactly the tokens of assistant turns, with the end-of-turn token, carry loss.
 * The tokenizer is word-level over whitespace, with the template's markers as added special tokens,
 * so each expected id can be read off the text.
 */
class ChatEncodingTest {

    private static final long I = IGNORE_INDEX;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A word-level tokenizer.json: {@code specials} as added tokens, then {@code words}; id 0 is unknown. */
    static TextTokenizer tokenizer(List<String> specials, List<String> words, int maxLength) throws IOException {
        ObjectNode t = JSON.createObjectNode();
        t.put("version", "1.0");
        t.putNull("truncation");
        t.putNull("padding");
        ArrayNode added = t.putArray("added_tokens");
        ObjectNode vocab = JSON.createObjectNode();
        vocab.put("<unk>", 0);
        for (String s : specials) {
            added.addObject().put("id", vocab.size()).put("content", s).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
            vocab.put(s, vocab.size());
        }
        words.forEach(w -> vocab.put(w, vocab.size()));
        t.putNull("normalizer");
        t.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        t.putNull("post_processor");
        t.putNull("decoder");
        ObjectNode model = t.putObject("model");
        model.put("type", "WordLevel");
        model.set("vocab", vocab);
        model.put("unk_token", "<unk>");
        byte[] bytes = JSON.writeValueAsString(t).getBytes(StandardCharsets.UTF_8);
        return TextTokenizer.fromJson(new ByteArrayInputStream(bytes), maxLength);
    }

    @Test
    void qwenChatLabelsBothAssistantTurnsWithTheirImEndAndNothingElse() throws IOException {
        // ids: <unk>0 <|im_start|>1 <|im_end|>2 system3 user4 assistant5 Be6 terse.7 Sum?8 four9 😀10 And11 six12
        List<String> words = List.of("system", "user", "assistant", "Be", "terse.", "Sum?", "four", "\uD83D\uDE00",
                "And", "six");
        ChatTemplate qwen = ChatTemplateTest.template("qwen2.5.jinja", "", "<|im_end|>");
        RenderedChat r = qwen.render(ChatTemplateTest.chat("system", "Be terse.", "user", "\uD83D\uDE00 Sum?",
                "assistant", "four", "user", "And \uD83D\uDE00", "assistant", "six \uD83D\uDE00"));
        try (TextTokenizer tok = tokenizer(List.of("<|im_start|>", "<|im_end|>"), words, 64)) {
            CausalLmBatch b = new CausalLmEncoder(tok, OptionalLong.of(99), OptionalLong.of(98))
                    .encodeRows(List.of(r));
            assertArrayEquals(new long[] {1, 3, 6, 7, 2, 1, 4, 10, 8, 2, 1, 5, 9, 2, 1, 4, 11, 10, 2, 1, 5, 12, 10, 2},
                    b.inputIds(0), "the template's text, no BOS/EOS added by the encoder");
            assertArrayEquals(new long[] {I, I, I, I, I, I, I, I, I, I, I, I, 9, 2, I, I, I, I, I, I, I, 12, 10, 2},
                    b.labels(0), "assistant content and <|im_end|>, located past the emoji (UTF-16 vs code points)");
        }
    }

    @Test
    void llama3ChatLabelsTheReplyAndEotIdAndCutsLongRowsOnTheRight() throws IOException {
        // ids: <unk>0 <|begin_of_text|>1 <|start_header_id|>2 <|end_header_id|>3 <|eot_id|>4 user5 assistant6 hi7 yo8
        List<String> specials = List.of("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>");
        ChatTemplate llama = ChatTemplateTest.template("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>");
        RenderedChat r = llama.render(ChatTemplateTest.chat("user", "hi", "assistant", "yo yo"));
        try (TextTokenizer tok = tokenizer(specials, List.of("user", "assistant", "hi", "yo"), 64);
                TextTokenizer cut = tokenizer(specials, List.of("user", "assistant", "hi", "yo"), 11)) {
            CausalLmBatch b = new CausalLmEncoder(tok, OptionalLong.of(1), OptionalLong.of(4)).encodeRows(List.of(r));
            assertArrayEquals(new long[] {1, 2, 5, 3, 7, 4, 2, 6, 3, 8, 8, 4}, b.inputIds(0));
            assertArrayEquals(new long[] {I, I, I, I, I, I, I, I, I, 8, 8, 4}, b.labels(0));
            CausalLmBatch mixed = new CausalLmEncoder(cut, OptionalLong.of(1), OptionalLong.of(4)).encodeRows(List.of(
                    r, new Example.Generation("hi", "yo", new SourceLocation("g.jsonl", 1))));
            assertEquals(11, mixed.sequenceLength(), "cut at max length 11, as prompt/completion rows");
            assertArrayEquals(new long[] {I, I, I, I, I, I, I, I, I, 8, 8}, mixed.labels(0));
            assertArrayEquals(new long[] {1, 7, 8, 4, 0, 0, 0, 0, 0, 0, 0}, mixed.inputIds(1), "[BOS] hi yo [EOS]");
            assertArrayEquals(new long[] {I, I, 8, 4, I, I, I, I, I, I, I}, mixed.labels(1));
        }
    }
}
