package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ChatTemplate} with the chat templates of real checkpoints (test resources
 * {@code chat-templates/*.jinja}, as their {@code tokenizer_config.json} holds them): the exact text HF's
 * {@code apply_chat_template} gives, and the assistant spans that carry loss.
 */
class ChatTemplateTest {

    private static final SourceLocation AT = new SourceLocation("chat.jsonl", 3);

    static String resource(String name) throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat-templates/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    static ChatTemplate template(String file, String bos, String eos) throws IOException {
        return new ChatTemplate(resource(file), bos, eos, file);
    }

    static Example.Chat chat(String... roleContent) {
        List<Example.Chat.Message> m = new ArrayList<>();
        for (int i = 0; i < roleContent.length; i += 2) {
            m.add(new Example.Chat.Message(roleContent[i], roleContent[i + 1]));
        }
        return new Example.Chat(m, AT);
    }

    /** A system prompt and two exchanges. */
    private static final Example.Chat TWO_TURNS = chat("system", "You are terse.", "user", "What is 2+2?",
            "assistant", "4", "user", "And 3+3?", "assistant", "6");

    private static List<String> spans(RenderedChat r) {
        return r.assistantSpans().stream().map(s -> r.text().substring(s.start(), s.end())).toList();
    }

    @Test
    void llama3RendersHeadersAndTrimsContentAndTheSpansEndWithEotId() throws IOException {
        RenderedChat r = template("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>").render(TWO_TURNS);
        String h = "<|start_header_id|>";
        String e = "<|end_header_id|>\n\n";
        assertEquals("<|begin_of_text|>" + h + "system" + e + "You are terse.<|eot_id|>" + h + "user" + e
                + "What is 2+2?<|eot_id|>" + h + "assistant" + e + "4<|eot_id|>" + h + "user" + e + "And 3+3?<|eot_id|>"
                + h + "assistant" + e + "6<|eot_id|>", r.text());
        assertEquals(List.of("4<|eot_id|>", "6<|eot_id|>"), spans(r));
        assertEquals("6", r.lastReply());
        assertTrue(r.lastPrompt().endsWith("And 3+3?<|eot_id|>" + h + "assistant" + e), r.lastPrompt());
        RenderedChat padded = template("llama3.jinja", "<|begin_of_text|>", "<|eot_id|>")
                .render(chat("user", "  hi \n", "assistant", "\thello  "));
        assertEquals(List.of("hello<|eot_id|>"), spans(padded), "| trim strips the content, as Python's strip");
    }

    private static final String QWEN_SYSTEM =
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n";

    @Test
    void qwen25RendersChatMlWithItsDefaultSystemPromptAndTheSpansEndWithImEnd() throws IOException {
        ChatTemplate qwen = template("qwen2.5.jinja", "", "<|im_end|>");
        RenderedChat r = qwen.render(TWO_TURNS);
        assertEquals("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n"
                + "<|im_start|>assistant\n6<|im_end|>\n", r.text());
        assertEquals(List.of("4<|im_end|>\n", "6<|im_end|>\n"), spans(r));
        RenderedChat noSystem = qwen.render(chat("user", "Hi", "assistant", "Hello!"));
        assertEquals(QWEN_SYSTEM + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n",
                noSystem.text());
        assertEquals(List.of(new RenderedChat.Span(noSystem.text().length() - 17, noSystem.text().length())),
                noSystem.assistantSpans());
        assertEquals(QWEN_SYSTEM + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
                qwen.render(List.of(new Example.Chat.Message("user", "Hi")), true), "the generation prompt");
    }

    @Test
    void smolLm2AddsItsSystemPromptOnlyWithoutASystemTurn() throws IOException {
        ChatTemplate smol = template("smollm2.jinja", "<|im_start|>", "<|im_end|>");
        RenderedChat r = smol.render(chat("user", "Hi", "assistant", "Hello!"));
        assertEquals("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                + "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n", r.text());
        assertEquals(List.of("Hello!<|im_end|>\n"), spans(r));
        assertTrue(smol.render(TWO_TURNS).text().startsWith("<|im_start|>system\nYou are terse.<|im_end|>\n"));
    }

    @Test
    void zephyrRendersWithHfsTrimAndLstripBlocks() throws IOException {
        RenderedChat r = template("zephyr.jinja", "<s>", "</s>").render(TWO_TURNS);
        assertEquals("<|system|>\nYou are terse.</s>\n<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n4</s>\n"
                + "<|user|>\nAnd 3+3?</s>\n<|assistant|>\n6</s>\n", r.text());
        assertEquals(List.of("4</s>\n", "6</s>\n"), spans(r));
    }

    @Test
    void mistralEndsAssistantTurnsWithEosAndItsRaiseExceptionNamesTheRow() throws IOException {
        ChatTemplate mistral = template("mistral.jinja", "<s>", "</s>");
        RenderedChat r =
                mistral.render(chat("user", "Hi", "assistant", "Hello!", "user", "Bye", "assistant", "Ciao"));
        assertEquals("<s>[INST] Hi [/INST]Hello!</s>[INST] Bye [/INST]Ciao</s>", r.text());
        assertEquals(List.of("Hello!</s>", "Ciao</s>"), spans(r));
        BadRecordException e = assertThrows(BadRecordException.class, () -> mistral.render(TWO_TURNS));
        assertEquals("chat.jsonl:3: chat template of mistral.jinja: the template raised an exception: Conversation"
                + " roles must alternate user/assistant/user/assistant/...", e.getMessage());
    }

    @Test
    void aTemplateThatRewritesEarlierTurnsIsRefusedBecauseTheAssistantTextCannotBeLocated() {
        ChatTemplate lastMarked = new ChatTemplate(
                "{% for m in messages %}{% if loop.last %}LAST:{% endif %}{{ m['content'] }}|{% endfor %}",
                "", "", "t");
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> lastMarked.render(chat("user", "q", "assistant", "a")));
        assertTrue(e.getMessage().startsWith("chat.jsonl:3: chat template of t: cannot locate assistant turn"
                + " messages[1]") && e.getMessage().contains("prefix"), e.getMessage());
        ChatTemplate broken = new ChatTemplate("{{ messages[0].content.nosuchmethod() }}", "", "", "t");
        e = assertThrows(BadRecordException.class, () -> broken.render(chat("user", "q", "assistant", "a")));
        assertTrue(e.getMessage().startsWith("chat.jsonl:3: chat template of t: the template failed")
                && e.getMessage().contains("nosuchmethod"), e.getMessage());
        ChatTemplate silent = new ChatTemplate("{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}"
                + "{% endif %}{% endfor %}", "", "", "t");
        e = assertThrows(BadRecordException.class, () -> silent.render(chat("user", "q", "assistant", "a")));
        assertTrue(e.getMessage().contains("renders assistant turn messages[1] as no text"), e.getMessage());
    }

    @Test
    void pythonStringMethodsBehaveAsInPython() {
        ChatTemplate t = new ChatTemplate("{% set c = messages[0]['content'] %}{{ c.strip() }}|{{ c.lstrip() }}|"
                + "{{ c.strip(' x') }}|{{ c.lstrip().startswith('xa') }}|{{ c.endswith('y ') }}|{{ c.split()[-1] }}|"
                + "{{ c.split('a') | length }}|{{ c.upper() }}|{{ c | trim }}|{{ 'b' in c }}", "", "", "t");
        assertEquals("xa ba y|xa ba y\u00a0|\u00a0xa ba y\u00a0|true|false|y|3|\u00a0XA BA Y\u00a0|xa ba y|true",
                t.render(List.of(new Example.Chat.Message("user", "\u00a0xa ba y\u00a0")), false));
    }

    @Test
    void theTemplateIsReadFromTokenizerConfigAsAStringAListOrAJinjaFile(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": {\"content\": \"<s>\"},"
                + " \"eos_token\": \"</s>\", \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"},"
                + " {\"name\": \"default\","
                + " \"template\": \"{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\"}]}");
        ChatTemplate t = ChatTemplate.fromModel(dir).orElseThrow();
        assertEquals("<s>hi</s>", t.render(List.of(new Example.Chat.Message("user", "hi")), false));
        assertTrue(t.origin().contains("\"default\""), t.origin());

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.require(dir, AT));
        assertTrue(e.getMessage().startsWith(dir.resolve("tokenizer_config.json") + " has no chat_template")
                && e.getMessage().contains("chat.jsonl:3"), e.getMessage());
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages[0].content }}{{ eos_token }}");
        assertEquals("hi</s>", ChatTemplate.require(dir, AT)
                .render(List.of(new Example.Chat.Message("user", "hi")), false));

        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"rag\"}]}");
        e = assertThrows(IllegalArgumentException.class, () -> ChatTemplate.fromModel(dir));
        assertTrue(e.getMessage().contains("[rag]") && e.getMessage().contains("\"default\""), e.getMessage());
    }
}
