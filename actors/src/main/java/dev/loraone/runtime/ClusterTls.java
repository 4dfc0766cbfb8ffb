package dev.loraone.runtime;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS with mutual authentication on the cluster transport ({@code loraone.cluster.tls}): every node
 * presents the certificate of its key store and accepts a peer only when the peer's certificate is
 * in its trust store (or signed by a certificate there). Both ends of every connection check, so a
 * node without a trusted certificate cannot join the cluster, not even one that trusts the cluster.
 * Host names are not verified: nodes are addressed by IP, and trust comes from the trust store.
 *
 * <p>It maps onto Artery's {@code tls-tcp} transport and Pekko's {@code ConfigSSLEngineProvider}
 * ({@code pekko.remote.artery.ssl.config-ssl-engine}). {@link #check()} builds the same SSL context
 * Pekko builds, before the actor system starts, so a missing store, a wrong password or an unknown
 * cipher suite is reported with the file and the option or key it came from, instead of as
 * handshake failures later.
 *
 * @param keyPassword the private key's password (an empty {@code key-password}: the key store's)
 * @param keyPasswordFrom where {@code keyPassword} came from, for messages
 */
record ClusterTls(Store keyStore, String keyPassword, String keyPasswordFrom, Store trustStore, String protocol,
    List<String> enabledAlgorithms) {
  static final String KEY = "loraone.cluster.tls";
  static final String PROVIDER = "org.apache.pekko.remote.artery.tcp.ConfigSSLEngineProvider";
  private static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  /**
   * A PKCS12 store and its password, each with where it was set (an option, an environment variable,
   * or the config key and its origin).
   *
   * @param name {@code key-store} or {@code trust-store}, the key under {@code loraone.cluster.tls}
   * @param file null when not set
   */
  record Store(String name, Path file, String password, String fileFrom, String passwordFrom) {
    String option() {
      return "--tls-" + name;
    }

    String passwordEnv() {
      return passwordEnv(name);
    }

    static String passwordEnv(String name) {
      return "LORAONE_TLS_" + name.toUpperCase(Locale.ROOT).replace('-', '_') + "_PASSWORD";
    }

    /** Without the password. */
    @Override
    public String toString() {
      return "Store[" + name + " " + file + " from " + fileFrom + ", password from " + passwordFrom + "]";
    }

    private String what() {
      return "TLS " + name.replace('-', ' ') + " " + file;
    }

    /** Opens the store as Pekko does (the JVM's default type, PKCS12; JKS files load too). */
    KeyStore open() {
      if (file == null) {
        throw new IllegalArgumentException(
            KEY
                + ".enabled is on but "
                + KEY
                + "."
                + name
                + " is not set: give "
                + option()
                + " FILE or set the key (a PKCS12 file)");
      }
      if (!Files.isRegularFile(file))
        throw new IllegalArgumentException(what() + " (from " + fileFrom + "): no such file");
      if (!Files.isReadable(file))
        throw new IllegalArgumentException(what() + " (from " + fileFrom + "): not readable");
      if (password.isEmpty()) {
        throw new IllegalArgumentException(what() + ": no password given (expected it in " + passwordEnv()
            + ", in the variable named by --tls-password-env, or in " + KEY + "." + name + "-password)");
      }
      try (InputStream in = Files.newInputStream(file)) {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(in, password.toCharArray());
        return store;
      } catch (IOException e) {
        if (e.getCause() instanceof UnrecoverableKeyException) {
          throw new IllegalArgumentException(what() + ": wrong password (from " + passwordFrom + ")", e);
        }
        throw new IllegalArgumentException(
            what() + " (from " + fileFrom + "): not a PKCS12 key store (" + e.getMessage() + ")",
            e);
      } catch (GeneralSecurityException e) {
        throw new IllegalArgumentException(
            what() + " (from " + fileFrom + "): cannot be read (" + e.getMessage() + ")", e);
      }
    }
  }

  /** The settings when {@code loraone.cluster.tls.enabled}, else null; bad values are named. */
  static ClusterTls read(Config c) {
    try {
      if (!c.hasPath(KEY + ".enabled") || !c.getBoolean(KEY + ".enabled")) return null;
      Store keys = store(c, "key-store");
      String keyPassword = c.getString(KEY + ".key-password");
      String keyPasswordFrom = keyPassword.isEmpty() ? keys.passwordFrom() + ", as " + KEY + ".key-password is empty"
          : from(c, "key-password", "--tls-password-env", "LORAONE_TLS_KEY_PASSWORD");
      String protocol = c.getString(KEY + ".protocol");
      if (!PROTOCOLS.contains(protocol)) {
        throw new IllegalArgumentException(
            KEY
                + ".protocol = '"
                + protocol
                + "' (from "
                + from(c, "protocol", null, null)
                + "): expected one of "
                + PROTOCOLS);
      }
      List<String> algorithms = c.getStringList(KEY + ".enabled-algorithms");
      // TLS 1.3 suites name no key exchange (TLS_AES_128_GCM_SHA256); TLS 1.2 suites do (TLS_ECDHE_..._WITH_...).
      boolean tls13 = protocol.equals("TLSv1.3");
      if (algorithms.stream().noneMatch(a -> a.contains("_WITH_") != tls13)) {
        throw new IllegalArgumentException(KEY + ".enabled-algorithms = " + algorithms + " (from "
            + from(c, "enabled-algorithms", null, null) + "): none is a " + protocol + " cipher suite (expected e.g. "
            + (tls13 ? "TLS_AES_128_GCM_SHA256" : "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256") + ")");
      }
      return new ClusterTls(
          keys,
          keyPassword.isEmpty() ? keys.password() : keyPassword,
          keyPasswordFrom,
          store(c, "trust-store"),
          protocol,
          List.copyOf(algorithms));
    } catch (ConfigException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static Store store(Config c, String name) {
    String file = c.getString(KEY + "." + name);
    return new Store(
        name,
        file.isEmpty() ? null : Path.of(file),
        c.getString(KEY + "." + name + "-password"),
        from(c, name, "--tls-" + name, null),
        from(c, name + "-password", "--tls-password-env", Store.passwordEnv(name)));
  }

  /** Where a key's value was set: its option, its environment variable, or the key and its origin. */
  private static String from(Config c, String name, String option, String env) {
    String origin = c.getValue(KEY + "." + name).origin().description();
    if (option != null && origin.startsWith(ClusterConfig.COMMAND_LINE)) return option;
    if (env != null && origin.startsWith("env variables")) return env;
    return KEY + "." + name + " in " + origin;
  }

  /**
   * Builds the SSL context and engine Pekko will build from these settings, naming what fails.
   *
   * @return this
   */
  ClusterTls check() {
    KeyStore keys = keyStore.open();
    if (aliases(keys).stream().noneMatch(a -> isKey(keys, a))) {
      throw new IllegalArgumentException("TLS key store " + keyStore.file() + " (from " + keyStore.fileFrom()
          + "): holds no private key (expected this node's key pair, e.g. made with keytool -genkeypair)");
    }
    KeyStore trusted = trustStore.open();
    if (aliases(trusted).isEmpty()) {
      throw new IllegalArgumentException(
          "TLS trust store "
              + trustStore.file()
              + " (from "
              + trustStore.fileFrom()
              + "): holds no certificate (expected the certificates of the cluster's nodes, or of the CA that signed "
                  + "them)");
    }
    try {
      KeyManagerFactory km = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      try {
        km.init(keys, keyPassword.toCharArray());
      } catch (UnrecoverableKeyException e) {
        throw new IllegalArgumentException(
            "TLS key store "
                + keyStore.file()
                + ": wrong key password (from "
                + keyPasswordFrom
                + ")",
            e);
      }
      TrustManagerFactory tm = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tm.init(trusted);
      SSLContext context = SSLContext.getInstance(protocol);
      context.init(km.getKeyManagers(), tm.getTrustManagers(), null);
      SSLEngine engine = context.createSSLEngine();
      engine.setEnabledProtocols(new String[] {protocol});
      try {
        engine.setEnabledCipherSuites(enabledAlgorithms.toArray(String[]::new));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(KEY + ".enabled-algorithms = " + enabledAlgorithms + ": " + e.getMessage()
            + " (expected " + protocol + " cipher suites of this JVM, e.g. TLS_AES_128_GCM_SHA256)", e);
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          KEY
              + ": cannot build a "
              + protocol
              + " context from "
              + keyStore.file()
              + " and "
              + trustStore.file()
              + " ("
              + e.getMessage()
              + ")",
          e);
    }
    return this;
  }

  private static List<String> aliases(KeyStore store) {
    try {
      return Collections.list(store.aliases());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean isKey(KeyStore store, String alias) {
    try {
      return store.isKeyEntry(alias);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Without the passwords. */
  @Override
  public String toString() {
    return "ClusterTls[" + keyStore + ", " + trustStore + ", " + protocol + " " + enabledAlgorithms + "]";
  }

  /** {@code config} with Artery's {@code tls-tcp} transport set from these settings, above every other layer. */
  Config applyTo(Config config) {
    String engine = "pekko.remote.artery.ssl.config-ssl-engine.";
    Map<String, Object> pekko = new LinkedHashMap<>();
    pekko.put("pekko.remote.artery.transport", "tls-tcp");
    pekko.put("pekko.remote.artery.ssl.ssl-engine-provider", PROVIDER);
    pekko.put(engine + "key-store", keyStore.file().toAbsolutePath().toString());
    pekko.put(engine + "key-store-password", keyStore.password());
    pekko.put(engine + "key-password", keyPassword);
    pekko.put(engine + "trust-store", trustStore.file().toAbsolutePath().toString());
    pekko.put(engine + "trust-store-password", trustStore.password());
    pekko.put(engine + "protocol", protocol);
    pekko.put(engine + "enabled-algorithms", enabledAlgorithms);
    pekko.put(engine + "require-mutual-authentication", true);
    pekko.put(engine + "hostname-verification", false);
    return ConfigFactory.parseMap(pekko, KEY).withFallback(config);
  }
}
