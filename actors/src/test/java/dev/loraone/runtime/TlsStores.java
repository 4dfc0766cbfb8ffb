package dev.loraone.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * PKCS12 stores for the TLS tests, made at test time with the running JDK's {@code keytool} the way
 * README "TLS between nodes" tells users to make them: a self-signed key pair per node, and a trust
 * store holding the certificates of the trusted nodes.
 */
public final class TlsStores {
  private TlsStores() {}

  private static final Path KEYTOOL = Path.of(System.getProperty("java.home"), "bin", "keytool");

  /**
   * {@code dir/name.p12}: a self-signed EC key pair for {@code CN=name}, valid for a day; {@code extra}
   * keytool options, e.g. {@code -ext SAN=ip:127.0.0.1} for an HTTPS server.
   */
  public static Path keyPair(Path dir, String name, String password, String... extra)
      throws IOException, InterruptedException {
    Path store = dir.resolve(name + ".p12");
    List<String> args = new ArrayList<>(List.of(
        "-genkeypair",
        "-alias",
        name,
        "-keyalg",
        "EC",
        "-dname",
        "CN=" + name,
        "-validity",
        "1",
        "-storetype",
        "PKCS12",
        "-keystore",
        store.toString(),
        "-storepass",
        password));
    args.addAll(List.of(extra));
    keytool(args.toArray(String[]::new));
    return store;
  }

  /** {@code dir/name.p12}: a trust store holding the certificate of each key store (alias: its file name). */
  public static Path trustStore(Path dir, String name, String password, List<Path> keyStores, String keyStorePassword)
      throws IOException, InterruptedException {
    Path store = dir.resolve(name + ".p12");
    for (Path k : keyStores) {
      String alias = k.getFileName().toString().replace(".p12", "");
      Path cert = dir.resolve(alias + ".crt");
      keytool(
          "-exportcert",
          "-alias",
          alias,
          "-keystore",
          k.toString(),
          "-storepass",
          keyStorePassword,
          "-file",
          cert.toString());
      keytool(
          "-importcert",
          "-noprompt",
          "-alias",
          alias,
          "-file",
          cert.toString(),
          "-storetype",
          "PKCS12",
          "-keystore",
          store.toString(),
          "-storepass",
          password);
    }
    return store;
  }

  private static void keytool(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(KEYTOOL.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    byte[] output = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + new String(output, StandardCharsets.UTF_8));
    }
  }
}
