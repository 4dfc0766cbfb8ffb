package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link LabelVocabulary}: dense ids in sorted order, independent of input order. */
class LabelVocabularyTest {

    @Test
    void idsAreDenseAndFollowSortedOrder() {
        LabelVocabulary v = LabelVocabulary.of(List.of("pos", "neg", "neutral", "neg", "Pos"));
        assertEquals(List.of("Pos", "neg", "neutral", "pos"), v.labels());
        for (int i = 0; i < v.size(); i++) {
            assertEquals(i, v.id(v.label(i)));
        }
    }

    @Test
    void vocabularyDependsOnlyOnTheLabelSet() {
        assertEquals(LabelVocabulary.of(List.of("b", "a", "c")), LabelVocabulary.of(List.of("c", "c", "a", "b")));
    }

    @Test
    void unknownLabelOfAnExampleNamesItsFileAndLine() {
        LabelVocabulary v = LabelVocabulary.of(List.of("a"));
        Example.Classification e = new Example.Classification("t", "zzz", new SourceLocation("dev.csv", 9));
        IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> v.id(e));
        assertTrue(thrown.getMessage().startsWith("dev.csv:9: unknown label \"zzz\""), thrown.getMessage());
    }
}
