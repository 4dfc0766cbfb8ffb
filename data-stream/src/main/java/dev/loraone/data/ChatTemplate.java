package dev.loraone.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's chat template, and the rendering of a chat record into text with its assistant spans.
 *
 * <p>Role: turns an {@link Example.Chat} into the exact text the model sees at inference
 * ({@code tokenizer.apply_chat_template(messages)} in HF) plus where its assistant turns lie, so that
 * {@link CausalLmEncoder} takes loss on those alone. The template comes from the model folder's
 * {@value #CONFIG_FILE}: its {@code chat_template} (a string, or a list of {@code {name, template}}
 * of which {@code default} is used), else a {@value #JINJA_FILE} beside it; {@code bos_token} and
 * {@code eos_token} (strings, or {@code {content}} objects) are passed to it as HF does. The
 * template globals are {@code messages} (a list of {@code {role, content}}), {@code add_generation_prompt},
 * {@code bos_token}, {@code eos_token} and {@code raise_exception}; the engine is {@link ChatJinja}.
 *
 * <p>Assistant spans, as TRL's assistant-only loss: for each assistant turn {@code i},
 *
 * <pre>
 *   before = render(messages[:i], add_generation_prompt=true) ... "&lt;|im_start|&gt;assistant\n"
 *   upTo   = render(messages[:i+1])                           ... "&lt;|im_start|&gt;assistant\nHi!&lt;|im_end|&gt;\n"
 *   span i = [len(before), len(upTo)) of render(messages)     "Hi!&lt;|im_end|&gt;\n"
 * </pre>
 *
 * which holds when each rendering is a prefix of the next: a template that rewrites earlier turns
 * once later ones exist (say, drops old reasoning) is refused for that row with a message that says
 * so. The span therefore includes what the template writes after the content (end-of-turn token,
 * EOS), which the model must learn to produce to stop. Immutable and thread-safe.
 */
public final class ChatTemplate {

    /** The file of a model folder that holds the template. */
    public static final String CONFIG_FILE = "tokenizer_config.json";
    /** transformers 4.43+ may save the template as its own file instead. */
    public static final String JINJA_FILE = "chat_template.jinja";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String template;
    private final String bosToken;
    private final String eosToken;
    private final String origin;

    /**
     * A template given as text.
     *
     * @param bosToken the {@code bos_token} string ("" for none)
     * @param eosToken the {@code eos_token} string ("" for none)
     * @param origin where it came from, for messages (a file path)
     */
    public ChatTemplate(String template, String bosToken, String eosToken, String origin) {
        this.template = Objects.requireNonNull(template, "template");
        this.bosToken = Objects.requireNonNull(bosToken, "bosToken");
        this.eosToken = Objects.requireNonNull(eosToken, "eosToken");
        this.origin = Objects.requireNonNull(origin, "origin");
    }

    /**
     * The template of a model folder, or empty when it has none.
     *
     * @throws IllegalArgumentException naming the file when its {@code chat_template} is malformed
     */
    public static Optional<ChatTemplate> fromModel(Path modelDir) throws IOException {
        Path config = modelDir.resolve(CONFIG_FILE);
        JsonNode root = Files.isRegularFile(config) ? JSON.readTree(config.toFile()) : JSON.createObjectNode();
        String bos = token(root, "bos_token", config);
        String eos = token(root, "eos_token", config);
        JsonNode t = root.path("chat_template");
        if (t.isTextual()) {
            return Optional.of(new ChatTemplate(t.textValue(), bos, eos, config.toString()));
        }
        if (t.isArray()) {
            List<String> names = new ArrayList<>();
            for (JsonNode named : t) {
                names.add(named.path("name").asText());
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    return Optional.of(new ChatTemplate(named.path("template").textValue(), bos, eos,
                            config + " (chat_template \"default\")"));
                }
            }
            throw new IllegalArgumentException(config + ": chat_template lists templates " + names
                    + " but none named \"default\" with a string \"template\"");
        }
        if (!t.isMissingNode() && !t.isNull()) {
            throw new IllegalArgumentException(config + ": chat_template must be a string or a list of"
                    + " {name, template}, got " + t.getNodeType().name().toLowerCase(Locale.ROOT));
        }
        Path jinja = modelDir.resolve(JINJA_FILE);
        if (Files.isRegularFile(jinja)) {
            return Optional.of(new ChatTemplate(Files.readString(jinja), bos, eos, jinja.toString()));
        }
        return Optional.empty();
    }

    /**
     * The template of a model folder, which must have one because {@code firstChat} is a chat record.
     *
     * @throws IllegalArgumentException naming the folder's {@value #CONFIG_FILE} and the record
     */
    public static ChatTemplate require(Path modelDir, SourceLocation firstChat) throws IOException {
        return fromModel(modelDir).orElseThrow(() -> new IllegalArgumentException(
                modelDir.resolve(CONFIG_FILE) + " has no chat_template (nor is there a " + JINJA_FILE + " beside it),"
                        + " but " + firstChat + " is a chat record {messages}, which is rendered with the model's"
                        + " chat template: use a chat/instruct checkpoint, add its chat_template, or write"
                        + " {prompt, completion} records"));
    }

    /** Where the template was read, for messages. */
    public String origin() {
        return origin;
    }

    /**
     * Renders turns as the model's prompt text.
     *
     * @throws IllegalArgumentException with the template's complaint (a {@code raise_exception}
     *     message, an unknown function, a syntax error)
     */
    public String render(List<Example.Chat.Message> messages, boolean addGenerationPrompt) {
        Map<String, Object> context = new HashMap<>();
        List<Map<String, Object>> turns = new ArrayList<>(messages.size());
        for (Example.Chat.Message m : messages) {
            Map<String, Object> turn = new LinkedHashMap<>();
            turn.put("role", m.role());
            turn.put("content", m.content());
            turns.add(turn);
        }
        context.put("messages", turns);
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        ChatJinja.Rendered r = ChatJinja.render(template, context);
        if (r.failed()) {
            throw new IllegalArgumentException(r.error());
        }
        return r.text();
    }

    /**
     * Renders a chat record and locates its assistant turns.
     *
     * @throws BadRecordException naming the record's file and line and this template's file, when the
     *     template fails on it, renders an assistant turn as no text, or breaks the prefix property
     */
    public RenderedChat render(Example.Chat chat) {
        List<Example.Chat.Message> m = chat.messages();
        String full = renderRow(chat, m, false);
        List<RenderedChat.Span> spans = new ArrayList<>();
        String last = null;
        int end = 0;
        for (int i = 0; i < m.size(); i++) {
            if (!m.get(i).role().equals(Example.Chat.ASSISTANT)) {
                continue;
            }
            String before = renderRow(chat, m.subList(0, i), true);
            String upTo = renderRow(chat, m.subList(0, i + 1), false);
            if (!upTo.startsWith(before) || !full.startsWith(upTo) || before.length() < end) {
                throw bad(chat, "cannot locate assistant turn messages[" + i + "]: the template does not render"
                        + " each conversation as a prefix of its continuation (messages[:" + i + "] with the"
                        + " generation prompt, then messages[:" + (i + 1) + "], then all messages), so the"
                        + " assistant text cannot be masked; use a template that renders turns in order");
            }
            if (upTo.length() == before.length()) {
                throw bad(chat, "the template renders assistant turn messages[" + i + "] as no text");
            }
            spans.add(new RenderedChat.Span(before.length(), upTo.length()));
            end = upTo.length();
            last = m.get(i).content();
        }
        if (last == null) {
            throw bad(chat, "no assistant turn (loss is taken on assistant turns only)");
        }
        return new RenderedChat(full, spans, last, chat.source());
    }

    private String renderRow(Example.Chat chat, List<Example.Chat.Message> messages, boolean addGenerationPrompt) {
        try {
            return render(messages, addGenerationPrompt);
        } catch (IllegalArgumentException e) {
            throw bad(chat, e.getMessage());
        }
    }

    private BadRecordException bad(Example.Chat chat, String detail) {
        return BadRecordException.record(chat.source(), "chat template of " + origin + ": " + detail);
    }

    /** A special token of tokenizer_config.json: a string, a {@code {content}} object, or absent (""). */
    private static String token(JsonNode root, String key, Path config) {
        JsonNode t = root.path(key);
        if (t.isMissingNode() || t.isNull()) {
            return "";
        }
        if (t.isTextual()) {
            return t.textValue();
        }
        if (t.path("content").isTextual()) {
            return t.path("content").textValue();
        }
        throw new IllegalArgumentException(config + ": " + key + " must be a string or {content: string}");
    }
}
