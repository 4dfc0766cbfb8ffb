package dev.loraone.data;

import java.util.List;

/**
 * The 45 WordNet lexicographer file names ("supersenses"), indexed by lexicographer file number.
 *
 * <p>Role: the class names of the WordNet task. Source: the {@code lexnames} file of WordNet 3.x
 * (Princeton, {@code lexnames(5WN)}): 00-02 adjective/adverb, 03-28 the 26 noun classes, 29-43 the
 * 15 verb classes, 44 {@code adj.ppl}.
 */
public final class WordNetLexnames {

    /** Lexicographer file numbers of the first and last noun class. */
    public static final int FIRST_NOUN = 3;

    public static final int LAST_NOUN = 28;

    /** All 45 names; the list index is the lexicographer file number. */
    public static final List<String> ALL = List.of(
            "adj.all", "adj.pert", "adv.all",
            "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute", "noun.body",
            "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
            "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant",
            "noun.possession", "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state",
            "noun.substance", "noun.time",
            "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
            "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
            "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
            "adj.ppl");

    /** The 26 noun classes, lexicographer files 03..28. */
    public static final List<String> NOUNS = ALL.subList(FIRST_NOUN, LAST_NOUN + 1);

    private WordNetLexnames() {}

    /**
     * The name of a lexicographer file number.
     *
     * @throws IllegalArgumentException outside 0..44
     */
    public static String name(int lexFile) {
        if (lexFile < 0 || lexFile >= ALL.size()) {
            throw new IllegalArgumentException("lexicographer file number must be 0..44, got " + lexFile);
        }
        return ALL.get(lexFile);
    }
}
