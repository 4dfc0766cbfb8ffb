package dev.loraone.data;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.Locale;

/**
 * Turns one JSONL line into an {@link Example}.
 *
 * <p>Role: the JSON half of {@link ExampleReader}. A line must be one JSON object with the text and
 * label keys, the prompt and completion keys of {@link FieldNames}, or {@code query} and
 * {@code positive} (and an optional {@code negative}, absent or null for none), or {@code messages}
 * (a chat, checked by {@link ChatRecords}); other keys are
 * ignored. Duplicate keys and anything after the object are errors, since they usually mean two
 * records were glued together. A label may be a JSON string or an integer (kept as its decimal
 * text); it may not be blank, nor may a pair's query, positive or negative.
 */
final class JsonlRecordParser {

    private static final ObjectMapper MAPPER =
            JsonMapper.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                    .build();

    private final FieldNames names;

    JsonlRecordParser(FieldNames names) {
        this.names = names;
    }

    /** Parses a non-blank line read at {@code at}. */
    Example parse(String line, SourceLocation at) {
        JsonNode node;
        try {
            node = MAPPER.readTree(line);
        } catch (JsonProcessingException e) {
            JsonLocation where = e.getLocation();
            String column = where == null || where.getColumnNr() < 1 ? "" : " at column " + where.getColumnNr();
            throw BadRecordException.record(
                    at, "invalid JSON" + column + ": " + oneLine(e.getOriginalMessage())
                            + " (expected one JSON object per line)");
        }
        if (!node.isObject()) {
            throw BadRecordException.record(
                    at, "expected a JSON object " + names.expectedJsonl() + ", got " + kind(node));
        }
        boolean hasText = node.has(names.text());
        boolean hasPrompt = node.has(names.prompt());
        boolean hasQuery = node.has(FieldNames.QUERY);
        boolean hasMessages = node.has(FieldNames.MESSAGES);
        if ((hasText ? 1 : 0) + (hasPrompt ? 1 : 0) + (hasQuery ? 1 : 0) + (hasMessages ? 1 : 0) > 1) {
            throw BadRecordException.record(
                    at, "keys of two kinds present (\"" + names.text() + "\", \"" + names.prompt() + "\", \""
                            + FieldNames.MESSAGES + "\", \"" + FieldNames.QUERY + "\": at most one) "
                            + names.expectedJsonl());
        }
        if (hasMessages) {
            return ChatRecords.parse(node.get(FieldNames.MESSAGES), at);
        }
        if (hasText) {
            return new Example.Classification(
                    string(node, names.text(), at), label(node, names.label(), at), at);
        }
        if (hasPrompt) {
            return new Example.Generation(
                    string(node, names.prompt(), at), string(node, names.completion(), at), at);
        }
        if (hasQuery) {
            JsonNode negative = node.get(FieldNames.NEGATIVE);
            return new Example.Pair(text(node, FieldNames.QUERY, at), text(node, FieldNames.POSITIVE, at),
                    negative == null || negative.isNull() ? null : text(node, FieldNames.NEGATIVE, at), at);
        }
        if (node.has(names.label())) {
            throw missing(names.text(), at);
        }
        if (node.has(names.completion())) {
            throw missing(names.prompt(), at);
        }
        if (node.has(FieldNames.POSITIVE)) {
            throw missing(FieldNames.QUERY, at);
        }
        throw BadRecordException.record(
                at, "missing key \"" + names.text() + "\", \"" + names.prompt() + "\", \"" + FieldNames.MESSAGES
                        + "\" or \"" + FieldNames.QUERY + "\" " + names.expectedJsonl());
    }

    /** A string that must not be blank (a pair's query, positive or negative). */
    private String text(JsonNode object, String key, SourceLocation at) {
        String value = string(object, key, at);
        if (value.isBlank()) {
            throw BadRecordException.record(at, "key \"" + key + "\" is empty (expected the " + key + " text)");
        }
        return value;
    }

    private String string(JsonNode object, String key, SourceLocation at) {
        JsonNode value = object.get(key);
        if (value == null) {
            throw missing(key, at);
        }
        if (!value.isTextual()) {
            throw BadRecordException.record(
                    at, "key \"" + key + "\" must be a string, got " + kind(value));
        }
        return value.textValue();
    }

    private String label(JsonNode object, String key, SourceLocation at) {
        JsonNode value = object.get(key);
        if (value == null) {
            throw missing(key, at);
        }
        String label;
        if (value.isTextual()) {
            label = value.textValue();
        } else if (value.isIntegralNumber()) {
            label = value.asText();
        } else {
            throw BadRecordException.record(
                    at, "key \"" + key + "\" must be a string or an integer, got " + kind(value));
        }
        if (label.isBlank()) {
            throw BadRecordException.record(at, "key \"" + key + "\" is blank (expected a class label)");
        }
        return label;
    }

    private BadRecordException missing(String key, SourceLocation at) {
        return BadRecordException.record(at, "missing key \"" + key + "\" " + names.expectedJsonl());
    }

    static String kind(JsonNode node) {
        return node.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    private static String oneLine(String message) {
        return message == null ? "malformed input" : message.replaceAll("\\s*\\R\\s*", " ");
    }
}
