package io.turnout.config;

import io.turnout.config.topology.PatroniKeys;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Reads the {@code consul:} section into a {@link ConsulConfig}, checking every file it names now, not at first use. */
final class ConsulSection {
    static final List<String> KEYS = List.of("url", "urls", "host", "port", "scheme", "namespace", "token_file",
            "ca_file", "cert_file", "key_file", "verify", "wait");
    private static final Duration MAX_WAIT = Duration.ofMinutes(10);

    private ConsulSection() {
    }

    /** Null when there is no {@code consul:} section. */
    static ConsulConfig parse(YamlSection top, Path baseDir) throws ConfigException {
        YamlSection c = top.section("consul");
        if (c == null) {
            return null;
        }
        c.rejectUnknown(KEYS);
        List<URI> urls = urls(top, c);
        String namespace = PatroniKeys.normalizeNamespace(c.string("namespace", ConsulConfig.DEFAULT_NAMESPACE));
        if (namespace.isEmpty()) {
            throw c.error("namespace", "must not be empty (Patroni's default is service)");
        }
        Path token = file(c, "token_file", baseDir);
        if (token != null && readString(c, "token_file", token).isBlank()) {
            throw c.error("token_file", token + " is empty");
        }
        Path ca = file(c, "ca_file", baseDir);
        Path cert = file(c, "cert_file", baseDir);
        Path key = file(c, "key_file", baseDir);
        if (cert != null && key == null) {
            throw c.error("cert_file", "needs key_file (the certificate's private key)");
        }
        if (key != null && cert == null) {
            throw c.error("key_file", "needs cert_file (the certificate it belongs to)");
        }
        boolean https = urls.stream().anyMatch(u -> u.getScheme().equals("https"));
        for (String k : List.of("ca_file", "cert_file", "key_file")) {
            if (c.has(k) && !https) {
                throw c.error(k, "only applies to https:// Consul addresses, and none is configured");
            }
        }
        try {
            if (ca != null) {
                Pem.certificates(ca);
            }
        } catch (IOException | GeneralSecurityException e) {
            throw c.error("ca_file", e.getMessage());
        }
        try {
            if (cert != null) {
                Pem.certificates(cert);
            }
        } catch (IOException | GeneralSecurityException e) {
            throw c.error("cert_file", e.getMessage());
        }
        try {
            if (key != null) {
                Pem.privateKey(key);
            }
        } catch (IOException | GeneralSecurityException e) {
            throw c.error("key_file", e.getMessage());
        }
        Duration wait = c.duration("wait", ConsulConfig.DEFAULT_WAIT);
        if (wait.compareTo(Duration.ofSeconds(1)) < 0 || wait.compareTo(MAX_WAIT) > 0) {
            throw c.error("wait", "must be between 1s and 10m (Consul's limit), got " + c.string("wait", ""));
        }
        return new ConsulConfig(urls, namespace, token, ca, cert, key, c.bool("verify", true), wait);
    }

    private static List<URI> urls(YamlSection top, YamlSection c) throws ConfigException {
        List<String> given = new ArrayList<>();
        for (String k : List.of("url", "urls", "host")) {
            if (c.has(k)) {
                given.add(k);
            }
        }
        if (given.isEmpty()) {
            throw top.error("consul", "give url: (e.g. https://consul.service.consul:8501), urls: [...] or host: + port: + scheme:");
        }
        if (given.size() > 1) {
            throw c.error(given.get(1), given.get(0) + " and " + given.get(1) + " are alternatives; give one");
        }
        if (!c.has("host")) {
            for (String k : List.of("port", "scheme")) {
                if (c.has(k)) {
                    throw c.error(k, "goes with host:; with url:/urls: put it in the URL");
                }
            }
        }
        List<URI> urls = new ArrayList<>();
        switch (given.get(0)) {
            case "url" -> urls.add(url(c, "url", c.string("url", null)));
            case "urls" -> {
                for (String u : c.list("urls")) {
                    urls.add(url(c, "urls", u));
                }
                if (urls.isEmpty()) {
                    throw c.error("urls", "is empty");
                }
            }
            default -> {
                String host = c.string("host", null).strip();
                if (host.contains("://")) {
                    // Patroni once dropped the scheme of such a value silently; say what to write instead
                    throw c.error("host", "is a host name; for a full URL with scheme write url: " + host);
                }
                String scheme = c.string("scheme", "http").strip().toLowerCase(Locale.ROOT);
                if (!scheme.equals("http") && !scheme.equals("https")) {
                    throw c.error("scheme", "expected http or https, got '" + c.string("scheme", "") + "'");
                }
                int port = c.integer("port", scheme.equals("https") ? 8501 : 8500, 1, 65535);
                String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
                urls.add(url(c, "host", scheme + "://" + h + ":" + port));
            }
        }
        return urls;
    }

    private static URI url(YamlSection c, String key, String raw) throws ConfigException {
        URI u;
        try {
            u = new URI(raw.strip());
        } catch (URISyntaxException e) {
            throw c.error(key, "not a URL: '" + raw + "'");
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || u.getHost() == null) {
            throw c.error(key, "expected a URL with scheme and host such as https://consul.service.consul:8501, got '" + raw + "'");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null || u.getRawUserInfo() != null) {
            throw c.error(key, "a Consul address takes no user, query or fragment (the token goes in token_file): '" + raw + "'");
        }
        return URI.create(scheme + "://" + u.getRawAuthority() + (u.getRawPath() == null ? "" : u.getRawPath()));
    }

    private static Path file(YamlSection c, String key, Path baseDir) throws ConfigException {
        String name = c.string(key, null);
        if (name == null) {
            return null;
        }
        Path p = baseDir.resolve(name);
        if (!Files.isReadable(p) || Files.isDirectory(p)) {
            throw c.error(key, "cannot read " + p);
        }
        return p;
    }

    private static String readString(YamlSection c, String key, Path p) throws ConfigException {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw c.error(key, "cannot read " + p + ": " + e.getMessage());
        }
    }
}
