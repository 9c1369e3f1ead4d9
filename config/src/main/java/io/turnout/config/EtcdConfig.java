package io.turnout.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Where Patroni's etcd (v3) keys are read from, through etcd's JSON gateway ({@code /v3/...}, etcd 3.4+).
 * Paths are already resolved and were readable at load time.
 *
 * @param urls client URLs with scheme (http://10.0.0.1:2379, https://...); the source starts with the first
 *        and moves to the next when one fails
 * @param namespace Patroni's namespace without slashes ("service"); keys are {@code /<namespace>/<scope>/...}
 * @param username etcd user for {@code /v3/auth/authenticate} (null: etcd without auth)
 * @param password that user's password when given inline (null: none, or in passwordFile)
 * @param passwordFile file holding the password, re-read at each authentication (null: none)
 * @param caFile PEM CA bundle to verify etcd's certificate (null: the JDK's default CAs)
 * @param certFile PEM client certificate chain for mutual TLS (null: none; with keyFile)
 * @param keyFile PEM private key of certFile
 * @param verify false trusts any server certificate and host name (test setups only)
 */
public record EtcdConfig(
        List<URI> urls,
        String namespace,
        String username,
        String password,
        Path passwordFile,
        Path caFile,
        Path certFile,
        Path keyFile,
        boolean verify) {
    public static final String DEFAULT_NAMESPACE = ConsulConfig.DEFAULT_NAMESPACE;

    public EtcdConfig {
        urls = List.copyOf(urls);
        if (urls.isEmpty()) {
            throw new IllegalArgumentException("at least one etcd URL is needed");
        }
        Objects.requireNonNull(namespace, "namespace");
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException("cert_file and key_file go together");
        }
        if (password != null && passwordFile != null) {
            throw new IllegalArgumentException("password and password_file are alternatives");
        }
    }

    /** Plain HTTP, no auth, default namespace: what a test or a local etcd needs. */
    public static EtcdConfig of(List<URI> urls) {
        return new EtcdConfig(urls, DEFAULT_NAMESPACE, null, null, null, null, null, null, true);
    }

    public EtcdConfig withNamespace(String newNamespace) {
        return new EtcdConfig(urls, newNamespace, username, password, passwordFile, caFile, certFile, keyFile, verify);
    }

    public EtcdConfig withAuth(String newUsername, String newPassword) {
        return new EtcdConfig(urls, namespace, newUsername, newPassword, null, caFile, certFile, keyFile, verify);
    }

    public EtcdConfig withTls(Path newCaFile, Path newCertFile, Path newKeyFile, boolean newVerify) {
        return new EtcdConfig(urls, namespace, username, password, passwordFile, newCaFile, newCertFile, newKeyFile,
                newVerify);
    }

    /** The password is left out: this lands in logs and SHOW CONFIG. */
    @Override
    public String toString() {
        return "EtcdConfig[urls=" + urls + ", namespace=" + namespace + ", username=" + username + ", password="
                + (password != null ? "(inline)" : passwordFile != null ? passwordFile : "none") + ", ca_file=" + caFile
                + ", cert_file=" + certFile + ", verify=" + verify + "]";
    }
}
