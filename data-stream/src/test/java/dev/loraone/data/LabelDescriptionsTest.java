package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LabelDescriptions}: {@code label<TAB>description} lines, each wrong line named by file:line. */
class LabelDescriptionsTest {

    private static final LabelVocabulary CLASSES = LabelVocabulary.of(List.of("neg", "neu", "pos"));

    @TempDir Path dir;

    private static Map<String, String> read(String text) throws IOException {
        return LabelDescriptions.read(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)), "labels.tsv",
                CLASSES);
    }

    @Test
    void describedClassesMapToTheirTextsAndUndescribedOnesAreAbsent() throws IOException {
        Path file = dir.resolve("labels.tsv");
        Files.writeString(file, "\uFEFF# sentiment\n\npos\t a favourable review \r\nneg\tan unfavourable review\n");
        Map<String, String> d = LabelDescriptions.read(file, CLASSES);
        assertEquals(Map.of("pos", "a favourable review", "neg", "an unfavourable review"), d);
        assertEquals(List.of("pos", "neg"), List.copyOf(d.keySet()), "file order");
    }

    @Test
    void unknownClassNamesFileAndLine() {
        BadRecordException e = assertThrows(BadRecordException.class, () -> read("pos\tgood\n\n# x\npositive\tgood\n"));
        assertEquals(new SourceLocation("labels.tsv", 4), e.location());
        assertTrue(e.getMessage().startsWith("labels.tsv:4: unknown class \"positive\"")
                && e.getMessage().contains("[neg, neu, pos]"), e.getMessage());
    }

    @Test
    void duplicateBlankAndTablessLinesNameFileAndLine() {
        BadRecordException dup = assertThrows(BadRecordException.class, () -> read("pos\tgood\nneg\tbad\npos\tfine\n"));
        assertTrue(dup.getMessage().startsWith("labels.tsv:3: class \"pos\" is described again (first on line 1)"),
                dup.getMessage());
        BadRecordException blank = assertThrows(BadRecordException.class, () -> read("neu\t  \n"));
        assertTrue(blank.getMessage().startsWith("labels.tsv:1: class \"neu\" has a blank description"),
                blank.getMessage());
        BadRecordException tabless = assertThrows(BadRecordException.class, () -> read("pos good\n"));
        assertTrue(tabless.getMessage().startsWith("labels.tsv:1: expected 'label<TAB>description'"),
                tabless.getMessage());
    }

    @Test
    void missingFileNamesTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LabelDescriptions.read(dir.resolve("nope.tsv"), CLASSES));
        assertTrue(e.getMessage().contains("'job.task.labels'") && e.getMessage().contains("nope.tsv"), e.getMessage());
    }
}
