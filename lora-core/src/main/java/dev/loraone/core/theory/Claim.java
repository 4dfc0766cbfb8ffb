package dev.loraone.core.theory;

/** One of the paper's claims, checked on a run: what it states, whether it held, and the numbers. */
public record Claim(String statement, boolean holds, String evidence) {}
