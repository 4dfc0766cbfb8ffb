package dev.loraone.data;

/**
 * The three disjoint parts of a dataset: fit on {@link #TRAIN}, select on {@link #VALIDATION},
 * report {@link #TEST}.
 */
public enum Split {
    TRAIN,
    VALIDATION,
    TEST
}
