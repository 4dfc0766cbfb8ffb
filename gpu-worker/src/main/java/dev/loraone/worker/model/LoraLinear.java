package dev.loraone.worker.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;
import java.util.List;
import java.util.Map;

/**
 * A Linear layer with an optional LoRA adapter (Hu et al. 2021, arXiv:2106.09685):
 *
 * <pre>
 *   y = x W^T + b + s * ((dropout(x) A^T) B^T)
 *   x:[..,in]  W:[out,in]  b:[out]  A:[r,in]  B:[out,r]  y:[..,out]   dW = s * B A
 * </pre>
 *
 * W and b are the pretrained base (b is absent in bias-free projections such as Llama's); A and B
 * the adapter (A uniform(+-1/sqrt(in)) as PEFT's kaiming-uniform with a=sqrt(5), B zero, so the
 * adapter starts as a no-op). With rank 0 it is a plain linear layer. {@link #merge()} folds s*B*A
 * into W for export and inference and skips the adapter path until {@link #unmerge()}.
 *
 * <p>Dropout acts on the adapter input only, with a mask computed in Java from the seed under
 * {@link #DROPOUT_SEED} in the forward parameters (see {@link BertLoraModel#setDropoutSeed}),
 * mixed with this module's name.
 *
 * <p>When s is a power of two (rsLoRA with r = 4, 16, 64; alpha = 2r without rsLoRA) it multiplies
 * the rank-r intermediate {@code x A^T} instead of the output: exact either way, so the same bits,
 * on r columns instead of out. On that path a bias-free base's product is accumulated onto the adapter's
 * output in one GEMM ({@code addmm}), so no output-sized sum is formed.
 */
public final class LoraLinear extends AbstractBlock {

  /** Forward-parameter key of the per-forward dropout seed (a {@code Long}). */
  public static final String DROPOUT_SEED = "lora.dropout.seed";

  private final String module;
  private final int in;
  private final int out;
  private final int rank;
  private final float scaling;
  private final double dropout;
  private final long seed;
  private final Parameter weight;
  private final Parameter bias;
  private final Parameter loraA;
  private final Parameter loraB;
  private boolean merged;
  private NDArray own; // this job's W after a copy-on-write of a shared base W (see #ownWeight), else null
  private NDArray gradWeight; // full-gradient mode: a detached view of W that takes the gradient, else null

  /**
   * @param module HF module name, e.g. {@code encoder.layer.0.attention.self.query}
   * @param rank adapter rank, 0 for none
   * @param scaling s (see {@link LoraConfig#scaling()})
   * @param dropout adapter-input dropout probability in training
   * @param seed seeds A's initialisation
   * @param weightInit initializer of W (seeded random, or zeros before a pretrained load)
   */
  public LoraLinear(String module, int in, int out, int rank, float scaling, double dropout, long seed,
      Initializer weightInit) {
    this(module, in, out, rank, scaling, dropout, seed, weightInit, true);
  }

  /**
   * As {@link #LoraLinear(String, int, int, int, float, double, long, Initializer)}, with or
   * without the base bias b: {@code hasBias=false} gives {@code y = x W^T + s * B A x}, as in
   * Llama's {@code nn.Linear(..., bias=False)} projections.
   */
  public LoraLinear(String module, int in, int out, int rank, float scaling, double dropout, long seed,
      Initializer weightInit, boolean hasBias) {
    this.module = module;
    this.in = in;
    this.out = out;
    this.rank = rank;
    this.scaling = rank > 0 ? scaling : 0f;
    this.dropout = dropout;
    this.seed = seed;
    weight = addParameter(param("weight", Parameter.Type.WEIGHT, new Shape(out, in), weightInit));
    bias = hasBias ? addParameter(param("bias", Parameter.Type.BIAS, new Shape(out), Initializer.ZEROS)) : null;
    if (rank > 0) {
      Initializer aInit = Seeded.uniform(1.0 / Math.sqrt(in), seed, module + ".lora_A");
      loraA = addParameter(param("lora_A", Parameter.Type.WEIGHT, new Shape(rank, in), aInit));
      loraB = addParameter(param("lora_B", Parameter.Type.WEIGHT, new Shape(out, rank), Initializer.ZEROS));
    } else {
      loraA = null;
      loraB = null;
    }
  }

  static Parameter param(String name, Parameter.Type type, Shape shape, Initializer init) {
    return Parameter.builder().setName(name).setType(type).optShape(shape).optInitializer(init).build();
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    NDArray x = inputs.singletonOrThrow();
    Device d = x.getDevice();
    if (rank == 0 || merged) {
      return new NDList(base(ps, x, training));
    }
    NDArray xa = training && dropout > 0 ? x.mul(dropoutMask(x, params)) : x;
    NDArray xA = Linear.linear(xa, ps.getValue(loraA, d, training)).head();
    if (Exact.isPowerOfTwo(scaling)) { // s (x A^T) B^T = (s x A^T) B^T bit for bit: scale the [..,r] side
      NDArray scaled = scaling == 1f ? xA : xA.mul(Owned.scalar(xA, scaling));
      NDArray adapter = scaled.matMul(rowMajorTranspose(ps.getValue(loraB, d, training)));
      return new NDList(baseOnto(ps, x, adapter, training));
    }
    NDArray xAB = Linear.linear(xA, ps.getValue(loraB, d, training)).head();
    return new NDList(base(ps, x, training).add(xAB.mul(Owned.scalar(xAB, scaling))));
  }

  /** Whether {@link #forwardShared} runs one product of the concatenated A for {@code group}. */
  static boolean fusable(List<LoraLinear> group, boolean training) {
    LoraLinear first = group.get(0);
    return group.size() > 1 && Exact.isPowerOfTwo(first.scaling) && group.stream().allMatch(lin ->
        lin.rank > 0 && !lin.merged && lin.scaling == first.scaling && !(training && lin.dropout > 0));
  }

  /** {@code x W^T [+ b]}: the frozen base's output (the private copy's in full-gradient or copy-on-write mode). */
  private NDArray base(ParameterStore ps, NDArray x, boolean training) {
    Device d = x.getDevice();
    NDArray w = forwardWeight(ps, d, training);
    return (bias == null ? Linear.linear(x, w) : Linear.linear(x, w, ps.getValue(bias, d, training))).head();
  }

  /**
   * {@code x W^T + t}: the frozen base's product accumulated onto the adapter's output {@code t}
   * (same shape as the result) in one GEMM ({@code addmm}, beta = 1), instead of a product and then an
   * add of two output-sized arrays. With a base bias b it is {@code (x W^T + b) + t}, as before.
   */
  private NDArray baseOnto(ParameterStore ps, NDArray x, NDArray t, boolean training) {
    if (bias != null) {
      return base(ps, x, training).add(t);
    }
    NDArray w = forwardWeight(ps, x.getDevice(), training);
    return Linear.linear(x.reshape(-1, in), w, t.reshape(-1, out)).head().reshape(t.getShape());
  }

  /** W as the forward reads it: the full-gradient view, else this job's own copy, else the parameter's. */
  private NDArray forwardWeight(ParameterStore ps, Device d, boolean training) {
    return gradWeight != null ? gradWeight : own != null ? own : ps.getValue(weight, d, training);
  }

  /**
   * The outputs of layers that read the same input {@code x} (q, k, v; gate, up), each as its own
   * {@link #forward} gives it. When every one is adapted and unmerged with the same power-of-two scale,
   * and no dropout acts, their rank-r products share one {@code x [A_1;..;A_n]^T}: one product of
   * {@code n r} columns forward and two in backward instead of n small ones each, and one gradient of
   * x instead of n to add up. Each A still has its own parameter and gradient (the concatenation's
   * backward splits it), so the adapters, the optimizer and the export see no difference; the bits
   * may differ from separate products (another summation order inside the matmul).
   */
  static NDList forwardShared(ParameterStore ps, NDArray x, List<LoraLinear> group, boolean training,
      PairList<String, Object> params) {
    LoraLinear first = group.get(0);
    NDList out = new NDList(group.size());
    if (!fusable(group, training)) {
      for (LoraLinear lin : group) {
        out.add(lin.forward(ps, new NDList(x), training, params).head());
      }
      return out;
    }
    Device d = x.getDevice();
    NDList as = new NDList(group.size());
    long[] splits = new long[group.size() - 1];
    long at = 0;
    for (int i = 0; i < group.size(); i++) {
      LoraLinear lin = group.get(i);
      as.add(ps.getValue(lin.loraA, d, training));
      at += lin.rank;
      if (i < splits.length) {
        splits[i] = at;
      }
    }
    NDArray xA = Linear.linear(x, NDArrays.concat(as, 0)).head();
    NDArray scaled = first.scaling == 1f ? xA : xA.mul(Owned.scalar(xA, first.scaling));
    NDList parts = scaled.split(splits, scaled.getShape().dimension() - 1);
    for (int i = 0; i < group.size(); i++) {
      LoraLinear lin = group.get(i);
      NDArray adapter = parts.get(i).matMul(lin.rowMajorTranspose(ps.getValue(lin.loraB, d, training)));
      out.add(lin.baseOnto(ps, x, adapter, training));
    }
    return out;
  }

  /**
   * B^T {@code [r,out]} as a row-major copy, not a transposed view: libtorch then takes B's
   * gradient as {@code (s x A^T)^T dy}, an {@code [r,L]x[L,out]} product, instead of {@code dy^T (s x
   * A^T)}, {@code [out,L]x[L,r]}, which MKL runs several times slower at small r.
   */
  private NDArray rowMajorTranspose(NDArray b) {
    return b.transpose().reshape(-1).reshape(rank, out);
  }

  private NDArray dropoutMask(NDArray x, PairList<String, Object> params) {
    Object s = params == null ? null : params.get(DROPOUT_SEED);
    long forwardSeed = s instanceof Long l ? l : seed;
    float[] mask = Seeded.dropoutMask(Seeded.mix(forwardSeed, Seeded.hash(module)),
        Math.toIntExact(x.size()), dropout);
    return Owned.copy(x.getManager().create(mask, x.getShape()));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputs) {
    Shape s = inputs[0];
    return new Shape[] {s.slice(0, s.dimension() - 1).add(out)};
  }

  /** Adds this layer's parameters under HF/PEFT names ({@code <module>.weight}, {@code <module>.lora_A.weight}). */
  void collectParameters(Map<String, Parameter> into) {
    into.put(module + ".weight", weight);
    if (bias != null) {
      into.put(module + ".bias", bias);
    }
    if (rank > 0) {
      into.put(module + ".lora_A.weight", loraA);
      into.put(module + ".lora_B.weight", loraB);
    }
  }

  /** The HF module name. */
  public String module() {
    return module;
  }

  public int inFeatures() {
    return in;
  }

  public int outFeatures() {
    return out;
  }

  /** Adapter rank r; 0 for a plain linear layer. */
  public int rank() {
    return rank;
  }

  /** The adapter scale s. */
  public float scaling() {
    return scaling;
  }

  public boolean isMerged() {
    return merged;
  }

  public Parameter weight() {
    return weight;
  }

  /**
   * W as the forward uses it: this job's own copy once {@link #ownWeight()} made one, else the
   * parameter's array (which may be a base model's array shared read-only with other jobs).
   */
  public NDArray weightArray() {
    return own != null ? own : weight.getArray();
  }

  /**
   * W for writing (PiSSA's and LoRA-GA's W0 offset, merge): the parameter's array when this model
   * owns it, else, once, a private copy of the shared base array (copy-on-write: the shared array is
   * never written; the copy lives with the adapters, in this job's manager).
   */
  public NDArray ownWeight() {
    if (own != null) {
      return own;
    }
    NDArray w = weight.getArray();
    if (rank == 0 || w.getManager() == loraA.getArray().getManager()) {
      return w;
    }
    own = w.duplicate();
    own.attach(loraA.getArray().getManager());
    return own;
  }

  /** Whether W is a private copy made by {@link #ownWeight()}. */
  public boolean ownsCopy() {
    return own != null;
  }

  /**
   * Full-gradient mode: the forward uses a detached view of W (the same storage, no copy) that requires
   * a gradient, so the gradient of W is taken without ever marking the (possibly shared) base array for
   * autograd and without a second copy of W. Same values and same ops as W itself: the gradient is
   * bit-identical.
   */
  void beginWeightGradient() {
    endWeightGradient();
    adapter(loraA);
    gradWeight = weightArray().stopGradient();
    gradWeight.attach(loraA.getArray().getManager());
    gradWeight.setRequiresGradient(true);
  }

  /** Whether the layer is in full-gradient mode ({@link #beginWeightGradient()}). */
  public boolean takesWeightGradient() {
    return gradWeight != null;
  }

  /** The gradient of W accumulated since {@link #beginWeightGradient()}, row-major {@code [out,in]}; zeros if none. */
  public float[] weightGradient() {
    if (gradWeight == null) {
      throw new IllegalStateException(module + " is not in full-gradient mode");
    }
    try (NDArray g = gradWeight.getGradient()) {
      return g.toFloatArray();
    }
  }

  /**
   * The gradient of W as its native float32 array {@code [out,in]}, no copy, then leaves full-gradient
   * mode: the caller closes the array, which frees it as soon as it is read, not when the whole pass ends.
   */
  public NDArray takeWeightGradient() {
    if (gradWeight == null) {
      throw new IllegalStateException(module + " is not in full-gradient mode");
    }
    NDArray g = gradWeight.getGradient();
    endWeightGradient();
    return g;
  }

  /** Leaves full-gradient mode, freeing the view and its gradient. */
  void endWeightGradient() {
    if (gradWeight != null) {
      gradWeight.close();
      gradWeight = null;
    }
  }

  /** Whether the layer has a base bias b. */
  public boolean hasBias() {
    return bias != null;
  }

  /** The base bias b; throws for a bias-free layer (see {@link #hasBias()}). */
  public Parameter bias() {
    if (bias == null) {
      throw new IllegalStateException(module + " has no bias");
    }
    return bias;
  }

  /** A as a row-major {@code [r,in]} array. */
  public float[] getLoraA() {
    return adapter(loraA).getArray().toFloatArray();
  }

  /** B as a row-major {@code [out,r]} array. */
  public float[] getLoraB() {
    return adapter(loraB).getArray().toFloatArray();
  }

  /** Overwrites A in place (row-major {@code [r,in]}); not allowed while merged. */
  public void setLoraA(float[] values) {
    overwrite(adapter(loraA), values, (long) rank * in);
  }

  /** Overwrites B in place (row-major {@code [out,r]}); not allowed while merged. */
  public void setLoraB(float[] values) {
    overwrite(adapter(loraB), values, (long) out * rank);
  }

  /**
   * W += s*B*A in place (the parameter keeps its array, so a trainer's ParameterStore sees it);
   * fails, leaving W untouched, if the result would hold NaN or infinity. Call outside a gradient
   * collector: PyTorch forbids in-place updates of a leaf while recording.
   */
  public void merge() {
    requireState(false, "merge");
    NDArray w = ownWeight();
    try (NDManager tmp = w.getManager().newSubManager()) {
      NDArray delta = delta(tmp);
      requireFinite(delta.add(w), "merging");
      w.addi(delta);
    }
    merged = true;
  }

  /** W -= s*B*A with the adapter that was merged; fails, leaving W untouched, on non-finite results. */
  public void unmerge() {
    requireState(true, "unmerge");
    NDArray w = ownWeight();
    try (NDManager tmp = w.getManager().newSubManager()) {
      NDArray delta = delta(tmp);
      requireFinite(delta.neg().add(w), "unmerging");
      w.subi(delta);
    }
    merged = false;
  }

  /** s*B*A, attached to {@code manager}; call only outside a gradient collector. */
  NDArray delta(NDManager manager) {
    NDArray ba = adapter(loraB).getArray().matMul(adapter(loraA).getArray());
    ba.attach(manager);
    return ba.mul(scaling);
  }

  /** Checks, without side effects, that merging now would keep W finite. */
  void checkMergeable() {
    requireState(false, "merge");
    try (NDManager tmp = adapter(loraA).getArray().getManager().newSubManager()) {
      requireFinite(delta(tmp).add(weightArray()), "merging");
    }
  }

  private void requireFinite(NDArray candidate, String what) {
    if (candidate.isNaN().any().getBoolean() || candidate.isInfinite().any().getBoolean()) {
      throw new IllegalStateException(what + " the adapter of " + module
          + " would make its weight non-finite (NaN or infinity in s*B*A or W); W is unchanged");
    }
  }

  private void requireState(boolean wantMerged, String op) {
    if (rank == 0) {
      throw new IllegalStateException(module + " has no LoRA adapter to " + op);
    }
    if (merged != wantMerged) {
      throw new IllegalStateException("cannot " + op + " " + module + ": it is "
          + (merged ? "already merged" : "not merged"));
    }
  }

  private Parameter adapter(Parameter p) {
    if (p == null) {
      throw new IllegalStateException(module + " has no LoRA adapter (rank 0)");
    }
    return p;
  }

  private void overwrite(Parameter p, float[] values, long expected) {
    if (merged) {
      throw new IllegalStateException("cannot change the adapter of " + module + " while it is merged; unmerge first");
    }
    if (values.length != expected) {
      throw new IllegalArgumentException(module + "." + p.getName() + " needs " + expected
          + " values (" + p.getShape() + "), got " + values.length);
    }
    Owned.write(p.getArray(), values);
  }
}
