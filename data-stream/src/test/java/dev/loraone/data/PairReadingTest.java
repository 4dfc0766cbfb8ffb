package dev.loraone.data;

import static dev.loraone.data.Datasets.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Embedding pairs ({@link Example.Pair}) through {@link ExampleReader}: JSONL and CSV/TSV records
 * keep query, positive and the optional hard negative, and each bad row fails naming its file and
 * line (missing positive, empty query, a negative that is not text, a row of another kind).
 */
class PairReadingTest {

    private static SourceLocation at(String file, long line) {
        return new SourceLocation(file, line);
    }

    @Test
    void jsonlPairsKeepQueryPositiveAndOptionalNegative() throws IOException {
        List<Example.Pair> ex = read("pairs.jsonl", "{\"query\":\"q1\",\"positive\":\"p1\"}\n"
                + "{\"query\":\"q2\",\"positive\":\"p2\",\"negative\":\"n2\",\"id\":7}\n"
                + "{\"query\":\"q3\",\"positive\":\"p3\",\"negative\":null}\n").examplesOf(Example.Pair.class);
        assertEquals(List.of(new Example.Pair("q1", "p1", at("pairs.jsonl", 1)),
                new Example.Pair("q2", "p2", "n2", at("pairs.jsonl", 2)),
                new Example.Pair("q3", "p3", at("pairs.jsonl", 3))), ex);
    }

    @Test
    void csvAndTsvPairsReadAnEmptyNegativeCellAsNone() throws IOException {
        List<Example.Pair> csv = read("pairs.csv", "negative,query,positive\n,q1,p1\n\"n, 2\",q2,p2\n")
                .examplesOf(Example.Pair.class);
        assertEquals(List.of(new Example.Pair("q1", "p1", at("pairs.csv", 2)),
                new Example.Pair("q2", "p2", "n, 2", at("pairs.csv", 3))), csv);
        Example.Pair tsv = read("pairs.tsv", "query\tpositive\nq\tp\n").examplesOf(Example.Pair.class).get(0);
        assertNull(tsv.negative());
    }

    @Test
    void missingPositiveNamesFileAndLine() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("train.jsonl", "{\"query\":\"a\",\"positive\":\"b\"}\n{\"query\":\"c\"}\n"));
        assertEquals("train.jsonl:2: missing key \"positive\" (expected {text,label}, {prompt,completion},"
                + " {messages} or {query,positive[,negative]})", e.getMessage());
        assertEquals(at("train.jsonl", 2), e.location());
    }

    @Test
    void emptyQueryNamesFileAndLine() {
        BadRecordException json = assertThrows(BadRecordException.class,
                () -> read("train.jsonl", "\n\n{\"query\":\"  \",\"positive\":\"b\"}\n"));
        assertEquals("train.jsonl:3: key \"query\" is empty (expected the query text)", json.getMessage());
    BadRecordException csv =
        assertThrows(
            BadRecordException.class, () -> read("train.csv", "query,positive\nq,p\n,p\n"));
        assertEquals("train.csv:3: empty value in column \"query\" (expected the query text)", csv.getMessage());
    }

    @Test
    void positiveWithoutQueryAndNonTextNegativeAreNamed() {
    BadRecordException noQuery =
        assertThrows(BadRecordException.class, () -> read("t.jsonl", "{\"positive\":\"p\"}"));
        assertEquals("t.jsonl:1: missing key \"query\" (expected {text,label}, {prompt,completion},"
                + " {messages} or {query,positive[,negative]})", noQuery.getMessage());
        BadRecordException number = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"query\":\"q\",\"positive\":\"p\",\"negative\":3}"));
        assertEquals("t.jsonl:1: key \"negative\" must be a string, got number", number.getMessage());
        BadRecordException header = assertThrows(BadRecordException.class, () -> read("t.csv", "positive,x\np,x\n"));
        assertEquals("t.csv:1: missing column \"query\" in header [positive, x] (expected {text,label},"
                + " {prompt,completion} or {query,positive[,negative]})", header.getMessage());
    }

    @Test
    void pairAfterClassificationRecordsIsABadRecordUnderSkip() throws IOException {
        ReadResult r = read("t.jsonl", "{\"text\":\"a\",\"label\":\"b\"}\n{\"query\":\"q\",\"positive\":\"p\"}\n",
                ReadOptions.DEFAULT.with(OnBadRecord.SKIP));
        assertEquals(1, r.skippedCount());
        assertEquals("t.jsonl:2: record is {query,positive[,negative]} but earlier records are {text,label}"
                + " (expected one kind of record per file)", r.skippedMessages().get(0));
    }
}
