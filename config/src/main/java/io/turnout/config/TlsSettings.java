package io.turnout.config;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * TLS towards clients (client_tls_*) and towards PostgreSQL (server_tls_*), with PgBouncer's key names and
 * meanings. File paths were checked at load (readable, parseable, key matches certificate, not expired);
 * the TLS contexts themselves are built by the proxy.
 *
 * @param protocols TLS protocol names as the JDK spells them (TLSv1.2, TLSv1.3)
 * @param ciphers cipher suites, or empty for the engine's secure defaults
 * @param ecdhCurve a curve / group name, or null for the engine's default ("auto")
 * @param serverModeByDatabase per-database server_tls_sslmode overrides, by configured name (templates too)
 */
public record TlsSettings(
        SslMode clientMode, Path clientKeyFile, Path clientCertFile, Path clientCaFile,
        List<String> clientProtocols, List<String> clientCiphers, String clientEcdhCurve,
        SslMode serverMode, Path serverCaFile, Path serverKeyFile, Path serverCertFile,
        List<String> serverProtocols, List<String> serverCiphers,
        Map<String, SslMode> serverModeByDatabase,
        ChannelBinding clientChannelBinding, ChannelBinding serverChannelBinding) {

    /** libpq's channel_binding values: SCRAM-SHA-256-PLUS never, when both sides can, or always. */
    public enum ChannelBinding {
        DISABLE, PREFER, REQUIRE;

        static ChannelBinding of(String v) {
            for (ChannelBinding c : values()) {
                if (c.name().equalsIgnoreCase(v.trim())) {
                    return c;
                }
            }
            return null;
        }

        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public static final List<String> SECURE_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    /** No TLS to clients, plaintext-or-TLS (prefer) to servers: what an empty config means. */
    public static TlsSettings defaults() {
        return new TlsSettings(SslMode.DISABLE, null, null, null, SECURE_PROTOCOLS, List.of(), null,
                SslMode.PREFER, null, null, null, SECURE_PROTOCOLS, List.of(), Map.of(), ChannelBinding.PREFER,
                ChannelBinding.PREFER);
    }

    /** Whether an SSLRequest from a client is answered 'S'. */
    public boolean clientTls() {
        return clientMode != SslMode.DISABLE;
    }

    /** The server_tls_sslmode for a database: its own override, a template's, or the global one. */
    public SslMode serverMode(String database) {
        SslMode exact = serverModeByDatabase.get(database);
        if (exact != null) {
            return exact;
        }
        String best = null;
        for (String name : serverModeByDatabase.keySet()) {
            if (name.indexOf('*') >= 0 && DatabaseConfig.patternMatches(name, database)
                    && (best == null || name.length() > best.length())) {
                best = name;
            }
        }
        return best != null ? serverModeByDatabase.get(best) : serverMode;
    }
}
