package dev.loraone.worker.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.loraone.protocol.tensor.TensorMatrices;
import dev.loraone.core.init.InitResult;
import dev.loraone.core.init.LoraOneInit;
import dev.loraone.core.init.ShardedGradientInit;
import dev.loraone.core.linalg.Matrices;
import dev.loraone.core.lora.LoraShape;
import dev.loraone.core.svd.RandomizedSvdRounds;
import dev.loraone.core.svd.SvdRequest;
import dev.loraone.data.MicroBatchPlan;
import dev.loraone.data.TextTokenizer;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.TensorBlob;
import dev.loraone.protocol.wire.CoordinatorMessage.JobJoined;
import dev.loraone.protocol.wire.JobId;
import dev.loraone.protocol.wire.SketchSide;
import dev.loraone.protocol.wire.WorkerId;
import dev.loraone.worker.model.BertLoraModel;
import dev.loraone.worker.model.LoraConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The worker's DJL work against the single-process path it must reproduce bit for bit: the single-process path's
 * construction is spelled out here ({@link Reference}) and fed the same addresses. Real MiniLM and
 * WordNet at a tiny size (3 examples per class, rank 4 on query and value, 2 init micro-batches in
 * 2 shards).
 */
class WorkerEngineTest {
  private static final long SEED = 7;

  static Map<String, Object> tinyJob(String init) {
    Map<String, Object> m = new HashMap<>();
    m.put("model", "minilm");
    m.put("task", TaskData.WORDNET);
    m.put("data.max-per-class", 3);
    m.put("lora.rank", 4);
    m.put("lora.targets", "query,value");
    m.put("lora.dropout", 0.0); // see gradientsSurviveGarbageCollectionWithAdapterDropout
    m.put("init.method", init);
    m.put("init.batch", 2);
    m.put("init.iters", 2);
    m.put("init.shards", 2);
    m.put("train.steps", 2);
    m.put("train.batch", 8);
    m.put("train.micro-batch", 4);
    m.put("train.max-length", 16);
    m.put("eval.examples", 40);
    m.put("seed", SEED);
    return m;
  }

  private static JobSpec spec;
  private static WorkerEngine engine;
  private static Reference ref;

  @BeforeAll
  static void open() throws IOException {
    spec = JobSpec.of(tinyJob("lora-one"));
    engine = WorkerEngine.open(spec);
    ref = new Reference(FinetuneConfig.fromJob(spec));
  }

  @AfterAll
  static void close() {
    if (engine != null) engine.close();
    if (ref != null) ref.close();
  }

  @Test
  void shardProductsSummedInShardOrderGiveTheSingleProcessInitBitForBit() {
    FinetuneConfig cfg = engine.config();
    engine.setAdapters(3, randomAdapters(engine.layout(), cfg.rank(), 31)); // computeShard must undo this
    assertTrue(engine.computeShard(0, new int[] {0}) > 0, "a mean cross-entropy");
    double loss1 = engine.computeShard(1, new int[] {1});
    assertEquals(loss1, engine.computeShard(1, new int[] {1}), "a held shard answers with its stored loss");

    // The coordinator's side: drive lora-core's rounds with the sum of the shard products in shard order.
    ShardedGradientInit.Settings settings = cfg.initSettings();
    List<EngineLayout.ModuleShape> modules = engine.layout().modules();
    Map<String, InitResult> distributed = new LinkedHashMap<>();
    for (int i = 0; i < modules.size(); i++) {
      EngineLayout.ModuleShape m = modules.get(i);
      RandomizedSvdRounds rounds = ShardedGradientInit.rounds(m.out(), m.in(), i, settings);
      while (!rounds.isDone()) {
        SvdRequest req = rounds.request();
        SketchSide side = req instanceof SvdRequest.Right ? SketchSide.RIGHT : SketchSide.LEFT;
        List<DMatrixRMaj> products = new ArrayList<>();
        for (int s = 0; s < cfg.initShards(); s++) {
          products.add(TensorMatrices.matrix(engine.sketch(s, m.name(), side, TensorMatrices.f64(req.operand()))));
        }
        rounds = rounds.accept(Matrices.sumInOrder(products));
      }
      distributed.put(m.name(), LoraOneInit.fromGradientSvd(m.name(), rounds.result(),
          settings.params().gammaOr(LoraOneInit.DEFAULT_STABLE_GAMMA)));
    }

    // The single-process path: GradientShards over the same micro-batches, then AdapterInit.
    ref.set(ref.initial); // other tests may have trained it; the engine restores its own by itself
    Map<String, List<DMatrixRMaj>> sums = ref.gradientShards();
    AdapterInit.apply(ref.model, sums, cfg.initIters(), cfg);
    for (int i = 0; i < modules.size(); i++) {
      String m = modules.get(i).name();
      InitResult d = distributed.get(m);
      InitResult single =
          ShardedGradientInit.init(
              m,
              i,
              new LoraShape(modules.get(i).out(), modules.get(i).in(), cfg.rank()),
              sums.get(m),
              cfg.initIters(),
              null,
              settings);
      assertArrayEquals(single.a().data, d.a().data, m + " A0 (double)");
      assertArrayEquals(single.b().data, d.b().data, m + " B0 (double)");
      assertArrayEquals(ref.model.getLoraA(m), AdapterState.floats(d.a()), m + " A0 in the model");
      assertArrayEquals(ref.model.getLoraB(m), AdapterState.floats(d.b()), m + " B0 in the model");
    }
    assertTrue(
        Arrays.stream(distributed.values().iterator().next().b().data).anyMatch(v -> v != 0),
        "B0 is not trivially zero");
  }

  @Test
  void gradientsAfterSetAdaptersEqualTheReferenceSteppersBitForBit() {
    Map<String, TensorBlob> values = randomAdapters(engine.layout(), engine.config().rank(), 11);
    engine.setAdapters(1, values);
    assertEquals(1, engine.adapterStep());
    ref.set(values);
    for (long g : new long[] {3, 23}) { // 23: in epoch 1 (78 examples make 20 micro-batches of 4)
      WorkerEngine.Gradients got = engine.gradients(g);
      ClassificationBatch batch = ref.batches.of(g, ref.plan.microBatch(g));
      BertStepper.LoraGradients want = ref.stepper.loraGradients(batch, DropoutSeeds.of(SEED, g));
      assertEquals(want.loss(), got.lossSum(), "micro-batch " + g + " loss term: the mean loss");
      assertEquals(1.0, got.weight(), "a classifier's micro-batch weighs 1");
      assertEquals(
          Workload.TrainUnit.withPadding(batch.tokens().attentionMask(), Map.of("correct", (double) want.correct())),
          got.metrics(), "correct predictions, attended positions and padded slots");
      assertEquals(want.examples(), got.examples());
      assertEquals(values.keySet(), got.grads().keySet(), "gradients use the adapters' keys");
      for (String m : ref.model.adaptedModules()) {
        assertArrayEquals(
            want.adapters().get(m)[0],
            got.grads().get(m + ".lora_A").toFloats(),
            m + " dA, micro-batch " + g);
        assertArrayEquals(
            want.adapters().get(m)[1],
            got.grads().get(m + ".lora_B").toFloats(),
            m + " dB, micro-batch " + g);
        assertArrayEquals(values.get(m + ".lora_A").shape(), got.grads().get(m + ".lora_A").shape());
      }
      for (String h : List.of("classifier.weight", "classifier.bias")) {
        assertArrayEquals(want.head().get(h), got.grads().get(h).toFloats(), h);
      }
    }
    Workload.EvalUnit e = engine.evaluate(0);
    BertStepper.Evaluation want = ref.stepper.evaluate(ref.batches.ofEval(range(0, 26)));
    assertEquals(want.lossSum(), e.lossSum());
    assertEquals(26.0, e.weight(), "the loss sums over examples");
    assertEquals(Map.of("correct", (double) want.correct()), e.sums());
    assertEquals(26, e.examples(), "eval.examples = 40 capped by the 26 evaluation examples: one batch");
    assertThrows(IllegalArgumentException.class, () -> engine.evaluate(1));
  }

  @Test
  void unitsEncodedAheadOnAnotherThreadComputeBitForBitAsEncodedInline() throws Exception {
    ExecutorService encoder = Executors.newSingleThreadExecutor();
    try {
      Future<Encoded> train = encoder.submit(() -> engine.encodeGradients(23));
      Future<Encoded> eval = encoder.submit(() -> engine.encodeEvaluation(0));
      Future<Encoded> init = encoder.submit(() -> engine.encodeShard(new int[] {1, 0}));
      Map<String, TensorBlob> values = randomAdapters(engine.layout(), engine.config().rank(), 13);
      engine.setAdapters(2, values); // DJL work while the encoder runs

      WorkerEngine.Gradients ahead = engine.gradients(23, train.get());
      WorkerEngine.Gradients inline = engine.gradients(23);
      assertEquals(inline.grads(), ahead.grads(), "gradients, bit for bit");
      assertEquals(inline.lossSum(), ahead.lossSum());
      assertEquals(inline.metrics(), ahead.metrics());
      assertEquals(inline.examples(), ahead.examples());
      assertEquals(engine.evaluate(0), engine.evaluate(0, eval.get()));
      IllegalArgumentException other =
          assertThrows(IllegalArgumentException.class, () -> engine.gradients(24, train.get()));
      assertTrue(other.getMessage().contains("training micro-batch 23"), other.getMessage());

      double lossAhead = engine.computeShard(7, new int[] {1, 0}, init.get()); // 7, 8: beside the other tests' 0, 1
      assertEquals(engine.computeShard(8, new int[] {1, 0}), lossAhead);
      EngineLayout.ModuleShape m = engine.layout().modules().get(0);
      DMatrixRMaj x = org.ejml.dense.row.RandomMatrices_DDRM.rectangle(m.in(), 3, new java.util.Random(5));
      assertEquals(engine.sketch(8, m.name(), SketchSide.RIGHT, TensorMatrices.f64(x)),
          engine.sketch(7, m.name(), SketchSide.RIGHT, TensorMatrices.f64(x)), "shard sums, bit for bit");
    } finally {
      encoder.shutdownNow();
    }
  }

  @Test
  void enginesOpenedFromTheSameSpecHoldTheSameLayout() throws IOException {
    JobSpec pissa = JobSpec.of(tinyJob("pissa"));
    EngineLayout a;
    EngineLayout b;
    try (WorkerEngine e = WorkerEngine.open(pissa)) {
      a = e.layout();
      assertThrows(IllegalStateException.class, () -> e.computeShard(0, new int[] {0}), "PiSSA needs no gradient");
    }
    try (WorkerEngine e = WorkerEngine.open(pissa)) {
      b = e.layout();
    }
    assertEquals(a, b);
    assertTrue(a.initModifiedBase(), "PiSSA moves part of W0 into the adapter");
    assertEquals(2 * a.modules().size(), a.init().size(), "A0 and B0 of every module travel in the layout");
    assertEquals(engine.layout().modules(), a.modules());
    assertEquals(engine.layout().head(), a.head(), "the head init depends on the seed only");
    assertEquals(engine.modelHash(), a.modelHash());
    assertTrue(engine.layout().init().isEmpty(), "LoRA-One's init is the coordinator's");

    JobJoined joined = new JobJoined(new JobId("j"), new WorkerId("w"), a.toWire());
    List<String> names = a.modules().stream().map(EngineLayout.ModuleShape::name).toList();
    assertEquals(names, joined.modules(), "model order survives the sorted wire map");
    EngineLayout.ModuleShape q0 = a.modules().get(0);
    assertArrayEquals(new int[] {q0.out(), q0.in()}, joined.shape(q0.name()));
    assertEquals(a.init(), joined.initAdapters());
    assertEquals(a.head(), joined.head());
    assertTrue(joined.initModifiesBase());
    assertEquals(a.labels(), joined.labels());
    assertEquals(26, joined.labels().size());
    assertEquals(78, joined.trainExamples());
    assertEquals(26, joined.evalExamples(), "eval.examples = 40 capped by the 26 evaluation examples");
    assertEquals(a.modelHash(), joined.modelHash());
    assertEquals(
        "sentence-transformers/all-MiniLM-L6-v2",
        new String(
            joined.layout().get(JobJoined.MODEL_ID).bytes(),
            java.nio.charset.StandardCharsets.UTF_8));
  }

  @Test
  void exportWritesTheMergedModelAndNamesEachFileWithItsSha256(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Map<String, TensorBlob> values = randomAdapters(engine.layout(), engine.config().rank(), 21);
    Map<String, String> files = engine.exportOnnx(dir, values, engine.labels());
    assertEquals(java.util.Set.of(Artifacts.ONNX_FILE, Artifacts.TOKENIZER_FILE), files.keySet());
    for (Map.Entry<String, String> f : files.entrySet()) {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(java.nio.file.Files.readAllBytes(dir.resolve(f.getKey())));
      assertEquals(java.util.HexFormat.of().formatHex(digest), f.getValue(), f.getKey());
    }
    assertEquals(values, engine.adapters(), "the model holds the exported adapters");
    assertEquals(-1, engine.adapterStep(), "values of no announced step");
  }

  /**
   * LoRA-GA runs on each worker (InitMethod.initOnCoordinator is false): every init shard summed here,
   * then the exact init, W0 moved; two workers opening the job get the same layout bits, and the
   * single-process path (init from the same shards, computed after opening) the same factors.
   */
  @Test
  void loraGaRunsWhereTheJobOpensAndGivesEveryWorkerTheSameInit() throws IOException {
    Map<String, Object> m = tinyJob("lora-ga");
    m.put("lora.rank", 2);
    m.put("head.warmup-steps", 2);
    try (WorkerEngine a = WorkerEngine.open(JobSpec.of(m)); WorkerEngine b = WorkerEngine.open(JobSpec.of(m))) {
      EngineLayout la = a.layout();
      assertTrue(la.initModifiedBase(), "LoRA-GA moves s B0 A0 out of W0");
      assertEquals(2 * la.modules().size(), la.init().size(), "A0 and B0 of every module in the layout");
      assertEquals(la.toWire(), b.layout().toWire(), "the same bits on two workers");
      assertNotNull(a.initPairs());
      assertFalse(a.holdsShard(0), "the shard sums are released after the init");
      Map<String, TensorBlob> head = la.head();
      m.put("head.warmup-steps", 0);
      try (WorkerEngine cold = WorkerEngine.open(JobSpec.of(m))) {
        assertNotEquals(cold.layout().head(), head, "the warmed head is in the layout the coordinator starts from");
      }
    }
  }

  @Test
  void sketchOperandsAreCheckedAndF64RoundTripsEveryBit() {
    DMatrixRMaj x = Matrices.gaussian(3, 2, new java.util.Random(1), 1.0);
    x.set(0, 0, Math.nextUp(1.0));
    assertArrayEquals(x.data, TensorMatrices.matrix(TensorMatrices.f64(x)).data);
    assertThrows(
        IllegalStateException.class,
        () ->
            engine.sketch(
                9,
                engine.layout().modules().get(0).name(),
                SketchSide.RIGHT,
                TensorMatrices.f64(x)),
        "shard 9 is not held");
  }

  /**
   * Adapter dropout with garbage collections between micro-batches gives the same gradients for the
   * same adapters and micro-batch. This loop was the reproducer of the gradient corruption that
   * {@code Owned.scalar} fixed: DJL's {@code mul(Number)} (the LoRA scaling) and {@code div(Number)}
   * (attention's 1/sqrt(d)) fed autograd a scalar over a Java direct buffer that a GC freed before
   * backward ({@code GcDuringBackwardTest} shows it deterministically).
   */
  @Test
  void gradientsSurviveGarbageCollectionWithAdapterDropout() throws Exception {
    Map<String, Object> job = tinyJob("lora-one");
    job.put("lora.dropout", 0.1);
    try (WorkerEngine e = WorkerEngine.open(JobSpec.of(job))) {
      Map<Integer, WorkerEngine.Gradients> first = new HashMap<>();
      for (int it = 0; it < 12; it++) {
        e.setAdapters(1, randomAdapters(e.layout(), 4, 11 + it % 3));
        if (it % 2 == 0) System.gc();
        WorkerEngine.Gradients g = e.gradients(3);
        e.gradients(3);
        WorkerEngine.Gradients want = first.putIfAbsent(it % 3, g);
        if (want != null)
          assertEquals(
              want.grads(), g.grads(), "iteration " + it + ": same adapters, same micro-batch");
      }
    }
  }

  /** Adapters and head of the layout's shapes with seeded values, B non-zero so every path carries gradient. */
  static Map<String, TensorBlob> randomAdapters(EngineLayout layout, int r, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, TensorBlob> v = new LinkedHashMap<>();
    for (EngineLayout.ModuleShape m : layout.modules()) {
      v.put(m.name() + ".lora_A", floats(rnd, 0.1, r, m.in()));
      v.put(m.name() + ".lora_B", floats(rnd, 0.02, m.out(), r));
    }
    TensorBlob w = layout.head().get("classifier.weight");
    long[] ws = w.shape();
    v.put("classifier.weight", floats(rnd, 0.05, ws[0], ws[1]));
    v.put("classifier.bias", TensorBlob.ofFloats(new long[] {ws[0]}, floats(rnd, 0.01, 1, ws[0]).toFloats()));
    return v;
  }

  private static TensorBlob floats(SplittableRandom rnd, double scale, long rows, long cols) {
    float[] f = new float[Math.toIntExact(rows * cols)];
    for (int i = 0; i < f.length; i++) f[i] = (float) ((rnd.nextDouble() - 0.5) * 2 * scale);
    return TensorBlob.ofFloats(new long[] {rows, cols}, f);
  }

  private static int[] range(int from, int to) {
    int[] r = new int[to - from];
    for (int i = 0; i < r.length; i++) r[i] = from + i;
    return r;
  }

  /** the single-process path's construction spelled out: the single-process path the engine must match. */
  static final class Reference implements AutoCloseable {
    final FinetuneConfig cfg;
    final BertLoraModel model;
    final BertStepper stepper;
    final TextTokenizer tok;
    final Batches batches;
    final MicroBatchPlan plan;

    Reference(FinetuneConfig cfg) throws IOException {
      this.cfg = cfg;
      TaskData task = TaskData.load(cfg.task(), cfg.evalFile(), cfg.maxPerClass(), cfg.seed(), cfg.onBadRecord());
      BertSource source = BertSource.resolve(cfg.model());
      LoraConfig lora = LoraConfig.of(cfg.rank(), cfg.alpha(), cfg.rslora(), cfg.dropout(), cfg.seed(), cfg.targets());
      model =
          BertLoraModel.fromPretrained(
              source.config(),
              lora,
              new BertLoraModel.Head.Classification(task.labels().size()),
              source.weights());
      stepper = new BertStepper(model);
      try (InputStream in = source.openTokenizer()) {
        tok = TextTokenizer.fromJson(in, cfg.maxLength());
      }
      if (cfg.labelsHead()) {
        LabelHead.write(model, ai.djl.Device.cpu(), tok, LabelHead.texts(cfg.model(), task, cfg.labels()),
            cfg.headTemperature());
      }
      batches = new Batches(tok, task);
      plan = new MicroBatchPlan(task.train().size(), cfg.microBatch(), cfg.seed());
      initial = new LinkedHashMap<>();
      for (String m : model.adaptedModules()) {
        var lin = model.linear(m);
        initial.put(m + ".lora_A", TensorBlob.ofFloats(new long[] {lin.rank(), lin.inFeatures()}, model.getLoraA(m)));
        initial.put(m + ".lora_B", TensorBlob.ofFloats(new long[] {lin.outFeatures(), lin.rank()}, model.getLoraB(m)));
      }
      for (String h : List.of("classifier.weight", "classifier.bias")) {
        var a = model.namedParameters().get(h).getArray();
        initial.put(h, TensorBlob.ofFloats(a.getShape().getShape(), a.toFloatArray()));
      }
    }

    /**
     * The untrained adapters and head, as the single-process path's model holds them when it
     * estimates the gradient.
     */
    final Map<String, TensorBlob> initial;

    /** The single-process gradient estimate. */
    Map<String, List<DMatrixRMaj>> gradientShards() {
      int[] order = plan.permutation(0);
      GradientShards shards = new GradientShards(cfg.initShards(), cfg.initIters());
      Map<String, int[]> shapes = AdapterInit.shapes(model);
      for (int i = 0; i < cfg.initIters(); i++) {
        int[] idx = Arrays.copyOfRange(order, i * cfg.initBatch(), (i + 1) * cfg.initBatch());
        shards.add(i, stepper.fullGradients(batches.of(-1 - i, idx)).weights(), shapes);
      }
      return shards.sums();
    }

    void set(Map<String, TensorBlob> values) {
      for (String m : model.adaptedModules()) {
        model.setLoraA(m, values.get(m + ".lora_A").toFloats());
        model.setLoraB(m, values.get(m + ".lora_B").toFloats());
      }
      for (String h : List.of("classifier.weight", "classifier.bias")) {
        model.namedParameters().get(h).getArray().set(values.get(h).toFloats());
      }
    }

    @Override
    public void close() {
      tok.close();
      stepper.close();
    }
  }
}
