package dev.loraone.worker.export;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.AttributeProto.AttributeType;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small builder of ONNX graphs over the raw protobuf classes ({@code ai.onnx.proto.OnnxMl},
 * bundled in tribuo-util-onnx). Tribuo's own graph API cannot declare int64 inputs and lacks
 * MatMul, Erf and LayerNormalization (FEASIBILITY.md section 4), so exporters build protos directly
 * and this class keeps that readable:
 *
 * <pre>
 *   String x = g.input("input_ids", DataType.INT64, "batch", "sequence");   // symbolic or fixed dims
 *   String w = g.initializer("onnx::MatMul_q", wT, in, out);                  // float32 weight
 *   String y = g.node("/encoder/layer.0/attention/self/query", "MatMul", List.of(x, w));
 *   g.output("last_hidden_state", DataType.FLOAT, "batch", "sequence", 384);
 * </pre>
 *
 * <p>Node names are {@code scope/OpType}, numbered {@code _1, _2, ...} on repeats within a scope
 * (torch.onnx's convention), and a node's output is {@code <node name>_output_0} unless named.
 * Graph constants (shapes, axes, scalars) are {@code Constant} nodes, never initializers, so the
 * initializers are exactly the model's weights.
 *
 * <p>Weights go into the protobuf as little-endian {@code raw_data}, or, when an {@link
 * ExternalDataFile} is given, into that file; tensors under 1 KiB stay inline either way (as
 * {@code onnx.save_model}'s {@code size_threshold}).
 */
final class OnnxGraphBuilder {

  static final int SMALL_TENSOR_BYTES = 1024;

  private final GraphProto.Builder graph = GraphProto.newBuilder();
  private final ExternalDataFile externalData;
  private final Map<String, Integer> nodeNames = new HashMap<>();
  private final Set<String> initializerNames = new HashSet<>();
  private long initializerBytes;

  /**
   * @param externalData where weights of at least 1 KiB go; null keeps every weight in the protobuf
   */
  OnnxGraphBuilder(String graphName, ExternalDataFile externalData) {
    graph.setName(graphName);
    this.externalData = externalData;
  }

  /**
   * Declares a graph input. Each dim is a {@code String} (a symbolic, dynamic axis such as {@code
   * "batch"}) or a {@code Number} (a fixed size).
   */
  String input(String name, DataType type, Object... dims) {
    graph.addInput(valueInfo(name, type, dims));
    return name;
  }

  /** Declares a graph output; dims as in {@link #input}. */
  void output(String name, DataType type, Object... dims) {
    graph.addOutput(valueInfo(name, type, dims));
  }

  /** Adds a float32 weight, row-major in {@code dims}; returns its name. */
  String initializer(String name, float[] data, long... dims) throws IOException {
    if (!initializerNames.add(name)) {
      throw new IllegalArgumentException("duplicate initializer " + name);
    }
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(DataType.FLOAT_VALUE);
    checkSize(name, data.length, dims);
    for (long d : dims) {
      t.addDims(d);
    }
    long bytes = (long) data.length * Float.BYTES;
    if (externalData != null && bytes >= SMALL_TENSOR_BYTES) {
      externalData.write(t, data);
    } else {
      t.setRawData(littleEndian(data));
    }
    graph.addInitializer(t);
    initializerBytes += bytes;
    return name;
  }

  /** An int64 tensor as a {@code Constant} node in {@code scope}; returns its output. */
  String constant(String scope, long[] values, long... dims) {
    checkSize("constant in " + scope, values.length, dims);
    ByteBuffer bb = ByteBuffer.allocate(values.length * Long.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    bb.asLongBuffer().put(values);
    TensorProto.Builder t = TensorProto.newBuilder().setDataType(DataType.INT64_VALUE)
        .setRawData(UnsafeByteOperations.unsafeWrap(bb.array()));
    for (long d : dims) {
      t.addDims(d);
    }
    return constantNode(scope, t.build());
  }

  /** A 1-D int64 constant of {@code values}. */
  String constant(String scope, long... values) {
    return constant(scope, values, values.length);
  }

  /** A float32 scalar (rank 0) {@code Constant} node; returns its output. */
  String scalar(String scope, float value) {
    TensorProto t = TensorProto.newBuilder().setDataType(DataType.FLOAT_VALUE)
        .setRawData(littleEndian(new float[] {value})).build();
    return constantNode(scope, t);
  }

  /** Adds a node {@code scope/opType[_k]} with one output; returns that output's name. */
  String node(String scope, String opType, List<String> inputs, AttributeProto... attributes) {
    return nodeTo(null, scope, opType, inputs, attributes);
  }

  /**
   * Adds a node whose single output is named {@code output} (a graph output, say); a null {@code
   * output} means {@code <node name>_output_0}.
   */
  String nodeTo(String output, String scope, String opType, List<String> inputs, AttributeProto... attributes) {
    String name = uniqueName(scope + "/" + opType);
    String out = output != null ? output : name + "_output_0";
    graph.addNode(NodeProto.newBuilder().setName(name).setOpType(opType).addAllInput(inputs).addOutput(out)
        .addAllAttribute(List.of(attributes)));
    return out;
  }

  static AttributeProto intAttr(String name, long value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.INT).setI(value).build();
  }

  static AttributeProto floatAttr(String name, float value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.FLOAT).setF(value).build();
  }

  static AttributeProto intsAttr(String name, long... values) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeType.INTS);
    for (long v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  /**
   * The model: this graph under the default ONNX domain at {@code opset}, with {@code metadata} as
   * {@code metadata_props} (ONNX Runtime's custom metadata map).
   */
  ModelProto model(long irVersion, int opset, String producer, String producerVersion, String docString,
      Map<String, String> metadata) {
    ModelProto.Builder m = ModelProto.newBuilder()
        .setIrVersion(irVersion)
        .setProducerName(producer)
        .setProducerVersion(producerVersion)
        .setDocString(docString)
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
        .setGraph(graph);
    metadata.forEach((k, v) -> m.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    return m.build();
  }

  int nodeCount() {
    return graph.getNodeCount();
  }

  int initializerCount() {
    return graph.getInitializerCount();
  }

  /** Bytes of all weights added, wherever they were stored. */
  long initializerBytes() {
    return initializerBytes;
  }

  private String constantNode(String scope, TensorProto value) {
    AttributeProto a = AttributeProto.newBuilder().setName("value").setType(AttributeType.TENSOR).setT(value).build();
    return node(scope, "Constant", List.of(), a);
  }

  private String uniqueName(String base) {
    int n = nodeNames.merge(base, 1, Integer::sum);
    return n == 1 ? base : base + "_" + (n - 1);
  }

  private static ValueInfoProto valueInfo(String name, DataType type, Object... dims) {
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (Object d : dims) {
      TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
      if (d instanceof String symbolic) {
        dim.setDimParam(symbolic);
      } else if (d instanceof Number size) {
        dim.setDimValue(size.longValue());
      } else {
        throw new IllegalArgumentException("dim of " + name + " must be a String or a Number, got " + d);
      }
      shape.addDim(dim);
    }
    TypeProto.Tensor tensor = TypeProto.Tensor.newBuilder().setElemType(type.getNumber()).setShape(shape).build();
    return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tensor)).build();
  }

  private static ByteString littleEndian(float[] data) {
    ByteBuffer bb = ByteBuffer.allocate(data.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    bb.asFloatBuffer().put(data);
    return UnsafeByteOperations.unsafeWrap(bb.array()); // bb is ours and never written again
  }

  private static void checkSize(String what, int length, long... dims) {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    if (n != length) {
      throw new IllegalArgumentException(what + ": " + length + " values for dims " + Arrays.toString(dims));
    }
  }
}
