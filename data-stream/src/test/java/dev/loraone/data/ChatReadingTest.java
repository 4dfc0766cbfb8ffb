package dev.loraone.data;

import static dev.loraone.data.Datasets.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Chat records ({@link Example.Chat}) through {@link ExampleReader}: turns keep their order, and each bad
 * row fails naming its file, line and turn (not an array, an unknown role, empty assistant content, no
 * assistant turn, a chat row in a prompt/completion file).
 */
class ChatReadingTest {

    /** A user turn, for rows built in the tests. */
    private static final String Q = "{\"role\": \"user\", \"content\": \"q\"}";

    /** {@code {"messages": [turns]}}. */
    private static String row(String... turns) {
        return "{\"messages\": [" + String.join(", ", turns) + "]}";
    }

    private static String badRow(String row) {
        return assertThrows(BadRecordException.class, () -> read("chat.jsonl", "\n" + row + "\n")).getMessage();
    }

    @Test
    void chatRecordsKeepTheirTurnsInOrder() throws IOException {
        List<Example.Chat> chats = read("chat.jsonl", "{\"messages\": [{\"role\": \"system\", \"content\":"
                + " \"Be kind.\"}, {\"role\": \"user\", \"content\": \"Hi\", \"name\": \"ann\"},"
                + " {\"role\": \"assistant\", \"content\": \"Hello!\"}], \"id\": 7}\n")
                .examplesOf(Example.Chat.class);
        assertEquals(List.of(new Example.Chat(List.of(new Example.Chat.Message("system", "Be kind."),
                new Example.Chat.Message("user", "Hi"), new Example.Chat.Message("assistant", "Hello!")),
                new SourceLocation("chat.jsonl", 1))), chats);
    }

    @Test
    void eachBadChatRowIsNamedWithItsFileLineAndTurn() {
        assertEquals("chat.jsonl:2: key \"messages\" must be an array of {role, content} objects, got string",
                badRow("{\"messages\": \"hi\"}"));
        assertEquals("chat.jsonl:2: messages[0] must be an object {role, content}, got string",
                badRow("{\"messages\": [\"hi\"]}"));
        assertEquals("chat.jsonl:2: messages[1]: unknown role \"tool\" (expected system, user, assistant)",
                badRow(row(Q, "{\"role\": \"tool\", \"content\": \"x\"}")));
        assertEquals("chat.jsonl:2: messages[0]: missing key \"role\"", badRow(row("{\"content\": \"q\"}")));
        assertEquals("chat.jsonl:2: messages[1] (assistant): missing key \"content\"",
                badRow(row(Q, "{\"role\": \"assistant\"}")));
        assertEquals("chat.jsonl:2: messages[1] (assistant): key \"content\" must be a string, got array",
                badRow(row(Q, "{\"role\": \"assistant\", \"content\": []}")));
        assertEquals("chat.jsonl:2: messages[1]: assistant content is empty (an assistant turn is the text the"
                + " model learns to write)",
                badRow(row(Q, "{\"role\": \"assistant\", \"content\": \" \"}")));
        String noAssistant = "chat.jsonl:2: no assistant turn in \"messages\" (loss is taken on assistant turns only,"
                + " so a chat without one teaches nothing)";
        assertEquals(noAssistant, badRow(row(Q)));
        assertEquals(noAssistant, badRow(row()));
        assertEquals("chat.jsonl:2: keys of two kinds present (\"text\", \"prompt\", \"messages\", \"query\":"
                + " at most one) (expected {text,label}, {prompt,completion}, {messages} or"
                + " {query,positive[,negative]})",
                badRow("{\"messages\": [], \"prompt\": \"p\", \"completion\": \"c\"}"));
    }

    @Test
    void aFileMixingChatAndPromptCompletionRecordsIsRefused() {
        BadRecordException e = assertThrows(BadRecordException.class, () -> read("mixed.jsonl",
                "{\"prompt\": \"p\", \"completion\": \"c\"}\n"
                        + row("{\"role\": \"assistant\", \"content\": \"a\"}") + "\n"));
        assertEquals("mixed.jsonl:2: record is {messages} but earlier records are {prompt,completion} (expected one"
                + " kind of record per file)", e.getMessage());
    }
}
