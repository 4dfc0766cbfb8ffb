package dev.loraone.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the {@code messages} value of a JSONL chat record into an {@link Example.Chat}.
 *
 * <pre>
 *   {"messages": [{"role": "system", "content": "..."}, {"role": "user", ...}, {"role": "assistant", ...}]}
 * </pre>
 *
 * Each turn is an object with a {@code role} of {@link Example.Chat#ROLES} and a string
 * {@code content}; other keys are ignored. An assistant turn's content may not be blank (it is what
 * the model learns), and a record needs at least one assistant turn. Every error names the turn by
 * its index, e.g. {@code messages[2]}.
 */
final class ChatRecords {

    private ChatRecords() {}

    static Example.Chat parse(JsonNode messages, SourceLocation at) {
        String key = "\"" + FieldNames.MESSAGES + "\"";
        if (!messages.isArray()) {
            throw BadRecordException.record(at, "key " + key + " must be an array of {role, content} objects, got "
                    + JsonlRecordParser.kind(messages));
        }
        List<Example.Chat.Message> turns = new ArrayList<>(messages.size());
        boolean assistant = false;
        for (int i = 0; i < messages.size(); i++) {
            JsonNode turn = messages.get(i);
            String name = FieldNames.MESSAGES + "[" + i + "]";
            if (!turn.isObject()) {
                throw BadRecordException.record(at, name + " must be an object {role, content}, got "
                        + JsonlRecordParser.kind(turn));
            }
            String role = string(turn, "role", name, at);
            if (!Example.Chat.ROLES.contains(role)) {
                throw BadRecordException.record(at, name + ": unknown role \"" + role + "\" (expected "
                        + String.join(", ", Example.Chat.ROLES) + ")");
            }
            String content = string(turn, "content", name + " (" + role + ")", at);
            if (role.equals(Example.Chat.ASSISTANT)) {
                if (content.isBlank()) {
                    throw BadRecordException.record(at, name + ": assistant content is empty (an assistant turn is"
                            + " the text the model learns to write)");
                }
                assistant = true;
            }
            turns.add(new Example.Chat.Message(role, content));
        }
        if (!assistant) {
            throw BadRecordException.record(at, "no assistant turn in " + key + " (loss is taken on assistant turns"
                    + " only, so a chat without one teaches nothing)");
        }
        return new Example.Chat(turns, at);
    }

    private static String string(JsonNode turn, String key, String name, SourceLocation at) {
        JsonNode value = turn.get(key);
        if (value == null || value.isNull()) {
            throw BadRecordException.record(at, name + ": missing key \"" + key + "\"");
        }
        if (!value.isTextual()) {
            throw BadRecordException.record(at, name + ": key \"" + key + "\" must be a string, got "
                    + JsonlRecordParser.kind(value));
        }
        return value.textValue();
    }
}
