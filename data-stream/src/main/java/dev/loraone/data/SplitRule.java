package dev.loraone.data;

/**
 * Assigns an item to a {@link Split} from a stable 64-bit key, by percentages.
 *
 * <p>Role: a split that never changes between runs, JVMs or machines, and that does not depend on
 * the order items were read, so every worker computes the same split on its own. The rule:
 *
 * <pre>
 *   bucket = Long.remainderUnsigned(mix64(key), 100)          // 0..99
 *   TRAIN if bucket &lt; trainPercent,
 *   VALIDATION if bucket &lt; trainPercent + validationPercent, else TEST
 * </pre>
 *
 * where {@code mix64} is the SplitMix64 finaliser (Steele, Lea, Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014; constants as in {@code java.util.SplittableRandom}).
 * It is pure 64-bit integer arithmetic, so the result is the same on every JVM. For WordNet the key
 * is the synset offset (see {@link WordNetSynset#splitKey()}). The split is not stratified: class
 * proportions hold only in expectation, which matters for tiny classes.
 *
 * @param trainPercent percent of buckets for training
 * @param validationPercent percent of buckets for validation; the rest is test
 */
public record SplitRule(int trainPercent, int validationPercent) {

    /** 80 / 10 / 10. */
    public static final SplitRule DEFAULT = new SplitRule(80, 10);

    public SplitRule {
        if (trainPercent < 0 || validationPercent < 0 || trainPercent + validationPercent > 100) {
            throw new IllegalArgumentException("split percentages must be >= 0 and sum to <= 100, got train="
                    + trainPercent + " validation=" + validationPercent);
        }
    }

    /** The percent of buckets left for test. */
    public int testPercent() {
        return 100 - trainPercent - validationPercent;
    }

    /** The split of an item with this key. */
    public Split assign(long key) {
        long bucket = Long.remainderUnsigned(mix64(key), 100);
        if (bucket < trainPercent) {
            return Split.TRAIN;
        }
        return bucket < trainPercent + validationPercent ? Split.VALIDATION : Split.TEST;
    }

    /** The SplitMix64 finaliser: a bijective 64-bit mix. */
    public static long mix64(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    @Override
    public String toString() {
        return trainPercent + "/" + validationPercent + "/" + testPercent() + " by mix64(key) mod 100";
    }
}
