package dev.loraone.worker.train;

import ai.djl.Device;
import dev.loraone.data.TextTokenizer;
import dev.loraone.worker.export.OnnxExport;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import dev.loraone.worker.model.ModelFamily;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Sequence classification on a BERT-family encoder: {@code {text,label}} data or the built-in
 * WordNet supersense task, a {@code classifier} head {@code [C,H] + [C]} trained beside the
 * adapters, softmax cross-entropy averaged over each micro-batch. The head starts as the zero-shot
 * classifier of the label texts ({@link LabelHead}, {@code head.init = labels}, the default) or random.
 */
final class ClassificationWorkload implements Workload {
  static final List<String> HEAD = List.of("classifier.weight", "classifier.bias");

  private final TaskData task;
  private final BertSource source;
  private final BertStepper stepper;
  private final TextTokenizer tok;
  private final Batches batches;
  private final String modelHash;

  private ClassificationWorkload(
      TaskData task, BertSource source, BertStepper stepper, TextTokenizer tok, String modelHash) {
    this.task = task;
    this.source = source;
    this.stepper = stepper;
    this.tok = tok;
    this.batches = new Batches(tok, task);
    this.modelHash = modelHash;
  }

  /** Loads data and model; the base weights' heap copy stays with {@link BaseModels} for the next job. */
  static ClassificationWorkload open(FinetuneConfig cfg, Device device) throws IOException {
    TaskData task = TaskData.load(cfg.task(), cfg.evalFile(), cfg.maxPerClass(), cfg.seed(), cfg.onBadRecord());
    if (cfg.labels() != null && !cfg.labelsHead()) {
      throw new IllegalArgumentException("'job.task.labels' = " + cfg.labels()
          + " is read only with head.init = labels, not 'job.head.init' = " + cfg.headInit());
    }
    List<String> labelTexts = cfg.labelsHead() ? LabelHead.texts(cfg.model(), task, cfg.labels()) : null;
    BaseModels.Bert base = BaseModels.bert(cfg.model());
    BertSource full = base.source();
    String hash = base.hash();
    LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), cfg.dropout(), cfg.seed(), cfg.targets());
    BertLoraModel model = BertLoraModel.fromPretrained(full.config(), lora,
        new BertLoraModel.Head.Classification(task.labels().size()), full.weights());
    Targets.check(cfg, model, "encoder.layer.N");
    BertSource source = new BertSource(full.id(), full.config(), Map.of(), full.tokenizer());
    BertStepper stepper = new BertStepper(model, device);
    ClassificationWorkload work;
    try (InputStream json = source.openTokenizer()) {
      work = new ClassificationWorkload(task, source, stepper, TextTokenizer.fromJson(json, cfg.maxLength()), hash);
    } catch (IOException | RuntimeException e) {
      stepper.close();
      throw e;
    }
    if (labelTexts != null) {
      try {
        LabelHead.write(model, device, work.tok, labelTexts, cfg.headTemperature(), hash);
      } catch (RuntimeException e) {
        work.close();
        throw e;
      }
    }
    return work;
  }

  @Override
  public String modelHash() {
    return modelHash;
  }

  TaskData task() {
    return task;
  }

  BertSource source() {
    return source;
  }

  Batches batches() {
    return batches;
  }

  @Override
  public String taskType() {
    return "classification";
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
    return task.labels().labels();
  }

  @Override
  public List<String> headNames() {
    return HEAD;
  }

  /** A tokenised micro-batch or evaluation batch: this workload's {@link Input}. */
  private record Tokens(ClassificationBatch batch) implements Input {}

  @Override
  public Input encodeInit(int i, int[] idx) {
    return new Tokens(batches.of(-1 - i, idx));
  }

  @Override
  public Input encodeTrain(long index, int[] idx) {
    return new Tokens(batches.of(index, idx));
  }

  @Override
  public int trainLength(int i) {
    return tok.ids(task.train().get(i).text(), true).length;
  }

  @Override
  public Input encodeEval(int[] idx) {
    return new Tokens(batches.ofEval(idx));
  }

  @Override
  public InitUnit initGradients(Input batch, List<String> modules) {
    BertStepper.FullGradients g = stepper.fullGradients(tokens(batch), modules);
    return new InitUnit(g.loss(), g.weights());
  }

  @Override
  public TrainUnit loraGradients(Input batch, long dropoutSeed) {
    BertStepper.LoraGradients g = stepper.loraGradients(tokens(batch), dropoutSeed);
    Map<String, Double> metrics = Workload.TrainUnit.withPadding(tokens(batch).tokens().attentionMask(),
        Map.of("correct", (double) g.correct()));
    return new TrainUnit(g.loss(), 1, g.examples(), metrics, g.adapters(), g.head());
  }

  @Override
  public EvalUnit evaluate(Input examples) {
    BertStepper.Evaluation e = stepper.evaluate(tokens(examples));
    return new EvalUnit(e.lossSum(), e.examples(), e.examples(), Map.of("correct", (double) e.correct()));
  }

  private static ClassificationBatch tokens(Input in) {
    if (in instanceof Tokens t) return t.batch();
    throw new IllegalArgumentException("a classification workload computes its own encoded batches, not " + in);
  }

  @Override
  public int evalExample(int j, int n) {
    return task.evalExample(j, n);
  }

  @Override
  public OnnxExport exportOnnx(Path dir, List<String> labels) throws IOException {
    return Artifacts.writeOnnx(stepper.model(), labels, source, dir);
  }

  @Override
  public void close() {
    try {
      tok.close();
    } finally {
      stepper.close();
    }
  }
}
