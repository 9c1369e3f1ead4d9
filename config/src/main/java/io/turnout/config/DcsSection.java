package io.turnout.config;

import io.turnout.config.topology.PatroniKeys;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.List;
import java.util.Locale;

/**
 * What the {@code consul:} and {@code etcd:} sections share: addresses written as URLs, files that must be
 * readable now (not at first use), and TLS material parsed now, each error naming its key and line.
 */
final class DcsSection {
    /** PEM files for an https DCS; any may be null. */
    record Tls(Path caFile, Path certFile, Path keyFile) {
    }

    private DcsSection() {
    }

    /**
     * ca_file, cert_file and key_file: they go with https addresses only, cert and key together, and each
     * must parse as PEM of the right kind.
     */
    static Tls tls(YamlSection c, Path baseDir, boolean https, String plainHint) throws ConfigException {
        Path ca = file(c, "ca_file", baseDir);
        Path cert = file(c, "cert_file", baseDir);
        Path key = file(c, "key_file", baseDir);
        if (cert != null && key == null) {
            throw c.error("cert_file", "needs key_file (the certificate's private key)");
        }
        if (key != null && cert == null) {
            throw c.error("key_file", "needs cert_file (the certificate it belongs to)");
        }
        for (String k : List.of("ca_file", "cert_file", "key_file")) {
            if (c.has(k) && !https) {
                throw c.error(k, plainHint);
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
        return new Tls(ca, cert, key);
    }

    /** Patroni's namespace without its slashes ("/service/" is "service"); it must not be empty. */
    static String namespace(YamlSection c) throws ConfigException {
        String ns = PatroniKeys.normalizeNamespace(c.string("namespace", ConsulConfig.DEFAULT_NAMESPACE));
        if (ns.isEmpty()) {
            throw c.error("namespace", "must not be empty (Patroni's default is /service/)");
        }
        return ns;
    }

    /** Which one of the alternative address keys the section gives (exactly one must be there). */
    static String addressKey(YamlSection top, YamlSection c, String section, List<String> keys, String hint)
            throws ConfigException {
        List<String> given = keys.stream().filter(c::has).toList();
        if (given.isEmpty()) {
            throw top.error(section, hint);
        }
        if (given.size() > 1) {
            throw c.error(given.get(1), given.get(0) + " and " + given.get(1) + " are alternatives; give one");
        }
        return given.get(0);
    }

    /** An http:// or https:// URL with a host and nothing a DCS address must not carry; scheme lower-cased. */
    static URI url(YamlSection c, String key, String raw, String example, String secretHint) throws ConfigException {
        URI u;
        try {
            u = new URI(raw.strip());
        } catch (URISyntaxException e) {
            throw c.error(key, "not a URL: '" + raw + "'");
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || u.getHost() == null) {
            throw c.error(key, "expected a URL with scheme and host such as " + example + ", got '" + raw + "'");
        }
        if (u.getRawQuery() != null || u.getRawFragment() != null || u.getRawUserInfo() != null) {
            throw c.error(key, "takes no user, query or fragment (" + secretHint + "): '" + raw + "'");
        }
        return URI.create(scheme + "://" + u.getRawAuthority() + (u.getRawPath() == null ? "" : u.getRawPath()));
    }

    /** {@code scheme://host:port} from a host name or IP literal (an IPv6 one gets its brackets). */
    static String hostUrl(String scheme, String host, int port) {
        String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        return scheme + "://" + h + ":" + port;
    }

    /** A file the section names, resolved against the config's folder; null when the key is absent. */
    static Path file(YamlSection c, String key, Path baseDir) throws ConfigException {
        Path p = c.path(key, baseDir);
        if (p == null) {
            return null;
        }
        if (!Files.isReadable(p) || Files.isDirectory(p)) {
            throw c.error(key, "cannot read " + p);
        }
        return p;
    }

    /** A secret file's text, which must not be blank. */
    static String secret(YamlSection c, String key, Path p) throws ConfigException {
        String text;
        try {
            text = Files.readString(p);
        } catch (IOException e) {
            throw c.error(key, "cannot read " + p + ": " + e.getMessage());
        }
        if (text.isBlank()) {
            throw c.error(key, p + " is empty");
        }
        return text.strip();
    }
}
