package io.turnout.config;

import java.net.URI;
import java.nio.file.Path;
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
        String namespace = DcsSection.namespace(c);
        Path token = DcsSection.file(c, "token_file", baseDir);
        if (token != null) {
            DcsSection.secret(c, "token_file", token);
        }
        boolean https = urls.stream().anyMatch(u -> u.getScheme().equals("https"));
        DcsSection.Tls tls = DcsSection.tls(c, baseDir, https,
                "only applies to https:// Consul addresses, and none is configured");
        Duration wait = c.duration("wait", ConsulConfig.DEFAULT_WAIT);
        if (wait.compareTo(Duration.ofSeconds(1)) < 0 || wait.compareTo(MAX_WAIT) > 0) {
            throw c.error("wait", "must be between 1s and 10m (Consul's limit), got " + c.string("wait", ""));
        }
        return new ConsulConfig(urls, namespace, token, tls.caFile(), tls.certFile(), tls.keyFile(), c.bool("verify", true),
                wait);
    }

    private static List<URI> urls(YamlSection top, YamlSection c) throws ConfigException {
        String given = DcsSection.addressKey(top, c, "consul", List.of("url", "urls", "host"),
                "give url: (e.g. https://consul.service.consul:8501), urls: [...] or host: + port: + scheme:");
        if (!c.has("host")) {
            for (String k : List.of("port", "scheme")) {
                if (c.has(k)) {
                    throw c.error(k, "goes with host:; with url:/urls: put it in the URL");
                }
            }
        }
        List<URI> urls = new ArrayList<>();
        switch (given) {
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
                urls.add(url(c, "host", DcsSection.hostUrl(scheme, host, port)));
            }
        }
        return urls;
    }

    private static URI url(YamlSection c, String key, String raw) throws ConfigException {
        return DcsSection.url(c, key, raw, "https://consul.service.consul:8501", "the token goes in token_file");
    }
}
