/**
 * The Pekko Streams layer over {@link dev.loraone.data}: dataset files as sources, micro-batches
 * as streams addressed by global index.
 *
 * <ul>
 *   <li>{@link dev.loraone.data.stream.ExampleSource}: a file's examples through
 *       {@link dev.loraone.data.ExampleReader}, closed with the stream, bad records failing the
 *       stream or counted in the materialised {@link dev.loraone.data.stream.ReadReport}.
 *   <li>{@link dev.loraone.data.stream.MicroBatchSource}: {@link dev.loraone.data.MicroBatchPlan}
 *       addressing, tokenisation by a {@link dev.loraone.data.stream.MicroBatchEncoder} on a
 *       dedicated executor with order-preserving {@code mapAsync}, and bounded prefetch
 *       ({@link dev.loraone.data.stream.Prefetch}); elements are
 *       {@link dev.loraone.data.stream.MicroBatch}es of
 *       {@link dev.loraone.data.stream.LabelledTokenBatch} or {@link dev.loraone.data.CausalLmBatch}.
 * </ul>
 */
package dev.loraone.data.stream;
