package dev.loraone.cli;

import dev.loraone.lab.BenchCommand;
import dev.loraone.lab.CompareCommand;
import dev.loraone.lab.TheoryCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code loraone} command line: one entry point for every way a user drives the product.
 * Subcommands stay thin; the work lives in the modules they call.
 */
@Command(
    name = "loraone",
    mixinStandardHelpOptions = true,
    scope = CommandLine.ScopeType.INHERIT, // --help and --version on every subcommand
    version = "loraone 0.1.0",
    description = "LoRA-One fine-tuning for the JVM.",
    subcommands = {
      DemoCommand.class,
      DoctorCommand.class,
      FinetuneCommand.class,
      TrainCommand.class,
      NodeCommand.class,
      ServeCommand.class,
      JobsCommands.Submit.class,
      JobsCommands.Status.class,
      JobsCommands.Cancel.class,
      JobsCommands.Logs.class,
      ExportCommand.class,
      InferCommand.class,
      EmbedCommand.class,
      GenerateCommand.class,
      BenchCommand.class,
      TheoryCommand.class,
      CompareCommand.class
    })
public final class Main implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(newCommandLine().execute(args));
  }

  /** The configured command line, shared by {@link #main} and the tests. */
  public static CommandLine newCommandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          if (ex instanceof IllegalArgumentException || ex instanceof java.io.IOException
              || ex instanceof java.io.UncheckedIOException) {
            cmd.getErr().println("error: " + ex.getMessage());
            return 2;
          }
          throw ex;
        });
    return cl;
  }
}
