package dev.loraone.data;

import static dev.loraone.data.Datasets.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** JSONL parsing of {@link ExampleReader}: good records, and each bad record's message names file, line and key. */
class JsonlReadingTest {
    private static final String EXPECTED =
            " (expected {text,label}, {prompt,completion}, {messages} or {query,positive[,negative]})";

    @Test
    void classificationRecordsKeepTextLabelAndLine() throws IOException {
        ReadResult r = read("train.jsonl", "{\"text\":\"a cat\",\"label\":\"animal\"}\n"
                + "\n"
                + "{\"label\": 3, \"text\": \"x\\ny\", \"extra\": [1]}\r\n");
        List<Example.Classification> ex = r.examplesOf(Example.Classification.class);
        assertEquals(2, ex.size());
        assertEquals(new Example.Classification("a cat", "animal", new SourceLocation("train.jsonl", 1)), ex.get(0));
        assertEquals(new Example.Classification("x\ny", "3", new SourceLocation("train.jsonl", 3)), ex.get(1));
        assertEquals(0, r.skippedCount());
    }

    @Test
    void generationRecordsKeepPromptAndCompletion() throws IOException {
    ReadResult r =
        read(
            "gen.jsonl",
            "\uFEFF{\"prompt\":\"Q: 2+2?\",\"completion\":\" 4\"}\n{\"prompt\":\"\",\"completion\":\"é\"}");
        List<Example.Generation> ex = r.examplesOf(Example.Generation.class);
        assertEquals(List.of(new Example.Generation("Q: 2+2?", " 4", new SourceLocation("gen.jsonl", 1)),
                new Example.Generation("", "é", new SourceLocation("gen.jsonl", 2))), ex);
    }

    @Test
    void readingAPathNamesThePathAndPicksTheFormatFromItsExtension(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("data.ndjson");
        Files.writeString(file, "{\"text\":\"t\",\"label\":\"l\"}\n{\"text\":\"t\"}\n", StandardCharsets.UTF_8);
    BadRecordException e =
        assertThrows(
            BadRecordException.class, () -> ExampleReader.readAll(file, ReadOptions.DEFAULT));
        assertEquals(file + ":2: missing key \"label\"" + EXPECTED, e.getMessage());
    }

    @Test
    void missingLabelNamesFileLineAndKey() {
        String data = "{\"text\":\"a\",\"label\":\"x\"}\n".repeat(16) + "{\"text\":\"b\"}\n";
        BadRecordException e = assertThrows(BadRecordException.class, () -> read("train.jsonl", data));
        assertEquals("train.jsonl:17: missing key \"label\"" + EXPECTED, e.getMessage());
        assertEquals(new SourceLocation("train.jsonl", 17), e.location());
    }

    @Test
    void missingCompletionNamesTheKey() {
        BadRecordException e = assertThrows(BadRecordException.class, () -> read("g.jsonl", "{\"prompt\":\"p\"}"));
        assertEquals("g.jsonl:1: missing key \"completion\"" + EXPECTED, e.getMessage());
    }

    @Test
    void recordWithNeitherShapeNamesBothKeys() {
        BadRecordException e = assertThrows(BadRecordException.class, () -> read("t.jsonl", "{\"sentence\":\"p\"}"));
        assertEquals("t.jsonl:1: missing key \"text\", \"prompt\", \"messages\" or \"query\"" + EXPECTED,
                e.getMessage());
    BadRecordException onlyLabel =
        assertThrows(BadRecordException.class, () -> read("t.jsonl", "{\"label\":\"p\"}"));
        assertTrue(onlyLabel.getMessage().startsWith("t.jsonl:1: missing key \"text\""), onlyLabel.getMessage());
    }

    @Test
    void invalidJsonNamesLineAndColumn() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("train.jsonl", "{\"text\":\"a\",\"label\":\"b\"}\n{\"text\": \"a\", }\n"));
        assertTrue(e.getMessage().startsWith("train.jsonl:2: invalid JSON at column "), e.getMessage());
        assertTrue(e.getMessage().endsWith("(expected one JSON object per line)"), e.getMessage());
    }

    @Test
    void wrongValueTypesNameTheKeyAndTheTypeFound() {
        BadRecordException text = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"text\": 5, \"label\": \"a\"}"));
        assertEquals("t.jsonl:1: key \"text\" must be a string, got number", text.getMessage());
        BadRecordException label = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"text\": \"a\", \"label\": 1.5}"));
        assertEquals("t.jsonl:1: key \"label\" must be a string or an integer, got number", label.getMessage());
        BadRecordException blank = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"text\": \"a\", \"label\": \" \"}"));
        assertEquals("t.jsonl:1: key \"label\" is blank (expected a class label)", blank.getMessage());
        BadRecordException array = assertThrows(BadRecordException.class, () -> read("t.jsonl", "[1, 2]"));
        assertEquals("t.jsonl:1: expected a JSON object" + EXPECTED + ", got array",
                array.getMessage());
    }

    @Test
    void gluedRecordsAndDuplicateKeysAreRejected() {
        BadRecordException glued = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"text\":\"a\",\"label\":\"b\"}{\"text\":\"c\",\"label\":\"d\"}"));
        assertTrue(glued.getMessage().startsWith("t.jsonl:1: invalid JSON"), glued.getMessage());
        BadRecordException dup = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"text\":\"a\",\"label\":\"b\",\"label\":\"c\"}"));
        assertTrue(dup.getMessage().startsWith("t.jsonl:1: invalid JSON"), dup.getMessage());
        assertTrue(dup.getMessage().contains("label"), dup.getMessage());
    }

    @Test
    void mixingKindsInOneFileIsABadRecord() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"text\":\"a\",\"label\":\"b\"}\n{\"prompt\":\"a\",\"completion\":\"b\"}"));
        assertEquals("t.jsonl:2: record is {prompt,completion} but earlier records are {text,label} "
                + "(expected one kind of record per file)", e.getMessage());
    }

    @Test
    void configuredFieldNamesAreReadAndNamedInMessages() throws IOException {
        ReadOptions opts = ReadOptions.DEFAULT.with(new FieldNames("sentence", "category", "q", "a"));
        ReadResult r = read("t.jsonl", "{\"sentence\":\"s\",\"category\":\"c\"}", opts);
        assertEquals("c", r.examplesOf(Example.Classification.class).get(0).label());
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"q\":\"s\"}", opts));
    assertEquals(
        "t.jsonl:1: missing key \"a\" (expected {sentence,category}, {q,a}, {messages} or {query,positive[,negative]})",
        e.getMessage());
    }
}
