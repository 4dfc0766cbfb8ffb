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
  private final AutoCloseable base;

  private ClassificationWorkload(TaskData task, BertSource source, BertStepper stepper, TextTokenizer tok,
      String modelHash, AutoCloseable base) {
    this.base = base;
    this.task = task;
    this.source = source;
    this.stepper = stepper;
    this.tok = tok;
    this.batches = new Batches(tok, task);
    this.modelHash = modelHash;
  }

  /** Loads data and model; the model's base is the device's shared copy ({@link BaseModels}), held until close. */
  static ClassificationWorkload open(FinetuneConfig cfg, Device device) throws IOException {
    TaskData task = TaskData.load(cfg.task(), cfg.evalFile(), cfg.maxPerClass(), cfg.seed(), cfg.onBadRecord());
    if (cfg.labels() != null && !cfg.labelsHead()) {
      throw new IllegalArgumentException("'job.task.labels' = " + cfg.labels()
          + " is read only with head.init = labels, not 'job.head.init' = " + cfg.headInit());
    }
    List<String> labelTexts = cfg.labelsHead() ? LabelHead.texts(cfg.model(), task, cfg.labels()) : null;
    BaseModels.Lease<BertSource> base = BaseModels.bert(cfg.model(), device);
    BertSource source = base.source();
    String hash = base.hash();
    BertStepper stepper;
    try {
      LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), cfg.dropout(), cfg.seed(),
          cfg.targets());
      BertLoraModel model = BertLoraModel.fromShared(source.config(), lora,
          new BertLoraModel.Head.Classification(task.labels().size()), base.arrays());
      Targets.check(cfg, model, "encoder.layer.N");
      stepper = new BertStepper(model, device);
    } catch (RuntimeException e) {
      base.close();
      throw e;
    }
    ClassificationWorkload work;
    try (InputStream json = source.openTokenizer()) {
      work = new ClassificationWorkload(task, source, stepper, TextTokenizer.shared(json, cfg.maxLength()), hash,
          base);
    } catch (IOException | RuntimeException e) {
      stepper.close();
      base.close();
      throw e;
    }
    if (labelTexts != null) {
      try {
        LabelHead.write(work.model(), device, work.tok, labelTexts, cfg.headTemperature(), hash);
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
  public double initGradients(Input batch, List<String> modules, GradientSink sink) {
    return stepper.fullGradients(tokens(batch), modules, sink);
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
    try (AutoCloseable b = base; BertStepper s = stepper; TextTokenizer t = tok) {
      // closed in reverse order: the tokenizer, this job's arrays, then its hold on the shared base
    } catch (Exception e) {
      throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }
  }
}
