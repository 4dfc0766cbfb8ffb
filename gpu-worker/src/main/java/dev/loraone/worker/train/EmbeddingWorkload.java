package dev.loraone.worker.train;

import ai.djl.Device;
import dev.loraone.data.Example;
import dev.loraone.data.TextTokenizer;
import dev.loraone.data.TokenBatch;
import dev.loraone.protocol.job.TaskMetrics;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.ModelFamily;
import dev.loraone.worker.weights.Pooling;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sentence embeddings on a BERT-family encoder for retrieval: {@code {query, positive[, negative]}}
 * pairs or the built-in WordNet gloss retrieval, trained with in-batch negatives
 * ({@link EmbeddingStepper}) under the model's own pooling and L2 normalisation (MiniLM: mean,
 * BGE: CLS), no head.
 *
 * <pre>
 *   unit        loss term L                          weight   metrics (sums)
 *   training    mean in-batch-negatives loss         1        none
 *   evaluation  sum_q CE(scale * cos(q, corpus))     queries  recall@1, recall@10, mrr@10, ndcg@10 (RetrievalMetrics)
 *   corpus      the positives of the first n = min(eval.examples, eval set) eval pairs, then task.corpus,
 *               each distinct text once; embedded in chunks of 32 in corpus order
 * </pre>
 * An evaluation batch scores its queries against every corpus document, so the corpus embeddings
 * are computed once per adapter values and kept: the first batch after the adapters change
 * computes them (on any worker, the same chunks in the same order, so the same bits), later batches
 * reuse them. The pool of the training loss is the micro-batch, so a unit does not depend on the
 * worker count.
 */
final class EmbeddingWorkload implements Workload {
  private final EmbeddingTask task;
  private final BertSource source;
  private final EmbeddingStepper stepper;
  private final TextTokenizer tok;
  private final double scale;
  private final String modelHash;
  private final int evalCount;
  private final List<String> corpus;
  private final Map<String, Integer> docIndex;
  private final List<TokenBatch> corpusChunks;
  private float[][] corpusAdapters;
  private float[][] corpusEmbeddings;

  private AutoCloseable base = () -> { };

  private EmbeddingWorkload(EmbeddingTask task, BertSource source, EmbeddingStepper stepper, TextTokenizer tok,
      FinetuneConfig cfg, String modelHash) {
    this.task = task;
    this.source = source;
    this.stepper = stepper;
    this.tok = tok;
    this.scale = cfg.scale();
    this.modelHash = modelHash;
    this.evalCount = Math.min(cfg.evalExamples(), task.eval().size());
    Map<String, Integer> index = new LinkedHashMap<>();
    for (int j = 0; j < evalCount; j++) {
      index.putIfAbsent(task.eval().get(task.evalExample(j, evalCount)).positive(), index.size());
    }
    for (String doc : task.corpus()) index.putIfAbsent(doc, index.size());
    this.docIndex = Map.copyOf(index);
    this.corpus = List.copyOf(index.keySet());
    List<TokenBatch> chunks = new ArrayList<>();
    for (int from = 0; from < corpus.size(); from += JobJoined.EVAL_BATCH) {
      chunks.add(tok.encode(corpus.subList(from, Math.min(corpus.size(), from + JobJoined.EVAL_BATCH))));
    }
    this.corpusChunks = List.copyOf(chunks);
  }

  /** Loads data and model (pooling: the model's sentence-embedding convention, {@link Pooling}). */
  static EmbeddingWorkload open(FinetuneConfig cfg, Device device) throws IOException {
    if (cfg.headOnly()) {
      throw new IllegalArgumentException("'job.lora.targets' = " + cfg.targets() + ": an embedding model has no task"
          + " head to train alone; name the modules to adapt (e.g. query,value or all-linear)");
    }
    EmbeddingTask task = EmbeddingTask.load(cfg.task(), cfg.evalFile(), cfg.corpus(), cfg.onBadRecord());
    Pooling pooling = BertSource.pooling(cfg.model());
    BaseModels.Lease<BertSource> base = BaseModels.bert(cfg.model(), device);
    BertSource source = base.source();
    String hash = base.hash();
    EmbeddingStepper stepper;
    try {
      LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), cfg.dropout(), cfg.seed(),
          cfg.targets());
      BertLoraModel model = BertLoraModel.fromShared(source.config(), lora,
          new BertLoraModel.Head.Embedding(pooling), base.arrays());
      Targets.check(cfg, model, "encoder.layer.N");
      stepper = new EmbeddingStepper(model, device);
    } catch (RuntimeException e) {
      base.close();
      throw e;
    }
    try (InputStream json = source.openTokenizer()) {
      TextTokenizer tok = TextTokenizer.fromJson(json, cfg.maxLength());
      try {
        EmbeddingWorkload work = new EmbeddingWorkload(task, source, stepper, tok, cfg, hash);
        work.base = base;
        return work;
      } catch (RuntimeException e) {
        tok.close();
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      stepper.close();
      base.close();
      throw e;
    }
  }

  @Override
  public String modelHash() {
    return modelHash;
  }

  EmbeddingTask task() {
    return task;
  }

  @Override
  public String taskType() {
    return TaskMetrics.EMBEDDING;
  }

  @Override
  public BertLoraModel model() {
    return stepper.model();
  }

  /** The Hub id of a built-in model ({@code sentence-transformers/all-MiniLM-L6-v2}), else the folder's name. */
  @Override
  public String modelId() {
    return ModelFamily.BUILT_IN.contains(source.id()) ? BertSource.known(source.id()).hubId() : source.id();
  }

  @Override
  public int trainSize() {
    return task.train().size();
  }

  @Override
  public int evalSize() {
    return task.eval().size();
  }

  @Override
  public List<String> labels() {
    return List.of();
  }

  @Override
  public List<String> headNames() {
    return List.of();
  }

  /** A micro-batch of pairs as one token batch ({@link EmbeddingStepper.PairBatch}). */
  private record Pairs(EmbeddingStepper.PairBatch batch) implements Input {}

  /** Evaluation queries and the corpus index of each one's positive. */
  private record Queries(TokenBatch tokens, int[] relevant) implements Input {}

  @Override
  public Input encodeInit(int i, int[] idx) {
    return pairs(idx);
  }

  @Override
  public Input encodeTrain(long index, int[] idx) {
    return pairs(idx);
  }

  private Input pairs(int[] idx) {
    List<String> queries = new ArrayList<>(idx.length);
    List<String> positives = new ArrayList<>(idx.length);
    List<String> negatives = new ArrayList<>();
    for (int i : idx) {
      Example.Pair p = task.train().get(i);
      queries.add(p.query());
      positives.add(p.positive());
      if (p.hasNegative()) negatives.add(p.negative());
    }
    List<String> rows = new ArrayList<>(queries);
    rows.addAll(positives);
    rows.addAll(negatives);
    return new Pairs(new EmbeddingStepper.PairBatch(tok.encode(rows), idx.length,
        EmbeddingStepper.PairBatch.duplicates(positives, negatives)));
  }

  @Override
  public Input encodeEval(int[] idx) {
    List<String> queries = new ArrayList<>(idx.length);
    int[] relevant = new int[idx.length];
    for (int i = 0; i < idx.length; i++) {
      Example.Pair p = task.eval().get(idx[i]);
      queries.add(p.query());
      Integer d = docIndex.get(p.positive());
      if (d == null) {
        throw new IllegalArgumentException("evaluation pair " + idx[i] + " (" + p.source() + ") is not among the first "
            + evalCount + " of the eval set, whose positives make the corpus");
      }
      relevant[i] = d;
    }
    return new Queries(tok.encode(queries), relevant);
  }

  @Override
  public double initGradients(Input batch, List<String> modules, GradientSink sink) {
    return stepper.fullGradients(pairs(batch), scale, modules, sink);
  }

  @Override
  public TrainUnit loraGradients(Input batch, long dropoutSeed) {
    EmbeddingStepper.LoraGradients g = stepper.loraGradients(pairs(batch), dropoutSeed, scale);
    return new TrainUnit(g.loss(), 1, g.examples(), Map.of(), g.adapters(), Map.of());
  }

  @Override
  public EvalUnit evaluate(Input examples) {
    if (!(examples instanceof Queries q)) {
      throw new IllegalArgumentException("an embedding workload evaluates its own encoded queries, not " + examples);
    }
    float[][] docs = corpusEmbeddings();
    float[][] queries = stepper.embed(q.tokens());
    double lossSum = 0;
    Map<String, Double> sums = new TreeMap<>();
    for (String m : TaskMetrics.RETRIEVAL) sums.put(m, 0.0);
    for (int i = 0; i < queries.length; i++) { // queries in batch order: the sums' order on every worker
      double[] s = RetrievalMetrics.scores(queries[i], docs);
      lossSum += RetrievalMetrics.crossEntropy(s, q.relevant()[i], scale);
      int rank = RetrievalMetrics.rank(s, q.relevant()[i]);
      RetrievalMetrics.atRank(rank).forEach((k, v) -> sums.merge(k, v, Double::sum));
    }
    return new EvalUnit(lossSum, queries.length, queries.length, sums);
  }

  /** The corpus' unit embeddings under the adapters in the model now: kept until the adapters change. */
  private float[][] corpusEmbeddings() {
    float[][] now = adapterValues();
    if (corpusEmbeddings == null || !Arrays.deepEquals(now, corpusAdapters)) {
      List<float[]> rows = new ArrayList<>(corpus.size());
      for (TokenBatch chunk : corpusChunks) rows.addAll(Arrays.asList(stepper.embed(chunk)));
      corpusEmbeddings = rows.toArray(new float[0][]);
      corpusAdapters = now;
    }
    return corpusEmbeddings;
  }

  /** Every adapter's A and B as the model holds them: what the corpus embeddings depend on besides fixed W0. */
  private float[][] adapterValues() {
    BertLoraModel model = stepper.model();
    List<String> modules = model.adaptedModules();
    float[][] out = new float[2 * modules.size()][];
    for (int i = 0; i < modules.size(); i++) {
      out[2 * i] = model.getLoraA(modules.get(i));
      out[2 * i + 1] = model.getLoraB(modules.get(i));
    }
    return out;
  }

  private static EmbeddingStepper.PairBatch pairs(Input in) {
    if (in instanceof Pairs p) return p.batch();
    throw new IllegalArgumentException("an embedding workload computes its own encoded pairs, not " + in);
  }

  @Override
  public int evalExample(int j, int n) {
    return task.evalExample(j, n);
  }

  /** The merged encoder with the embedding head: {@code last_hidden_state} first, as langchain4j reads it. */
  @Override
  public OnnxExport exportOnnx(Path dir, List<String> labels) throws IOException {
    return Artifacts.writeOnnx(stepper.model(), List.of(), source, dir);
  }

  @Override
  public void close() {
    try (AutoCloseable b = base; EmbeddingStepper s = stepper; TextTokenizer t = tok) {
      // closed in reverse order: the tokenizer, this job's arrays, then its hold on the shared base
    } catch (Exception e) {
      throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }
  }
}
