/**
 * The Pekko Streams layer over {@link dev.loraone.data}: units of work encoded (tokenised) ahead of
 * their compute.
 *
 * <ul>
 *   <li>{@link dev.loraone.data.stream.EncodeAhead}: a bounded, back-pressured two-stage stream,
 *       encoding on one executor ahead of compute on another, results in submission order; the
 *       worker actor runs each job's units through one.
 *   <li>{@link dev.loraone.data.stream.Prefetch}: how far it runs ahead.
 * </ul>
 */
package dev.loraone.data.stream;
