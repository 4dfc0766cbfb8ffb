package dev.loraone.data;

import static dev.loraone.data.Datasets.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** CSV (RFC 4180 quoting) and TSV parsing of {@link ExampleReader}, and their error messages. */
class DelimitedReadingTest {

    private static SourceLocation at(String file, long line) {
        return new SourceLocation(file, line);
    }

    @Test
    void quotedCsvFieldsHoldDelimitersQuotesAndLineBreaks() throws IOException {
        String csv = "id,text,label\r\n"
                + "1,\"hello, world\",greeting\r\n"
                + "2,\"she said \"\"hi\"\"\",\"quote\"\r\n"
                + "3,\"two\nlines\",multi\n"
                + "\n"
                + "4,5\" screen,bare quote\n"
                + "5,,empty text";
        List<Example.Classification> ex = read("train.csv", csv).examplesOf(Example.Classification.class);
        assertEquals(List.of(
                new Example.Classification("hello, world", "greeting", at("train.csv", 2)),
                new Example.Classification("she said \"hi\"", "quote", at("train.csv", 3)),
                new Example.Classification("two\nlines", "multi", at("train.csv", 4)),
                new Example.Classification("5\" screen", "bare quote", at("train.csv", 7)),
                new Example.Classification("", "empty text", at("train.csv", 8))), ex);
    }

    @Test
    void csvGenerationColumnsInAnyOrderWithConfiguredNames() throws IOException {
        ReadOptions opts = ReadOptions.DEFAULT.with(new FieldNames("text", "label", "question", "answer"));
        List<Example.Generation> ex = read("qa.csv", " answer , question \n\"4\",\"2+2?\"\n", opts)
                .examplesOf(Example.Generation.class);
        assertEquals(List.of(new Example.Generation("2+2?", "4", at("qa.csv", 2))), ex);
    }

    @Test
    void tsvSplitsOnTabsAndKeepsQuotesLiterally() throws IOException {
        List<Example.Classification> ex = read("train.tsv", "label\ttext\npos\t\"great\", she said\nneg\ta,b\n")
                .examplesOf(Example.Classification.class);
        assertEquals(List.of(new Example.Classification("\"great\", she said", "pos", at("train.tsv", 2)),
                new Example.Classification("a,b", "neg", at("train.tsv", 3))), ex);
    }

    @Test
    void wrongColumnCountNamesFileLineAndHeader() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("train.csv", "text,label\na,b\n\"c,d\",e,f\n"));
        assertEquals("train.csv:3: expected 2 columns as in the header [text, label], got 3", e.getMessage());
    }

    @Test
    void headerWithoutLabelColumnIsFatalAndNamesTheColumn() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("train.csv", "text,category\na,b\n", ReadOptions.DEFAULT.with(OnBadRecord.SKIP)));
        assertEquals("train.csv:1: missing column \"label\" in header [text, category] "
                + "(expected {text,label}, {prompt,completion} or {query,positive[,negative]})", e.getMessage());
        assertTrue(!e.recoverable());
        BadRecordException none = assertThrows(BadRecordException.class, () -> read("t.tsv", "a\tb\n"));
        assertTrue(none.getMessage().startsWith("t.tsv:1: missing column \"text\" or \"prompt\""), none.getMessage());
    }

    @Test
    void emptyLabelNamesTheColumn() {
        BadRecordException e = assertThrows(BadRecordException.class, () -> read("t.csv", "text,label\na,\n"));
        assertEquals("t.csv:2: empty value in column \"label\" (expected a class label)", e.getMessage());
    }

    @Test
    void characterAfterClosingQuoteNamesTheColumn() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("t.csv", "text,label\n\"a\"x,b\n"));
        assertEquals("t.csv:2: unexpected character 'x' after the closing quote of column \"text\" (field 1) "
                + "(expected ',' or the end of the line)", e.getMessage());
    }

    @Test
    void unterminatedQuoteNamesTheLineWhereTheRecordStarts() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("t.csv", "text,label\na,b\n\"never closed,b\nmore\n"));
        assertEquals("t.csv:3: unterminated quoted field in column \"text\" (field 1) "
                + "(reached the end of the file; expected a closing '\"')", e.getMessage());
    }

    @Test
    void duplicateHeaderColumnAndEmptyFileAreFatal() {
        BadRecordException dup = assertThrows(BadRecordException.class, () -> read("t.csv", "text,label,text\n"));
        assertEquals("t.csv:1: duplicate column \"text\" in header [text, label]", dup.getMessage());
        BadRecordException empty = assertThrows(BadRecordException.class, () -> read("t.csv", "\n\n"));
        assertTrue(empty.getMessage().contains("empty file: no header row"), empty.getMessage());
    }
}
