package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The lexicographer files' names and descriptions (lexnames(5WN)) stay aligned by file number. */
class WordNetLexnamesTest {
  @Test
  void everyLexnameHasItsDescriptionAtTheSameFileNumber() {
    assertEquals(WordNetLexnames.ALL.size(), WordNetLexnames.DESCRIPTIONS.size());
    assertEquals("nouns denoting animals", WordNetLexnames.description("noun.animal"));
    assertEquals("nouns denoting time and temporal relations", WordNetLexnames.description("noun.time"));
    assertEquals("verbs of raining, snowing, thawing, thundering", WordNetLexnames.description("verb.weather"));
    assertEquals("participial adjectives", WordNetLexnames.description("adj.ppl"));
    assertNull(WordNetLexnames.description("noun.unknown"));
  }
}
