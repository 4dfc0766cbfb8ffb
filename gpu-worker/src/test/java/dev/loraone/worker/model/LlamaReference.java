package dev.loraone.worker.model;

import java.util.Arrays;
import java.util.Map;

/**
 * An independent plain-Java Llama forward in double precision: the oracle for {@link
 * LlamaLoraModel}. It shares no code with the DJL model (own RMSNorm, RoPE and its scalings, GQA by
 * explicit head repetition, SwiGLU, attention loops) and follows HF {@code modeling_llama.py} and
 * {@code modeling_qwen2.py} literally.
 *
 * <pre>
 *   weights: HF name -> row-major float[] (Linear [out,in]); biases: q_proj, k_proj, v_proj (Qwen2) or none
 *   logits(ids, mask): [L][V] for one row; query i sees key j iff j <= i and mask[j] == 1
 *   rope: angle(pos, e) = pos * f(theta^(-2e/d)), f by rope_scaling:
 *         none: identity   linear: / factor
 *         llama3 (Llama 3.1 report; HF _compute_llama3_parameters), wavelength w = 2 pi / freq:
 *           w < L/high: kept   w > L/low: / factor   between: mix with s = (L/w - low)/(high - low)
 * </pre>
 */
final class LlamaReference {

  /** The sizes the reference needs, spelled out independently of {@code LlamaConfig}. */
  record Dims(int vocab, int hidden, int inter, int layers, int heads, int kvHeads, int headDim,
      double eps, double theta, boolean tied, boolean qkvBias, Rope rope) {}

  /** rope_scaling: type null (none), "linear" or "llama3"; L = originalMax. */
  record Rope(String type, double factor, double low, double high, int originalMax) {}

  private final Dims d;
  private final Map<String, float[]> w;

  LlamaReference(Dims dims, Map<String, float[]> weights) {
    this.d = dims;
    this.w = weights;
  }

  /** Logits {@code [L][V]} of one (possibly right-padded) row. */
  double[][] logits(int[] ids, int[] mask) {
    int l = ids.length;
    double[][] x = new double[l][];
    float[] embed = w.get("model.embed_tokens.weight");
    for (int t = 0; t < l; t++) {
      x[t] = new double[d.hidden()];
      for (int j = 0; j < d.hidden(); j++) {
        x[t][j] = embed[ids[t] * d.hidden() + j];
      }
    }
    for (int n = 0; n < d.layers(); n++) {
      String p = "model.layers." + n + ".";
      double[][] a = new double[l][];
      for (int t = 0; t < l; t++) {
        a[t] = rmsNorm(x[t], w.get(p + "input_layernorm.weight"));
      }
      double[][] att = attention(a, mask, p + "self_attn.");
      for (int t = 0; t < l; t++) {
        for (int j = 0; j < d.hidden(); j++) {
          x[t][j] += att[t][j];
        }
        double[] m = rmsNorm(x[t], w.get(p + "post_attention_layernorm.weight"));
        double[] g = matVec(w.get(p + "mlp.gate_proj.weight"), d.inter(), d.hidden(), m);
        double[] u = matVec(w.get(p + "mlp.up_proj.weight"), d.inter(), d.hidden(), m);
        double[] gu = new double[d.inter()];
        for (int j = 0; j < d.inter(); j++) {
          gu[j] = g[j] / (1 + Math.exp(-g[j])) * u[j];
        }
        double[] down = matVec(w.get(p + "mlp.down_proj.weight"), d.hidden(), d.inter(), gu);
        for (int j = 0; j < d.hidden(); j++) {
          x[t][j] += down[j];
        }
      }
    }
    float[] head = d.tied() ? embed : w.get("lm_head.weight");
    double[][] out = new double[l][];
    for (int t = 0; t < l; t++) {
      out[t] = matVec(head, d.vocab(), d.hidden(), rmsNorm(x[t], w.get("model.norm.weight")));
    }
    return out;
  }

  private double[][] attention(double[][] a, int[] mask, String p) {
    int l = a.length;
    int hd = d.headDim();
    int group = d.heads() / d.kvHeads();
    double[][][] q = new double[d.heads()][l][];
    double[][][] k = new double[d.heads()][l][];
    double[][][] v = new double[d.heads()][l][];
    for (int t = 0; t < l; t++) {
      double[] qt = project(p + "q_proj", d.heads() * hd, a[t]);
      double[] kt = project(p + "k_proj", d.kvHeads() * hd, a[t]);
      double[] vt = project(p + "v_proj", d.kvHeads() * hd, a[t]);
      for (int h = 0; h < d.heads(); h++) {
        int kvh = h / group; // repeat_kv: each kv head serves `group` consecutive query heads
        q[h][t] = rope(slice(qt, h * hd, hd), t);
        k[h][t] = rope(slice(kt, kvh * hd, hd), t);
        v[h][t] = slice(vt, kvh * hd, hd);
      }
    }
    double[][] ctx = new double[l][d.heads() * hd];
    for (int h = 0; h < d.heads(); h++) {
      for (int i = 0; i < l; i++) {
        double[] s = new double[l];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < l; j++) {
          boolean visible = j <= i && mask[j] == 1;
          s[j] = visible ? dot(q[h][i], k[h][j]) / Math.sqrt(hd) : Double.NEGATIVE_INFINITY;
          max = Math.max(max, s[j]);
        }
        double z = 0;
        for (int j = 0; j < l; j++) {
          s[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - max);
          z += s[j];
        }
        for (int j = 0; j < l; j++) {
          for (int e = 0; e < hd; e++) {
            ctx[i][h * hd + e] += s[j] / z * v[h][j][e];
          }
        }
      }
    }
    double[][] out = new double[l][];
    for (int t = 0; t < l; t++) {
      out[t] = matVec(w.get(p + "o_proj.weight"), d.hidden(), d.heads() * hd, ctx[t]);
    }
    return out;
  }

  /** {@code W x + b} of a q/k/v projection; Qwen2 has the bias, Llama not. */
  private double[] project(String module, int rows, double[] x) {
    double[] y = matVec(w.get(module + ".weight"), rows, d.hidden(), x);
    if (d.qkvBias()) {
      float[] b = w.get(module + ".bias");
      for (int r = 0; r < rows; r++) {
        y[r] += b[r];
      }
    }
    return y;
  }

  /** The rotation frequency of feature pair e, after rope_scaling. */
  double frequency(int e) {
    double f = Math.pow(d.theta(), -2.0 * e / d.headDim());
    Rope r = d.rope();
    if (r == null || r.type() == null) {
      return f;
    }
    if (r.type().equals("linear")) {
      return f / r.factor();
    }
    double wavelength = 2 * Math.PI / f;
    if (wavelength < r.originalMax() / r.high()) {
      return f;
    }
    if (wavelength > r.originalMax() / r.low()) {
      return f / r.factor();
    }
    double s = (r.originalMax() / wavelength - r.low()) / (r.high() - r.low());
    return (1 - s) * f / r.factor() + s * f;
  }

  /** HF rotate-half RoPE at position {@code pos}: pairs (e, e + d/2) rotate by pos * frequency(e). */
  private double[] rope(double[] x, int pos) {
    int half = x.length / 2;
    double[] y = new double[x.length];
    for (int e = 0; e < half; e++) {
      double angle = pos * frequency(e);
      double c = Math.cos(angle);
      double s = Math.sin(angle);
      y[e] = x[e] * c - x[e + half] * s;
      y[e + half] = x[e + half] * c + x[e] * s;
    }
    return y;
  }

  private double[] rmsNorm(double[] x, float[] weight) {
    double ms = 0;
    for (double v : x) {
      ms += v * v;
    }
    double inv = 1 / Math.sqrt(ms / x.length + d.eps());
    double[] y = new double[x.length];
    for (int j = 0; j < x.length; j++) {
      y[j] = x[j] * inv * weight[j];
    }
    return y;
  }

  /** Greedy decoding by re-running the full forward each step; returns the new tokens. */
  int[] greedy(int[] prompt, int maxNew, int eos, double[] minGap) {
    int[] seq = prompt.clone();
    int[] out = new int[maxNew];
    int n = 0;
    minGap[0] = Double.POSITIVE_INFINITY;
    while (n < maxNew) {
      int[] ones = new int[seq.length];
      Arrays.fill(ones, 1);
      double[] last = logits(seq, ones)[seq.length - 1];
      int best = 0;
      for (int j = 1; j < last.length; j++) {
        if (last[j] > last[best]) {
          best = j;
        }
      }
      double second = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < last.length; j++) {
        if (j != best) {
          second = Math.max(second, last[j]);
        }
      }
      minGap[0] = Math.min(minGap[0], last[best] - second);
      out[n++] = best;
      if (best == eos) {
        break;
      }
      seq = Arrays.copyOf(seq, seq.length + 1);
      seq[seq.length - 1] = best;
    }
    return Arrays.copyOf(out, n);
  }

  /** Mean next-token cross-entropy over positions whose (unshifted) label at t+1 is not -100. */
  double loss(int[][] ids, int[][] mask, long[][] labels) {
    double sum = 0;
    int count = 0;
    for (int b = 0; b < ids.length; b++) {
      double[][] lg = logits(ids[b], mask[b]);
      for (int t = 0; t + 1 < ids[b].length; t++) {
        long y = labels[b][t + 1];
        if (y == -100) {
          continue;
        }
        double max = Double.NEGATIVE_INFINITY;
        for (double v : lg[t]) {
          max = Math.max(max, v);
        }
        double z = 0;
        for (double v : lg[t]) {
          z += Math.exp(v - max);
        }
        sum += -(lg[t][(int) y] - max - Math.log(z));
        count++;
      }
    }
    return sum / count;
  }

  private static double[] matVec(float[] m, int rows, int cols, double[] x) {
    double[] y = new double[rows];
    for (int r = 0; r < rows; r++) {
      double s = 0;
      for (int c = 0; c < cols; c++) {
        s += m[r * cols + c] * x[c];
      }
      y[r] = s;
    }
    return y;
  }

  private static double[] slice(double[] x, int from, int n) {
    return Arrays.copyOfRange(x, from, from + n);
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
