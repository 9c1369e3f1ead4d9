package io.turnout.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Where Patroni's Consul keys are read from. Paths are already resolved and were readable at load time.
 *
 * @param urls Consul HTTP API base URLs with scheme (http://host:8500, https://host:8501); the source
 *        starts with the first and moves to the next when one fails
 * @param namespace Patroni's namespace without slashes ("service")
 * @param tokenFile ACL token file, sent as X-Consul-Token (null: no token)
 * @param caFile PEM CA bundle to verify Consul's certificate (null: the JDK's default CAs)
 * @param certFile PEM client certificate chain for mutual TLS (null: none; with keyFile)
 * @param keyFile PEM private key of certFile
 * @param verify false trusts any server certificate and host name (test setups only)
 * @param waitTime blocking query {@code wait}; Consul caps it at 10 minutes
 */
public record ConsulConfig(
        List<URI> urls,
        String namespace,
        Path tokenFile,
        Path caFile,
        Path certFile,
        Path keyFile,
        boolean verify,
        Duration waitTime) {
    public static final String DEFAULT_NAMESPACE = "service";
    public static final Duration DEFAULT_WAIT = Duration.ofMinutes(5);

    public ConsulConfig {
        urls = List.copyOf(urls);
        if (urls.isEmpty()) {
            throw new IllegalArgumentException("at least one Consul URL is needed");
        }
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(waitTime, "waitTime");
        if ((certFile == null) != (keyFile == null)) {
            throw new IllegalArgumentException("cert_file and key_file go together");
        }
    }

    /** Plain HTTP, no token, default namespace and wait: what a test or a local agent needs. */
    public static ConsulConfig of(URI url) {
        return new ConsulConfig(List.of(url), DEFAULT_NAMESPACE, null, null, null, null, true, DEFAULT_WAIT);
    }

    public ConsulConfig withUrls(List<URI> newUrls) {
        return new ConsulConfig(newUrls, namespace, tokenFile, caFile, certFile, keyFile, verify, waitTime);
    }

    public ConsulConfig withWait(Duration newWait) {
        return new ConsulConfig(urls, namespace, tokenFile, caFile, certFile, keyFile, verify, newWait);
    }

    public ConsulConfig withToken(Path newTokenFile) {
        return new ConsulConfig(urls, namespace, newTokenFile, caFile, certFile, keyFile, verify, waitTime);
    }

    public ConsulConfig withTls(Path newCaFile, Path newCertFile, Path newKeyFile, boolean newVerify) {
        return new ConsulConfig(urls, namespace, tokenFile, newCaFile, newCertFile, newKeyFile, newVerify, waitTime);
    }
}
