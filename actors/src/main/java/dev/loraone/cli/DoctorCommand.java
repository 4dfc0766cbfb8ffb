package dev.loraone.cli;

import picocli.CommandLine.Command;

@Command(name = "doctor", description = "Print the runtime: Java, DJL engine, PyTorch, threads, ONNX Runtime, GPU.")
final class DoctorCommand implements Runnable {
  @Override
  public void run() {
    System.out.println("java " + System.getProperty("java.version"));
  }
}
