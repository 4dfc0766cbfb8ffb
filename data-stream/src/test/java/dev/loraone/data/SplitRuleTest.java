package dev.loraone.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** {@link SplitRule}: fixed integer arithmetic, proportions close to the percentages. */
class SplitRuleTest {

    @Test
    void mix64MatchesSplitMix64ReferenceValue() {
        // SplitMix64 seeded with 0 yields 0xE220A8397B1DCDAF first (Vigna's reference splitmix64.c).
        assertEquals(0xE220A8397B1DCDAFL, SplitRule.mix64(0));
    }

    @Test
    void proportionsFollowThePercentages() {
        SplitRule rule = new SplitRule(70, 20);
        int[] counts = new int[3];
        for (long key = 0; key < 100_000; key++) {
            counts[rule.assign(key).ordinal()]++;
        }
        assertEquals(70_000, counts[0], 1_000);
        assertEquals(20_000, counts[1], 1_000);
        assertEquals(10_000, counts[2], 1_000);
    }

    @Test
    void percentagesOver100AreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SplitRule(90, 20));
    }
}
