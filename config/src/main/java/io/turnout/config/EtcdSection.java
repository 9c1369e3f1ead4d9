package io.turnout.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads the {@code etcd:} section into an {@link EtcdConfig}. Addresses are written as Patroni's {@code etcd3:}
 * section writes them ({@code host}, {@code hosts} as a list or "a:2379,b:2379", with {@code protocol}) or as
 * full URLs ({@code url}, {@code urls}); every file it names is read now.
 */
final class EtcdSection {
    static final List<String> KEYS = List.of("url", "urls", "host", "hosts", "protocol", "namespace", "username",
            "password", "password_file", "ca_file", "cert_file", "key_file", "verify");
    static final int DEFAULT_PORT = 2379;

    private EtcdSection() {
    }

    /** Null when there is no {@code etcd:} section. */
    static EtcdConfig parse(YamlSection top, Path baseDir) throws ConfigException {
        YamlSection c = top.section("etcd");
        if (c == null) {
            return null;
        }
        c.rejectUnknown(KEYS);
        List<URI> urls = urls(top, c);
        String namespace = DcsSection.namespace(c);
        String username = c.string("username", null);
        String password = c.string("password", null);
        Path passwordFile = DcsSection.file(c, "password_file", baseDir);
        if (password != null && passwordFile != null) {
            throw c.error("password_file", "password and password_file are alternatives; give one");
        }
        if (username == null && (password != null || passwordFile != null)) {
            throw c.error(password != null ? "password" : "password_file", "needs username (the etcd user it belongs to)");
        }
        if (username != null && password == null && passwordFile == null) {
            throw c.error("username", "needs password or password_file");
        }
        if (passwordFile != null) {
            DcsSection.secret(c, "password_file", passwordFile);
        }
        boolean https = urls.stream().anyMatch(u -> u.getScheme().equals("https"));
        DcsSection.Tls tls = DcsSection.tls(c, baseDir, https,
                "only applies to https etcd addresses (protocol: https, or https:// URLs), and none is configured");
        return new EtcdConfig(urls, namespace, username, password, passwordFile, tls.caFile(), tls.certFile(),
                tls.keyFile(), c.bool("verify", true));
    }

    private static List<URI> urls(YamlSection top, YamlSection c) throws ConfigException {
        String form = DcsSection.addressKey(top, c, "etcd", List.of("url", "urls", "host", "hosts"),
                "give hosts: [10.0.0.1:2379, ...] (with protocol: https for TLS), host:, url: or urls:");
        boolean hostForm = form.startsWith("host");
        if (!hostForm && c.has("protocol")) {
            throw c.error("protocol", "goes with host:/hosts:; with url:/urls: put it in the URL");
        }
        String protocol = c.string("protocol", "http").strip().toLowerCase(Locale.ROOT);
        if (!protocol.equals("http") && !protocol.equals("https")) {
            throw c.error("protocol", "expected http or https, got '" + c.string("protocol", "") + "'");
        }
        List<String> values = form.endsWith("s") ? c.list(form) : List.of(c.string(form, "").strip());
        if (values.isEmpty()) {
            throw c.error(form, "is empty");
        }
        List<URI> urls = new ArrayList<>();
        for (String v : values) {
            urls.add(hostForm ? hostUrl(c, form, v, protocol) : url(c, form, v));
        }
        return urls;
    }

    /** {@code 10.0.0.1:2379}, {@code etcd-1} (port 2379) or {@code [fd00::1]:2379}, as Patroni's hosts take them. */
    private static URI hostUrl(YamlSection c, String key, String hostPort, String protocol) throws ConfigException {
        if (hostPort.contains("://")) {
            // Patroni once dropped the scheme of such a value silently; say what to write instead
            throw c.error(key, "takes host:port; for a full URL with scheme write url: " + hostPort);
        }
        String host = hostPort;
        int port = DEFAULT_PORT;
        int colon = hostPort.lastIndexOf(':');
        boolean bareIpv6 = hostPort.indexOf(':') != colon && !hostPort.startsWith("[");
        if (colon > 0 && !bareIpv6 && !hostPort.endsWith("]")) {
            host = hostPort.substring(0, colon);
            try {
                port = Integer.parseInt(hostPort.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 1 || port > 65535) {
                throw c.error(key, "bad port in '" + hostPort + "'");
            }
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty()) {
            throw c.error(key, "no host in '" + hostPort + "'");
        }
        return url(c, key, DcsSection.hostUrl(protocol, host, port));
    }

    private static URI url(YamlSection c, String key, String raw) throws ConfigException {
        return DcsSection.url(c, key, raw, "http://10.0.0.1:2379", "a user and password go in username: and password:");
    }
}
