package dev.loraone.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One synset line of a WordNet {@code data.*} file, reduced to what the supersense task needs.
 *
 * <p>Role: the parsed form of {@code offset lex_filenum ss_type w_cnt word lex_id ... | gloss}
 * (format: {@code wndb(5WN)}), reduced to what the built-in tasks need: the supersense task's label
 * and gloss, the gloss-retrieval task's lemmas ({@link #words}). {@link #parse} is strict: a
 * malformed line fails with its file and line number rather than shifting a label.
 *
 * @param filePos the part of speech of the file it came from: {@code n v a r} (adjective
 *     satellites, {@code ss_type s}, live in {@code data.adj} and get {@code a})
 * @param offset the byte offset of the line in its file, the synset's id within that file
 * @param lexFile the lexicographer file number, 0..44
 * @param firstWord the first word of the synset, underscores kept (e.g. {@code physical_entity})
 * @param words the synset's {@code w_cnt} words in file order, as written (underscores, and an
 *     adjective's syntactic marker such as {@code (a)}, kept)
 * @param gloss the text after {@code "| "}, trimmed: definition and examples
 * @param source the file and line
 */
public record WordNetSynset(char filePos, long offset, int lexFile, String firstWord, List<String> words, String gloss,
        SourceLocation source) {

    public WordNetSynset {
        if ("nvar".indexOf(filePos) < 0) {
            throw new IllegalArgumentException("filePos must be one of n, v, a, r, got " + filePos);
        }
        Objects.requireNonNull(firstWord, "firstWord");
        words = List.copyOf(words);
        Objects.requireNonNull(gloss, "gloss");
        Objects.requireNonNull(source, "source");
    }

    /** The supersense label, e.g. {@code noun.animal}. */
    public String lexname() {
        return WordNetLexnames.name(lexFile);
    }

    /**
     * The key for {@link SplitRule}: {@code posIndex << 32 | offset}, with posIndex n=0, v=1, a=2,
     * r=3. Offsets are unique only within one file; for nouns the key is the plain offset.
     */
    public long splitKey() {
        return ((long) "nvar".indexOf(filePos) << 32) | offset;
    }

    /**
     * Parses a synset line (one that does not start with a space).
     *
     * @throws BadRecordException naming the field that is malformed
     */
    static WordNetSynset parse(String line, char filePos, SourceLocation at) {
        String[] head = line.split(" ", 6);
        if (head.length < 6) {
            throw BadRecordException.record(at, "synset line has " + head.length
                    + " fields (expected offset lex_filenum ss_type w_cnt word lex_id ...)");
        }
        long offset = number(head[0], 10, "offset", at);
        int lexFile = (int) number(head[1], 10, "lex_filenum", at);
        if (lexFile >= WordNetLexnames.ALL.size()) {
            throw BadRecordException.record(at, "lex_filenum " + lexFile + " out of range (expected 00..44)");
        }
        String ssType = head[2];
        boolean typeMatches = ssType.length() == 1
                && (ssType.charAt(0) == filePos || (filePos == 'a' && ssType.charAt(0) == 's'));
        if (!typeMatches) {
            throw BadRecordException.record(at, "ss_type \"" + ssType + "\" does not match the file's part of speech "
                    + filePos);
        }
        int count = (int) number(head[3], 16, "w_cnt", at);
        int bar = line.indexOf(" | ");
        if (bar < 0) {
            throw BadRecordException.record(at, "missing gloss (expected \" | \" followed by the gloss)");
        }
        String[] fields = line.substring(0, bar).split(" ");
        if (count < 1 || fields.length < 4 + 2 * count) {
            throw BadRecordException.record(at, "w_cnt is " + count + " but the line has " + (fields.length - 4)
                    + " fields after it (expected word lex_id per word)");
        }
        List<String> words = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            words.add(fields[4 + 2 * k]);
        }
        String gloss = line.substring(bar + 3).trim();
        return new WordNetSynset(filePos, offset, lexFile, head[4], words, gloss, at);
    }

    private static long number(String field, int radix, String name, SourceLocation at) {
        try {
            return Long.parseLong(field, radix);
        } catch (NumberFormatException e) {
            throw BadRecordException.record(at, "field " + name + " is \"" + field + "\" (expected a base-" + radix
                    + " number)");
        }
    }
}
