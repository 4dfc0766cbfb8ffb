package dev.loraone.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.loraone.worker.runtime.RuntimeInfo;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code loraone doctor}: what this machine runs on, for bug reports and determinism checks. */
@Command(
    name = "doctor",
    description =
        "Print Java, DJL engine and PyTorch versions, threads, native library location, ONNX Runtime and GPU "
            + "visibility.")
final class DoctorCommand implements Runnable {

  @Option(names = "--json", description = "Print one JSON object instead of a table.")
  boolean json;

  @Override
  public void run() {
    Map<String, String> entries = RuntimeInfo.probe().entries();
    if (json) {
      try {
        System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(entries));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
      return;
    }
    int width = entries.keySet().stream().mapToInt(String::length).max().orElse(0);
    entries.forEach((k, v) -> System.out.printf("%-" + width + "s  %s%n", k, v));
  }
}
