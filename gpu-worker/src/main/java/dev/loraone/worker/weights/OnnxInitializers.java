package dev.loraone.worker.weights;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeSet;

/**
 * The float weights of a BERT-family model exported by {@code torch.onnx} (HF Optimum, Xenova),
 * under their Hugging Face names, so that the DJL model can load them as it would a safetensors
 * file.
 *
 * <p>Such an export keeps HF names for embeddings, biases and LayerNorm parameters, but stores the
 * Linear weights as anonymous {@code onnx::MatMul_NNN} initializers, transposed to {@code
 * [in,out]}. Each is consumed by exactly one MatMul node whose name carries the torch module scope:
 *
 * <pre>
 *   node /encoder/layer.0/attention/self/query/MatMul  (x, onnx::MatMul_787 [in,out])
 *   ->   encoder.layer.0.attention.self.query.weight   [out,in]   (transposed back)
 * </pre>
 *
 * Anything that cannot be mapped this way fails loudly with the initializer or node named: an
 * anonymous initializer that no MatMul consumes, a MatMul node without a module scope, a data type
 * other than float32, or external data. Integer buffers that are not weights ({@code
 * embeddings.position_ids}) are skipped and listed in {@link #skipped()}.
 *
 * <p>The LayerNorm epsilon is a scalar {@code Constant} in the decomposed embeddings LayerNorm
 * ({@code /embeddings/LayerNorm/Add}); it is recovered when present.
 */
public final class OnnxInitializers {

  private static final String ANONYMOUS_PREFIX = "onnx::";
  private static final String EPS_ADD_NODE = "/embeddings/LayerNorm/Add";

  private final Map<String, FloatTensor> tensors;
  private final List<String> skipped;
  private final OptionalDouble layerNormEps;

  private OnnxInitializers(Map<String, FloatTensor> tensors, List<String> skipped, OptionalDouble eps) {
    this.tensors = Collections.unmodifiableMap(tensors);
    this.skipped = List.copyOf(skipped);
    this.layerNormEps = eps;
  }

  /** Reads a serialized ONNX {@code ModelProto}. */
  public static OnnxInitializers read(byte[] onnx) {
    try {
      return of(OnnxMl.ModelProto.parseFrom(onnx));
    } catch (IOException e) {
      throw new IllegalArgumentException("not a readable ONNX model: " + e.getMessage(), e);
    }
  }

  /** Reads a serialized ONNX {@code ModelProto} from a stream (not closed here). */
  public static OnnxInitializers read(InputStream onnx) throws IOException {
    return of(OnnxMl.ModelProto.parseFrom(onnx));
  }

  /** Extracts the HF-named weights of an already parsed model. */
  public static OnnxInitializers of(OnnxMl.ModelProto model) {
    GraphProto graph = model.getGraph();
    Map<String, TensorProto> anonymous = new LinkedHashMap<>();
    Map<String, FloatTensor> tensors = new LinkedHashMap<>();
    List<String> skipped = new java.util.ArrayList<>();
    for (TensorProto t : graph.getInitializerList()) {
      String name = t.getName();
      if (t.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
        if (isIntegerBuffer(t)) {
          skipped.add(name);
          continue;
        }
        throw new IllegalArgumentException("initializer " + name + " has unsupported data type "
            + dataTypeName(t.getDataType()) + "; only FLOAT weights can be imported");
      }
      if (name.startsWith(ANONYMOUS_PREFIX)) {
        anonymous.put(name, t);
      } else {
        tensors.put(name, decode(t));
      }
    }
    mapAnonymousMatMulWeights(graph, anonymous, tensors);
    return new OnnxInitializers(tensors, skipped, findLayerNormEps(graph));
  }

  /** HF name to tensor, in file order for named tensors, then MatMul weights in graph order. */
  public Map<String, FloatTensor> tensors() {
    return tensors;
  }

  /** Names of integer buffers that were skipped because they are not weights. */
  public List<String> skipped() {
    return skipped;
  }

  /** The LayerNorm epsilon of the embeddings LayerNorm, if the graph carries it as a constant. */
  public OptionalDouble layerNormEps() {
    return layerNormEps;
  }

  /**
   * The HF weight name of the module whose MatMul node this is: {@code
   * /encoder/layer.0/attention/self/query/MatMul -> encoder.layer.0.attention.self.query.weight}.
   */
  static String hfWeightName(String matMulNodeName) {
    String s = matMulNodeName.startsWith("/") ? matMulNodeName.substring(1) : matMulNodeName;
    int slash = s.lastIndexOf('/');
    if (slash <= 0 || !s.substring(slash + 1).startsWith("MatMul")) {
      throw new IllegalArgumentException("MatMul node '" + matMulNodeName
          + "' has no module scope (expected /<module path>/MatMul); cannot name its weight");
    }
    return s.substring(0, slash).replace('/', '.') + ".weight";
  }

  private static void mapAnonymousMatMulWeights(
      GraphProto graph, Map<String, TensorProto> anonymous, Map<String, FloatTensor> tensors) {
    Map<String, String> mappedBy = new HashMap<>();
    for (NodeProto node : graph.getNodeList()) {
      if (!node.getOpType().equals("MatMul")) {
        continue;
      }
      for (String input : node.getInputList()) {
        TensorProto t = anonymous.get(input);
        if (t == null) {
          continue;
        }
        if (mappedBy.containsKey(input)) {
          throw new IllegalArgumentException("initializer " + input + " is used by two MatMul nodes ("
              + mappedBy.get(input) + ", " + node.getName() + "); tied weights are not supported");
        }
        if (t.getDimsCount() != 2) {
          throw new IllegalArgumentException("MatMul initializer " + input + " of node "
              + node.getName() + " is not 2-D: " + t.getDimsList());
        }
        String hf = hfWeightName(node.getName());
        if (tensors.containsKey(hf)) {
          throw new IllegalArgumentException("node " + node.getName() + " maps initializer " + input
              + " to " + hf + ", which already exists");
        }
        tensors.put(hf, decode(t).transpose2d()); // stored [in,out]; torch layout is [out,in]
        mappedBy.put(input, node.getName());
      }
    }
    TreeSet<String> unmapped = new TreeSet<>(anonymous.keySet());
    unmapped.removeAll(mappedBy.keySet());
    if (!unmapped.isEmpty()) {
      throw new IllegalArgumentException("anonymous initializers not consumed by a MatMul node, "
          + "so their HF names are unknown: " + unmapped);
    }
  }

  private static FloatTensor decode(TensorProto t) {
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      throw new IllegalArgumentException("initializer " + t.getName()
          + " uses ONNX external data, which is not supported; re-export with weights inside the file");
    }
    long[] shape = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
    float[] data;
    if (!t.getRawData().isEmpty()) {
      FloatBuffer fb = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
      data = new float[fb.remaining()];
      fb.get(data);
    } else {
      data = new float[t.getFloatDataCount()];
      for (int i = 0; i < data.length; i++) {
        data[i] = t.getFloatData(i);
      }
    }
    try {
      return new FloatTensor(shape, data);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("initializer " + t.getName() + ": " + e.getMessage(), e);
    }
  }

  private static boolean isIntegerBuffer(TensorProto t) {
    int dt = t.getDataType();
    boolean integer = dt == TensorProto.DataType.INT64_VALUE || dt == TensorProto.DataType.INT32_VALUE;
    return integer && (t.getName().endsWith("position_ids") || t.getName().endsWith("token_type_ids"));
  }

  private static OptionalDouble findLayerNormEps(GraphProto graph) {
    Map<String, NodeProto> constantsByOutput = new HashMap<>();
    for (NodeProto n : graph.getNodeList()) {
      if (n.getOpType().equals("Constant") && n.getOutputCount() == 1) {
        constantsByOutput.put(n.getOutput(0), n);
      }
    }
    for (NodeProto n : graph.getNodeList()) {
      if (!n.getName().equals(EPS_ADD_NODE) || !n.getOpType().equals("Add")) {
        continue;
      }
      for (String input : n.getInputList()) {
        NodeProto c = constantsByOutput.get(input);
        if (c != null && c.getAttributeCount() > 0 && c.getAttribute(0).hasT()) {
          TensorProto t = c.getAttribute(0).getT();
          if (t.getDataType() == TensorProto.DataType.FLOAT_VALUE && t.getDimsCount() == 0) {
            float[] v = decode(t).data();
            if (v.length == 1) {
              // The graph holds a float32; its shortest decimal is the config value (1e-12, not 9.99e-13).
              return OptionalDouble.of(Double.parseDouble(Float.toString(v[0])));
            }
          }
        }
      }
    }
    return OptionalDouble.empty();
  }

  private static String dataTypeName(int dt) {
    TensorProto.DataType type = TensorProto.DataType.forNumber(dt);
    return type == null ? "code " + dt : type.name();
  }
}
