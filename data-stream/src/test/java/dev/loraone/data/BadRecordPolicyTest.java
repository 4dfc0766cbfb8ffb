package dev.loraone.data;

import static dev.loraone.data.Datasets.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link OnBadRecord}: FAIL throws the first error; SKIP keeps good records, counts and reports bad ones. */
class BadRecordPolicyTest {

    private static final ReadOptions SKIP = ReadOptions.DEFAULT.with(OnBadRecord.SKIP);

    /** "a" + (0xC3 0x28: a 2-byte lead followed by a non-continuation byte) + "b". */
    private static byte[] withInvalidUtf8(String before, String after) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(before.getBytes(StandardCharsets.UTF_8));
        out.writeBytes(new byte[] {(byte) 0xC3, (byte) 0x28});
        out.writeBytes(after.getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    @Test
    void skipCountsEachBadRecordAndKeepsTheRest() throws IOException {
        String data = "{\"text\":\"a\",\"label\":\"x\"}\n"
                + "{\"text\":\"b\"}\n"
                + "not json\n"
                + "{\"text\":\"c\",\"label\":\"y\"}\n"
                + "{\"prompt\":\"p\",\"completion\":\"q\"}\n";
        ReadResult r = read("train.jsonl", data, SKIP);
    assertEquals(
        List.of("a", "c"),
        r.examplesOf(Example.Classification.class).stream()
            .map(Example.Classification::text)
            .toList());
        assertEquals(3, r.skippedCount());
        assertEquals(3, r.skippedMessages().size());
        assertTrue(r.skippedMessages().get(0).startsWith("train.jsonl:2: missing key \"label\""));
        assertTrue(r.skippedMessages().get(1).startsWith("train.jsonl:3: invalid JSON"));
        assertTrue(r.skippedMessages().get(2).startsWith("train.jsonl:5: record is {prompt,completion}"));
        assertEquals("train.jsonl: 2 examples, 3 skipped (first: " + r.skippedMessages().get(0) + ")", r.summary());
    }

    @Test
    void skipCountsBadCsvRecordsAndResumesAtTheNextRecord() throws IOException {
        ReadResult r = read("t.csv", "text,label\na,1\nb,2,extra\n\"c\"x,3\nd,\ne,5\n", SKIP);
    assertEquals(
        List.of("a", "e"),
        r.examplesOf(Example.Classification.class).stream()
            .map(Example.Classification::text)
            .toList());
        assertEquals(3, r.skippedCount());
    }

    @Test
    void skipKeepsExactCountButOnlyTheFirstHundredMessages() throws IOException {
        ReadResult r = read("t.jsonl", "{}\n".repeat(250) + "{\"text\":\"a\",\"label\":\"b\"}\n", SKIP);
        assertEquals(250, r.skippedCount());
        assertEquals(ReadResult.MAX_REPORTED, r.skippedMessages().size());
        assertEquals(1, r.examples().size());
    }

    @Test
    void failIsTheDefaultAndThrowsTheFirstBadRecord() {
        BadRecordException e = assertThrows(BadRecordException.class,
                () -> read("t.jsonl", "{\"text\":\"a\",\"label\":\"b\"}\n{}\n[]\n"));
        assertEquals(2, e.location().line());
    }

    @Test
    void invalidUtf8IsReportedWithItsLineAndByte() {
        byte[] data = withInvalidUtf8("{\"text\":\"ok\",\"label\":\"x\"}\n{\"text\":\"caf", "\",\"label\":\"x\"}\n");
    BadRecordException e =
        assertThrows(
            BadRecordException.class, () -> read("train.jsonl", data, ReadOptions.DEFAULT));
        assertEquals("train.jsonl:2: invalid UTF-8: malformed byte sequence 0xC3 at byte 13 of the line "
                + "(expected UTF-8 text)", e.getMessage());
    }

    @Test
    void invalidUtf8LineIsSkippedUnderSkipAndLineNumbersStayRight() throws IOException {
        byte[] data = withInvalidUtf8("text,label\nfine,1\nbad", ",2\nlater,3\n");
        ReadResult r = read("t.csv", data, SKIP);
        assertEquals(1, r.skippedCount());
        assertTrue(r.skippedMessages().get(0).startsWith("t.csv:3: invalid UTF-8"), r.skippedMessages().get(0));
        List<Example> ex = r.examples();
        assertEquals(2, ex.size());
        assertEquals(new SourceLocation("t.csv", 4), ex.get(1).source());
    }

    @Test
    void truncatedMultiByteSequenceAtEndOfLineIsInvalid() {
        byte[] good = "{\"text\":\"a\",\"label\":\"b\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOf(good, good.length + 2);
        data[good.length] = (byte) 0xE2; // first two bytes of the 3-byte euro sign, then end of file
        data[good.length + 1] = (byte) 0x82;
        BadRecordException e = assertThrows(BadRecordException.class, () -> read("t.jsonl", data, ReadOptions.DEFAULT));
        assertTrue(e.getMessage().startsWith("t.jsonl:2: invalid UTF-8"), e.getMessage());
    }
}
