package dev.loraone.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.loraone.protocol.job.JobSpec;
import dev.loraone.protocol.tensor.DType;
import dev.loraone.worker.weights.LlamaFixture;
import dev.loraone.worker.weights.LlamaFixture.Spec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A Llama-family folder no worker could load is refused when the job is submitted, naming the key. */
class JobPreflightTest {

  @TempDir Path dir;

  @Test
  void qwen2AndLlama3FoldersPassAndRefusedKeysOrPicklesAreNamedAtSubmit() throws Exception {
    Path task = Files.writeString(dir.resolve("task.jsonl"), "{\"prompt\": \"w3\", \"completion\": \"w4\"}\n");
    Path qwen2 = dir.resolve("qwen2");
    LlamaFixture.write(qwen2, Spec.qwen2(true), 1, DType.BF16, true);
    assertEquals(List.of(), JobPreflight.problems(job(qwen2, task)));
    Path llama3 = dir.resolve("llama3");
    LlamaFixture.write(llama3, Spec.tiny(false).withRope(LlamaFixture.Rope.llama3()), 1, DType.F32, false);
    assertEquals(List.of(), JobPreflight.problems(job(llama3, task)));

    Path yarn = dir.resolve("yarn");
    LlamaFixture.write(yarn, Spec.qwen2(true), 1, DType.F32, false);
    ObjectNode c = LlamaFixture.config(Spec.qwen2(true));
    c.putObject("rope_scaling").put("type", "yarn").put("factor", 4.0);
    LlamaFixture.writeConfig(yarn, c);
    List<String> p = JobPreflight.problems(job(yarn, task));
    assertEquals(1, p.size(), p::toString);
    assertTrue(p.get(0).contains("'job.model'") && p.get(0).contains("'rope_scaling'") && p.get(0).contains("yarn"),
        p.get(0));

    Path pickle = dir.resolve("pickle");
    LlamaFixture.writeConfig(pickle, LlamaFixture.config(Spec.tiny(true)));
    Files.write(pickle.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
    p = JobPreflight.problems(job(pickle, task));
    assertTrue(p.size() == 1 && p.get(0).contains("pytorch_model.bin") && p.get(0).contains("safetensors"),
        p::toString);
  }

  @Test
  void aSequenceLongerThanMistralsSlidingWindowOrThePositionsIsRefusedNamingTheKey() throws Exception {
    Path task = Files.writeString(dir.resolve("task.jsonl"), "{\"prompt\": \"w3\", \"completion\": \"w4\"}\n");
    Path mistral = dir.resolve("mistral");
    LlamaFixture.write(mistral, Spec.mistral(false), 1, DType.BF16, true);
    Map<String, Object> within = Map.of("model", mistral.toString(), "task", task.toString(),
        "train.max-length", LlamaFixture.MISTRAL_WINDOW);
    assertEquals(List.of(), JobPreflight.problems(JobSpec.of(within)));
    List<String> p = JobPreflight.problems(JobSpec.of(Map.of("model", mistral.toString(), "task", task.toString(),
        "train.max-length", LlamaFixture.MISTRAL_WINDOW + 1)));
    assertEquals(1, p.size(), p::toString);
    assertTrue(p.get(0).contains("'job.train.max-length' = 33") && p.get(0).contains("'sliding_window' = 32")
        && p.get(0).contains("<= 32"), p.get(0));
    p = JobPreflight.problems(JobSpec.of(Map.of("model", mistral.toString(), "task", task.toString(),
        "train.max-length", 65)));
    assertEquals(2, p.size(), p::toString);
    assertTrue(p.get(0).contains("'max_position_embeddings' = 64"), p.get(0));
  }

  private static JobSpec job(Path model, Path task) {
    return JobSpec.of(Map.of("model", model.toString(), "task", task.toString()));
  }
}
