/**
 * The plain-Java data layer: datasets in, padded int64 batches out, with no Pekko and no DJL
 * engine (only DJL's tokenizer binding).
 *
 * <ul>
 *   <li>Records: {@link dev.loraone.data.Example} ({@code Classification}, {@code Generation},
 *       {@code Chat}, {@code Pair}), each with its {@link dev.loraone.data.SourceLocation}.
 *   <li>Readers: {@link dev.loraone.data.ExampleReader} for JSONL, CSV (RFC 4180) and TSV, strict
 *       UTF-8, errors as {@link dev.loraone.data.BadRecordException} naming file, line and key, and
 *       the {@link dev.loraone.data.OnBadRecord} policy; {@link dev.loraone.data.LabelVocabulary}
 *       for sorted dense class ids.
 *   <li>Built-in task: {@link dev.loraone.data.WordNetSupersense} (WordNet 3.1 gloss to
 *       supersense) with a {@link dev.loraone.data.SplitRule} split and
 *       {@link dev.loraone.data.ClassCounts}.
 *   <li>Tokenisation: {@link dev.loraone.data.TextTokenizer} ({@link dev.loraone.data.TokenBatch})
 *       and {@link dev.loraone.data.CausalLmEncoder} ({@link dev.loraone.data.CausalLmBatch}) over
 *       {@link dev.loraone.data.CausalLmRow}s; chats rendered by the model's
 *       {@link dev.loraone.data.ChatTemplate} (jinjava) into {@link dev.loraone.data.RenderedChat}.
 *   <li>Order: {@link dev.loraone.data.DeterministicShuffle} and
 *       {@link dev.loraone.data.MicroBatchPlan}, so any worker can materialise any micro-batch.
 * </ul>
 */
package dev.loraone.data;
