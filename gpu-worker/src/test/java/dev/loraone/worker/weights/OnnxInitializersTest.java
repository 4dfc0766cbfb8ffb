package dev.loraone.worker.weights;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OnnxInitializersTest {

  private static final List<String> PROJECTIONS = List.of("attention.self.query", "attention.self.key",
      "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense");

  @Test
  void allMiniLmProjectionWeightsAreMappedToHfNamesAsOutByIn() {
    Map<String, FloatTensor> w = MiniLmFixture.pretrained().weights();
    int mapped = 0;
    for (int layer = 0; layer < 6; layer++) {
      for (String p : PROJECTIONS) {
        String name = "encoder.layer." + layer + "." + p + ".weight";
        FloatTensor t = w.get(name);
        long out = p.equals("intermediate.dense") ? 1536 : 384;
        long in = p.equals("output.dense") ? 1536 : 384;
        assertArrayEquals(new long[] {out, in}, t.shape(), name);
        assertEquals(out, w.get(name.replace(".weight", ".bias")).dim(0), "bias of " + name);
        mapped++;
      }
    }
    assertEquals(36, mapped);
    assertTrue(w.keySet().stream().noneMatch(n -> n.startsWith("onnx::")), "no anonymous name left");
    assertEquals(65 + 36, w.size(), "65 named float initializers + 36 mapped MatMul weights");
  }

  @Test
  void miniLmConfigIsInferredFromItsWeightsAndMatchesItsConfigJson() throws Exception {
    // config.json of sentence-transformers/all-MiniLM-L6-v2 (HF hub), abridged.
    String json = """
        {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
         "hidden_dropout_prob": 0.1, "hidden_size": 384, "initializer_range": 0.02,
         "intermediate_size": 1536, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
         "model_type": "bert", "num_attention_heads": 12, "num_hidden_layers": 6, "pad_token_id": 0,
         "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": 30522}
        """;
    BertConfig fromJson = BertConfig.fromJson(json);
    assertEquals(new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 1e-12), fromJson);
    assertEquals(fromJson, MiniLmFixture.pretrained().config());
  }

  @Test
  void configJsonOfAnotherArchitectureIsRejectedNamingTheKey() {
    String json = "{\"model_type\":\"bert\",\"hidden_act\":\"gelu_new\",\"vocab_size\":10,\"hidden_size\":8,"
        + "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"intermediate_size\":16,\"max_position_embeddings\":8}";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BertConfig.fromJson(json));
    assertTrue(e.getMessage().contains("hidden_act"), e.getMessage());
  }

  @Test
  void matMulWeightIsTransposedFromInOutToOutIn() {
    // [in=2, out=3] as stored by torch.onnx
    TensorProto w = floats("onnx::MatMul_7", new long[] {2, 3}, 1, 2, 3, 4, 5, 6);
    NodeProto mm = matMul("/encoder/layer.0/attention/self/query/MatMul", "onnx::MatMul_7");
    OnnxInitializers read =
        OnnxInitializers.read(
            model(List.of(w, floats("x.bias", new long[] {3}, 0, 0, 0)), List.of(mm)));
    FloatTensor t = read.tensors().get("encoder.layer.0.attention.self.query.weight");
    assertArrayEquals(new long[] {3, 2}, t.shape());
    assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, t.data());
    assertTrue(read.tensors().containsKey("x.bias"));
    assertFalse(read.layerNormEps().isPresent());
  }

  @Test
  void anonymousInitializerWithoutMatMulIsAnErrorNamingIt() {
    TensorProto w = floats("onnx::Add_9", new long[] {1}, 1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OnnxInitializers.read(model(List.of(w), List.of())));
    assertTrue(e.getMessage().contains("onnx::Add_9"), e.getMessage());
  }

  @Test
  void matMulNodeWithoutModuleScopeIsAnErrorNamingIt() {
    TensorProto w = floats("onnx::MatMul_1", new long[] {1, 1}, 1);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OnnxInitializers.read(model(List.of(w), List.of(matMul("MatMul_3", "onnx::MatMul_1")))));
    assertTrue(e.getMessage().contains("MatMul_3"), e.getMessage());
  }

  @Test
  void unsupportedDataTypeIsAnErrorNamingTheTensor() {
    TensorProto d = TensorProto.newBuilder().setName("encoder.x.weight").addDims(1)
        .setDataType(TensorProto.DataType.DOUBLE_VALUE).addDoubleData(1.0).build();
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> OnnxInitializers.read(model(List.of(d), List.of())));
    assertTrue(e.getMessage().contains("encoder.x.weight") && e.getMessage().contains("DOUBLE"), e.getMessage());
  }

  @Test
  void integerPositionIdsBufferIsSkippedNotImported() {
    TensorProto ids = TensorProto.newBuilder().setName("embeddings.position_ids").addDims(1).addDims(2)
        .setDataType(TensorProto.DataType.INT64_VALUE).addInt64Data(0).addInt64Data(1).build();
    OnnxInitializers read = OnnxInitializers.read(model(List.of(ids), List.of()));
    assertEquals(List.of("embeddings.position_ids"), read.skipped());
    assertTrue(read.tensors().isEmpty());
  }

  private static byte[] model(List<TensorProto> inits, List<NodeProto> nodes) {
    GraphProto g = GraphProto.newBuilder().setName("g").addAllInitializer(inits).addAllNode(nodes).build();
    return ModelProto.newBuilder().setIrVersion(6).setGraph(g).build().toByteArray();
  }

  private static NodeProto matMul(String name, String weight) {
    return NodeProto.newBuilder().setName(name).setOpType("MatMul").addInput("x").addInput(weight)
        .addOutput(name + "_output_0").build();
  }

  private static TensorProto floats(String name, long[] dims, float... values) {
    ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    b.flip();
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE)
        .setRawData(ByteString.copyFrom(b));
    for (long d : dims) {
      t.addDims(d);
    }
    return t.build();
  }
}
