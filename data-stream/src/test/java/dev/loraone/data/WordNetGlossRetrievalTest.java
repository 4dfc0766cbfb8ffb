package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The built-in gloss-retrieval task: pairs from real synset lines, and a split by synset. */
class WordNetGlossRetrievalTest {

    private static WordNetSynset synset(String line, char pos) {
        return WordNetSynset.parse(line, pos, new SourceLocation("data.test", 1));
    }

    @Test
    void definitionRetrievesTheWordsAndTheShortestExample() {
    WordNetSynset s =
        synset(
            "00001740 00 a 01 able 0 005 = 05207437 n 0000 = 05624029 n 0000 + 05624029 n 0101"
                + " + 05207437 n 0101 ! 00002098 a 0101 | (usually followed by `to') having the necessary means or "
                    + "skill"
                + " or know-how or authority to do something; \"able to swim\"; \"she was able to program her "
                    + "computer\"",
            'a');
        Example.Pair p = WordNetGlossRetrieval.pair(s);
        assertEquals("(usually followed by `to') having the necessary means or skill or know-how or authority to do"
                + " something", p.query());
        assertEquals("able: able to swim", p.positive());
        assertNull(p.negative());
    }

    @Test
    void markersAndUnderscoresAreDroppedAndDuplicateWordsKeptOnce() {
        WordNetSynset s = synset("00004296 00 s 03 galore(ip) 0 Galore 0 in_abundance 0 000 | in great numbers", 'a');
        assertEquals(List.of("galore(ip)", "Galore", "in_abundance"), s.words());
        Example.Pair p = WordNetGlossRetrieval.pair(s);
        assertEquals(new Example.Pair("in great numbers", "galore, in abundance", s.source()), p);
    }

    @Test
    void aGlossOfExamplesOnlyHasNoPair() {
        assertNull(WordNetGlossRetrieval.pair(synset("00000001 03 n 01 thing 0 000 | \"a thing\"", 'n')));
    }

    @Test
    void splitsAreDisjointByQueryLineAndCoverMostSynsets() {
        WordNetGlossRetrieval task = WordNetGlossRetrieval.load();
        Set<SourceLocation> train = new HashSet<>();
        task.examples(Split.TRAIN).forEach(p -> train.add(p.source()));
        for (Example.Pair p : task.examples(Split.VALIDATION)) {
            assertTrue(!train.contains(p.source()), p.source() + " is in two splits");
        }
        int all = task.examples(Split.TRAIN).size() + task.examples(Split.VALIDATION).size()
                + task.examples(Split.TEST).size();
        assertTrue(all > 117_000, task.summary()); // 117,791 synsets; a few glosses are examples only
        assertTrue(task.examples(Split.VALIDATION).size() > 11_000, task.summary());
    }
}
