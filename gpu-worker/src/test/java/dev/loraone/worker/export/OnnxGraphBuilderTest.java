package dev.loraone.worker.export;

import static dev.loraone.worker.export.OnnxGraphBuilder.floatAttr;
import static dev.loraone.worker.export.OnnxGraphBuilder.intAttr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorProto.DataType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxGraphBuilderTest {

  @TempDir Path dir;

  @Test
  void repeatedOpsInAScopeAreNumberedAsTorchOnnxDoes() {
    OnnxGraphBuilder g = new OnnxGraphBuilder("g", null);
    String x = g.input("x", DataType.FLOAT, "n");
    String a = g.node("/block", "Relu", List.of(x));
    g.node("/block", "Relu", List.of(a));
    g.nodeTo("y", "/block", "Relu", List.of(a));
    List<NodeProto> nodes = g.model(8, 17, "t", "0", "", Map.of()).getGraph().getNodeList();
    assertEquals(
        List.of("/block/Relu", "/block/Relu_1", "/block/Relu_2"),
        nodes.stream().map(NodeProto::getName).toList());
    assertEquals("/block/Relu_output_0", a);
    assertEquals("y", nodes.get(2).getOutput(0));
  }

  @Test
  void smallTensorsStayInlineWhenWeightsGoExternal() throws Exception {
    try (ExternalDataFile data = new ExternalDataFile(dir.resolve("m.onnx.data"))) {
      OnnxGraphBuilder g = new OnnxGraphBuilder("g", data);
      g.initializer("small", new float[4], 4);
      g.initializer("large", new float[1024], 32, 32);
      List<TensorProto> init = g.model(8, 17, "t", "0", "", Map.of()).getGraph().getInitializerList();
      assertEquals(TensorProto.DataLocation.DEFAULT, init.get(0).getDataLocation());
      assertEquals(16, init.get(0).getRawData().size());
      assertEquals(TensorProto.DataLocation.EXTERNAL, init.get(1).getDataLocation());
      assertEquals(4096, data.size());
      assertEquals(4096 + 16, g.initializerBytes());
    }
  }

  @Test
  void initializerShapeMustMatchItsValues() {
    OnnxGraphBuilder g = new OnnxGraphBuilder("g", null);
    assertThrows(IllegalArgumentException.class, () -> g.initializer("w", new float[5], 2, 3));
  }

  @Test
  void builtGraphWithSymbolicBatchRunsInOnnxRuntime() throws Exception {
    // y = LayerNorm(x W + b): MatMul and LayerNormalization, both missing from tribuo's operator set.
    OnnxGraphBuilder g = new OnnxGraphBuilder("g", null);
    String x = g.input("x", DataType.FLOAT, "batch", 2);
    String w = g.initializer("w", new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
    String b = g.initializer("b", new float[] {0, 0, 1}, 3);
    String h = g.node("", "Add", List.of(g.node("", "MatMul", List.of(x, w)), b));
    String gamma = g.initializer("gamma", new float[] {1, 1, 1}, 3);
    String beta = g.initializer("beta", new float[] {0, 0, 0}, 3);
    g.nodeTo("y", "", "LayerNormalization", List.of(h, gamma, beta), intAttr("axis", -1), floatAttr("epsilon", 1e-5f));
    g.output("y", DataType.FLOAT, "batch", 3);
    Path file = dir.resolve("g.onnx");
    Files.write(file, g.model(8, 17, "t", "0", "", Map.of()).toByteArray());
    ModelProto.parseFrom(Files.readAllBytes(file)); // a valid protobuf
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession s = env.createSession(file.toString());
        OnnxTensor in =
            OnnxTensor.createTensor(
                env, FloatBuffer.wrap(new float[] {1, 0, 0, 1, 1, 1}), new long[] {3, 2});
        OrtSession.Result r = s.run(Map.of("x", in))) {
      float[][] y = (float[][]) r.get(0).getValue();
      assertEquals(3, y.length);
      // row 0: x W + b = [1, 2, 4]; mean 7/3, LayerNorm gives a zero-mean row
      assertEquals(0.0, y[0][0] + y[0][1] + y[0][2], 1e-5);
      assertEquals((1 - 7 / 3.0) / Math.sqrt((Math.pow(1 - 7 / 3.0, 2) + Math.pow(2 - 7 / 3.0, 2)
          + Math.pow(4 - 7 / 3.0, 2)) / 3 + 1e-5), y[0][0], 1e-5);
    }
  }
}
