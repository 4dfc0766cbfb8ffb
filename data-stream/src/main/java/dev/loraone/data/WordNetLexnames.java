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

    /**
     * What each lexicographer file holds, as {@code lexnames(5WN)} describes it (the same index as
     * {@link #ALL}): the text a label-initialised classification head embeds for the class.
     */
    public static final List<String> DESCRIPTIONS = List.of(
            "all adjective clusters", "relational adjectives (pertainyms)", "all adverbs",
            "unique beginner for nouns", "nouns denoting acts or actions", "nouns denoting animals",
            "nouns denoting man-made objects", "nouns denoting attributes of people and objects",
            "nouns denoting body parts", "nouns denoting cognitive processes and contents",
            "nouns denoting communicative processes and contents", "nouns denoting natural events",
            "nouns denoting feelings and emotions", "nouns denoting foods and drinks",
            "nouns denoting groupings of people or objects", "nouns denoting spatial position",
            "nouns denoting goals", "nouns denoting natural objects (not man-made)", "nouns denoting people",
            "nouns denoting natural phenomena", "nouns denoting plants",
            "nouns denoting possession and transfer of possession", "nouns denoting natural processes",
            "nouns denoting quantities and units of measure",
            "nouns denoting relations between people or things or ideas",
            "nouns denoting two and three dimensional shapes", "nouns denoting stable states of affairs",
            "nouns denoting substances", "nouns denoting time and temporal relations",
            "verbs of grooming, dressing and bodily care", "verbs of size, temperature change, intensifying, etc.",
            "verbs of thinking, judging, analyzing, doubting", "verbs of telling, asking, ordering, singing",
            "verbs of fighting, athletic activities", "verbs of eating and drinking",
            "verbs of touching, hitting, tying, digging", "verbs of sewing, baking, painting, performing",
            "verbs of feeling", "verbs of walking, flying, swimming", "verbs of seeing, hearing, feeling",
            "verbs of buying, selling, owning", "verbs of political and social activities and events",
            "verbs of being, having, spatial relations", "verbs of raining, snowing, thawing, thundering",
            "participial adjectives");

    /** The 26 noun classes, lexicographer files 03..28. */
    public static final List<String> NOUNS = ALL.subList(FIRST_NOUN, LAST_NOUN + 1);

    private WordNetLexnames() {}

  /**
   * The {@link #DESCRIPTIONS description} of a lexicographer file name such as {@code noun.animal};
   * null if unknown.
   */
  public static String description(String name) {
        int i = ALL.indexOf(name);
        return i < 0 ? null : DESCRIPTIONS.get(i);
    }

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
