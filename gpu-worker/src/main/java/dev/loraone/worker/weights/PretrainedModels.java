package dev.loraone.worker.weights;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.Map;

/**
 * Real pretrained BERT-family models that Maven resolves: the langchain4j embedding jars carry an
 * fp32 ONNX export (Xenova, {@code torch.onnx} opset 11) and its HF {@code tokenizer.json} as
 * classpath resources. This is how tests and demos get real weights with no download step.
 *
 * <p>ONNX weights say every size but the head count, so this table supplies it (both models: 12
 * heads of 32, from their HF {@code config.json}).
 */
public final class PretrainedModels {

  /** A model bundled in a jar on the classpath. */
  public enum Known {
    /** sentence-transformers/all-MiniLM-L6-v2: 6 layers, H=384, mean pooling. */
    ALL_MINILM_L6_V2("all-minilm-l6-v2", "/all-minilm-l6-v2.onnx", "/all-minilm-l6-v2-tokenizer.json", 12,
        Pooling.MEAN),
    /** BAAI/bge-small-en-v1.5: 12 layers, H=384, CLS pooling in its original recipe. */
    BGE_SMALL_EN_V15("bge-small-en-v1.5", "/bge-small-en-v1.5.onnx", "/bge-small-en-v1.5-tokenizer.json", 12,
        Pooling.CLS);

    private final String id;
    private final String onnxResource;
    private final String tokenizerResource;
    private final int numHeads;
    private final Pooling pooling;

    Known(String id, String onnxResource, String tokenizerResource, int numHeads, Pooling pooling) {
      this.id = id;
      this.onnxResource = onnxResource;
      this.tokenizerResource = tokenizerResource;
      this.numHeads = numHeads;
      this.pooling = pooling;
    }

    /**
     * The model's sentence-embedding pooling (both then L2-normalise): MiniLM's sentence-transformers
     * config mean-pools, BGE's CLS-pools ({@code 1_Pooling/config.json} of each Hub repository).
     */
    public Pooling pooling() {
      return pooling;
    }

    /** The short name used in job files, e.g. {@code all-minilm-l6-v2}. */
    public String id() {
      return id;
    }

    /**
     * The Hugging Face Hub id of the original model: an adapter's {@code base_model_name_or_path},
     * so PEFT finds its base.
     */
    public String hubId() {
      return this == ALL_MINILM_L6_V2 ? "sentence-transformers/all-MiniLM-L6-v2" : "BAAI/bge-small-en-v1.5";
    }

    /** Attention heads (not recoverable from the ONNX weights). */
    public int numHeads() {
      return numHeads;
    }

    /** Looks a model up by {@link #id()}. */
    public static Known fromId(String id) {
      for (Known k : values()) {
        if (k.id.equals(id)) {
          return k;
        }
      }
      throw new IllegalArgumentException("unknown pretrained model '" + id + "'; known: "
          + Arrays.stream(values()).map(Known::id).toList());
    }
  }

  /** Config plus HF-named weights, ready for the DJL model. */
  public record Pretrained(Known model, BertConfig config, Map<String, FloatTensor> weights) {}

  private PretrainedModels() {}

  /** Reads the model's ONNX file and infers its config (about 1.5 s for MiniLM). */
  public static Pretrained load(Known model) {
    return fromOnnx(model, readOnnx(model));
  }

  /** Imports already read ONNX bytes of {@code model} (lets a caller also hand them to ORT). */
  public static Pretrained fromOnnx(Known model, byte[] onnx) {
    OnnxInitializers init = OnnxInitializers.read(onnx);
    double eps = init.layerNormEps().orElse(BertConfig.DEFAULT_LAYER_NORM_EPS);
    BertConfig config = BertConfig.fromWeights(init.tensors(), model.numHeads(), eps);
    return new Pretrained(model, config, init.tensors());
  }

  /** The original ONNX file's bytes. */
  public static byte[] readOnnx(Known model) {
    try (InputStream in = open(model.onnxResource, model)) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + model.onnxResource, e);
    }
  }

  /** Opens the model's HF {@code tokenizer.json}; the caller closes it. */
  public static InputStream openTokenizerJson(Known model) {
    return open(model.tokenizerResource, model);
  }

  private static InputStream open(String resource, Known model) {
    InputStream in = PretrainedModels.class.getResourceAsStream(resource);
    if (in == null) {
      throw new IllegalStateException("resource " + resource + " of " + model.id()
          + " is not on the classpath; is its langchain4j-embeddings jar a dependency?");
    }
    return in;
  }
}
