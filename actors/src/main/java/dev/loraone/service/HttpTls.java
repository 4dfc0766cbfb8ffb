package dev.loraone.service;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.UnrecoverableKeyException;
import java.util.Collections;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * HTTPS on the service's HTTP port ({@code serve --http-tls-key-store}) and in its clients
 * ({@code --trust-store}): the server presents the certificate of a PKCS12 key store; a client trusts
 * the certificates of a PKCS12 trust store, or the JVM's default ones. Unlike the cluster's TLS
 * ({@code runtime.ClusterTls}) there is no client certificate (callers prove who they are with a bearer
 * token, {@link Tokens}) and clients check the host name, as browsers do: the server's certificate must
 * name the host the URL names (keytool {@code -ext SAN=dns:HOST,ip:ADDRESS}).
 *
 * <p>Passwords come from the environment, never the command line, as for the cluster's stores: the
 * variable {@code --http-tls-password-env} names, else the one {@code --tls-password-env} names, else
 * {@link #PASSWORD_ENV}. Every store is opened before the service starts, so a missing file or a wrong
 * password is named with the file and where its password came from.
 */
public final class HttpTls {
  /** The default variable holding the HTTPS key store's password (and its key's). */
  public static final String PASSWORD_ENV = "LORAONE_HTTP_TLS_KEY_STORE_PASSWORD";
  /** The variable holding a client trust store's password (keytool encrypts even certificates by default). */
  public static final String TRUST_PASSWORD_ENV = "LORAONE_TRUST_STORE_PASSWORD";

  private HttpTls() {}

  /**
   * The server's TLS context from {@code keyStore}, its password read from the environment (see the
   * class comment).
   *
   * @param passwordEnv {@code --http-tls-password-env}, or null
   * @param clusterPasswordEnv {@code --tls-password-env}, or null
   */
  public static SSLContext server(
      Path keyStore, String passwordEnv, String clusterPasswordEnv, Map<String, String> env) {
    String var = passwordEnv != null ? passwordEnv : clusterPasswordEnv != null ? clusterPasswordEnv : PASSWORD_ENV;
    String from = passwordEnv != null ? "--http-tls-password-env " + var
        : clusterPasswordEnv != null ? "--tls-password-env " + var : "$" + var;
    String password = env.get(var);
    if (password == null || password.isEmpty()) {
      throw new IllegalArgumentException("--http-tls-key-store " + keyStore + ": no password: the environment variable "
          + var + " is not set (" + from + "; expected the password of the PKCS12 key store)");
    }
    KeyStore store = open(keyStore, "--http-tls-key-store", password.toCharArray(), from);
    try {
      if (Collections.list(store.aliases()).stream().noneMatch(a -> isKey(store, a))) {
        throw new IllegalArgumentException("--http-tls-key-store " + keyStore + ": holds no private key (expected the"
            + " service's key pair, e.g. made with keytool -genkeypair)");
      }
      KeyManagerFactory km = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      try {
        km.init(store, password.toCharArray());
      } catch (UnrecoverableKeyException e) {
        throw new IllegalArgumentException("--http-tls-key-store " + keyStore + ": the key's password differs from the"
            + " store's (" + from + "); give the key the store's password (keytool -keypasswd)", e);
      }
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(km.getKeyManagers(), null, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("--http-tls-key-store " + keyStore + ": cannot build a TLS context ("
          + e.getMessage() + ")", e);
    }
  }

  /**
   * A client's TLS context trusting the certificates of {@code trustStore} (its password from
   * {@link #TRUST_PASSWORD_ENV}; unset, only certificates stored without encryption are read), or the
   * JVM's default context when {@code trustStore} is null.
   */
  public static SSLContext client(Path trustStore, Map<String, String> env) {
    try {
      if (trustStore == null) return SSLContext.getDefault();
      String password = env.get(TRUST_PASSWORD_ENV);
      KeyStore store = open(trustStore, "--trust-store", password == null || password.isEmpty() ? null
          : password.toCharArray(), "$" + TRUST_PASSWORD_ENV);
      if (!store.aliases().hasMoreElements()) {
        throw new IllegalArgumentException("--trust-store " + trustStore + ": "
            + (password == null || password.isEmpty()
                ? "no certificate readable without a password: set $" + TRUST_PASSWORD_ENV + " to its password"
                : "holds no certificate (expected the service's certificate, or its CA's: keytool -importcert)"));
      }
      TrustManagerFactory tm = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tm.init(store);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, tm.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("--trust-store " + trustStore + ": cannot build a TLS context ("
          + e.getMessage() + ")", e);
    }
  }

  /**
   * What a client says when the TLS handshake with {@code url} failed: the URL, the trust store it used
   * and the cause (an untrusted certificate, a host name the certificate does not name, a plain-HTTP
   * server).
   */
  public static String handshakeFailed(String url, Path trustStore, SSLException e) {
    String trust =
        trustStore != null ? "trust store " + trustStore : "the JVM's default trust store (no --trust-store)";
    String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    String hint = why.contains("unrecognized SSL message") || why.contains("plaintext")
        ? "; the service may serve plain HTTP: try http://"
        : why.contains("subject alternative") || why.contains("No name matching")
            ? "; the certificate does not name this host: connect by a name or address in its SAN"
            : "; give --trust-store FILE holding the service's certificate, or its CA's";
    return "TLS handshake with " + url + " failed, checked against " + trust + ": " + why + hint;
  }

  private static KeyStore open(Path file, String option, char[] password, String passwordFrom) {
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException(option + " " + file + ": no such file");
    if (!Files.isReadable(file)) throw new IllegalArgumentException(option + " " + file + ": not readable");
    try (InputStream in = Files.newInputStream(file)) {
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(in, password);
      return store;
    } catch (IOException e) {
      if (e.getCause() instanceof UnrecoverableKeyException) {
        throw new IllegalArgumentException(option + " " + file + ": wrong password (from " + passwordFrom + ")", e);
      }
      throw new IllegalArgumentException(option + " " + file + ": not a PKCS12 store (" + e.getMessage() + ")", e);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(option + " " + file + ": cannot be read (" + e.getMessage() + ")", e);
    }
  }

  private static boolean isKey(KeyStore store, String alias) {
    try {
      return store.isKeyEntry(alias);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
