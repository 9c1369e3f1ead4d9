package io.turnout.config;

import io.turnout.config.PgBouncerIni.Entry;
import io.turnout.config.PgBouncerIniImporter.Warning;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Maps pgbouncer.ini's {@code [pgbouncer]} section to Turnout's top-level keys. A key is carried over only
 * when Turnout takes the same name with the same meaning (checked against {@link ConfigLoader#GENERAL_KEYS},
 * so keys a later Turnout learns start being carried without a change here); everything else becomes a
 * warning saying why it was dropped.
 */
final class PgBouncerSettings {
    enum Kind { STRING, INT, DURATION, BOOL, LIST }

    /** PgBouncer settings with a same-named Turnout key of the same meaning, and how to read their values. */
    private static final Map<String, Kind> SAME = new LinkedHashMap<>();

    static {
        for (String k : List.of("auth_file", "auth_user", "auth_query", "server_reset_query", "server_check_query")) {
            SAME.put(k, Kind.STRING);
        }
        for (String k : TlsSection.KEYS) {
            SAME.put(k, Kind.STRING);
        }
        for (String k : List.of("listen_port", "default_pool_size", "min_pool_size", "reserve_pool_size",
                "max_client_conn", "max_db_connections", "max_user_connections", "max_prepared_statements",
                "max_packet_size", "tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt", "tcp_user_timeout", "peer_id", "max_db_client_connections",
                "max_user_client_connections")) {
            SAME.put(k, Kind.INT);
        }
        for (String k : List.of("reserve_pool_timeout", "query_wait_timeout", "client_login_timeout",
                "idle_transaction_timeout", "server_lifetime", "server_idle_timeout", "server_connect_timeout",
                "server_login_retry", "server_check_delay", "stats_period", "query_timeout", "transaction_timeout",
                "client_idle_timeout", "cancel_wait_timeout")) {
            SAME.put(k, Kind.DURATION);
        }
        for (String k : List.of("server_reset_query_always", "tcp_keepalive", "so_reuseport")) {
            SAME.put(k, Kind.BOOL);
        }
        for (String k : List.of("admin_users", "stats_users", "ignore_startup_parameters")) {
            SAME.put(k, Kind.LIST);
        }
    }

    private static final String LOGGING = "logging is logback's job: Turnout logs to stdout, where journald or the"
            + " container runtime keeps it (level: TURNOUT_LOG_LEVEL)";
    private static final String NO_UNIX = "Turnout listens on TCP only";
    private static final String DNS = "the JVM resolves and caches host names (networkaddress.cache.ttl)";
    private static final String BUFFERS = "Netty sizes Turnout's buffers and bounds each read; no equivalent";

    /** Settings Turnout has no counterpart for, and why. */
    private static final Map<String, String> DROPPED = Map.ofEntries(
            Map.entry("logfile", LOGGING), Map.entry("syslog", LOGGING), Map.entry("syslog_ident", LOGGING),
            Map.entry("syslog_facility", LOGGING), Map.entry("log_connections", LOGGING),
            Map.entry("log_disconnections", LOGGING), Map.entry("log_pooler_errors", LOGGING),
            Map.entry("log_stats", LOGGING), Map.entry("verbose", LOGGING),
            Map.entry("pidfile", "Turnout runs in the foreground; systemd or the container runtime tracks its process"),
            Map.entry("user", "run Turnout as its own user instead (systemd User=, the image's USER)"),
            Map.entry("unix_socket_dir", NO_UNIX), Map.entry("unix_socket_mode", NO_UNIX),
            Map.entry("unix_socket_group", NO_UNIX),
            Map.entry("listen_backlog", "Turnout's listen backlog is fixed at 4096 (capped by net.core.somaxconn)"),
            Map.entry("pkt_buf", BUFFERS), Map.entry("sbuf_loopcnt", BUFFERS), Map.entry("tcp_socket_buffer", BUFFERS),
            Map.entry("tcp_defer_accept", "not supported by Turnout"),
            Map.entry("dns_max_ttl", DNS), Map.entry("dns_nxdomain_ttl", DNS), Map.entry("dns_zone_check_period", DNS),
            Map.entry("resolv_conf", DNS),
            Map.entry("auth_hba_file", "Turnout has no HBA file: one auth_type applies to every client"),
            Map.entry("auth_ident_file", "Turnout has no HBA file: one auth_type applies to every client"),
            Map.entry("auth_dbname", "not supported: auth_query runs in the database the client asked for"),
            Map.entry("track_extra_parameters", "not needed: Turnout keeps every parameter a client sets in force"),
            Map.entry("autodb_idle_timeout", "Turnout has no automatic '*' databases"),
            Map.entry("conffile", "Turnout's configuration file is its --config argument"),
            Map.entry("service_name", "a Windows service name; not applicable"),
            Map.entry("job_name", "a Windows service name; not applicable"));

    /** Recognised PgBouncer settings Turnout does not implement (yet); the reason is the same for each. */
    private static final Set<String> UNSUPPORTED = Set.of("server_round_robin", "server_fast_close",
            "application_name_add_host", "disable_pqexec", "suspend_timeout", "scram_iterations");

    /** Values that ask for what Turnout does anyway (e.g. no TLS, keepalive on), so dropping them loses nothing. */
    private static final Map<String, Set<String>> ALREADY_SO = Map.ofEntries(
            Map.entry("syslog", Set.of("0")), Map.entry("verbose", Set.of("0")),
            Map.entry("tcp_keepalive", Set.of("1")), Map.entry("so_reuseport", Set.of("0")),
            Map.entry("peer_id", Set.of("0")), Map.entry("tcp_user_timeout", Set.of("0")),
            Map.entry("server_round_robin", Set.of("0")), Map.entry("server_fast_close", Set.of("0")),
            Map.entry("application_name_add_host", Set.of("0")), Map.entry("disable_pqexec", Set.of("0")));

    private static final Pattern SECONDS = Pattern.compile("(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");
    private static final Set<String> AUTH_TYPES = Set.of("scram-sha-256", "md5", "plain", "trust", "cert");

    private PgBouncerSettings() {
    }

    /**
     * YAML lines ({@code key: value  # file:line}) for the carried settings, in ConfigLoader's key order.
     * PgBouncer lets a later line win over an earlier one for the same key, and so does this.
     */
    static List<String> map(List<Entry> section, String mainFile, List<Warning> warnings) {
        Map<String, Entry> last = new LinkedHashMap<>();
        for (Entry e : section) {
            last.put(e.key(), e);
        }
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, Entry> from = new LinkedHashMap<>();
        for (Entry e : last.values()) {
            String value = value(e, warnings);
            if (value != null) {
                out.put(e.key(), value);
                from.put(e.key(), e);
            }
        }
        if (!last.containsKey("listen_addr")) {
            warnings.add(new Warning(mainFile, 0, "pgbouncer", "listen_addr", "not set: PgBouncer listened on its"
                    + " Unix socket only; Turnout listens on TCP, 127.0.0.1 unless listen_addr says otherwise"));
        }
        List<String> lines = new ArrayList<>();
        for (String key : ConfigLoader.GENERAL_KEYS) {
            if (out.containsKey(key)) {
                Entry e = from.get(key);
                lines.add(key + ": " + out.get(key) + "  # " + e.file() + ":" + e.line());
            } else if (key.equals("auth_type") && !last.containsKey("auth_type")) {
                lines.add("auth_type: md5  # PgBouncer's default (Turnout's own is scram-sha-256)");
            }
        }
        return lines;
    }

    /** The YAML value for one setting, or null (with a warning unless nothing is lost) when it is not carried. */
    private static String value(Entry e, List<Warning> warnings) {
        String key = e.key();
        String v = e.value();
        if (!SAME.containsKey(key) && !key.equals("listen_addr") && !key.equals("auth_type") && !key.equals("pool_mode")) {
            if (v.isEmpty() || ALREADY_SO.getOrDefault(key, Set.of()).contains(v.toLowerCase(Locale.ROOT))) {
                return null; // unset, or asks for what Turnout does anyway
            }
            String why = DROPPED.get(key);
            if (why == null) {
                why = UNSUPPORTED.contains(key) ? "not supported by Turnout" : "unknown PgBouncer setting";
            }
            warnings.add(warn(e, "dropped: " + why));
            return null;
        }
        if (!ConfigLoader.GENERAL_KEYS.contains(key)) {
            if (!v.isEmpty() && !ALREADY_SO.getOrDefault(key, Set.of()).contains(v)) {
                warnings.add(warn(e, "dropped: this Turnout version does not take " + key + " yet"));
            }
            return null;
        }
        return switch (key) {
            case "listen_addr" -> listenAddr(e, warnings);
            case "auth_type" -> authType(e, warnings);
            case "pool_mode" -> poolMode(e, warnings);
            default -> typed(e, SAME.get(key), warnings);
        };
    }

    private static String listenAddr(Entry e, List<Warning> warnings) {
        List<String> addrs = split(e.value());
        if (addrs.isEmpty()) {
            warnings.add(warn(e, "empty: PgBouncer listened on its Unix socket only; Turnout listens on TCP,"
                    + " 127.0.0.1 unless listen_addr says otherwise"));
            return null;
        }
        if (addrs.size() > 1) {
            warnings.add(warn(e, "Turnout listens on one address; kept " + addrs.get(0) + ", dropped "
                    + String.join(", ", addrs.subList(1, addrs.size()))));
        }
        if (addrs.get(0).equals("*")) {
            warnings.add(warn(e, "'*' became 0.0.0.0 (every IPv4 address; write :: for IPv6 as well)"));
            return "0.0.0.0";
        }
        return YamlText.scalar(addrs.get(0));
    }

    private static String authType(Entry e, List<Warning> warnings) {
        String v = e.value().toLowerCase(Locale.ROOT);
        if (AUTH_TYPES.contains(v)) {
            return v;
        }
        String why = switch (v) {
            case "hba" -> "Turnout has no HBA file: pick one of scram-sha-256, md5, plain, trust, cert";
            case "pam", "ldap" -> "Turnout checks passwords from auth_file or auth_query only, not " + v;
            case "any" -> "Turnout has no 'any' (trust that ignores the user name); trust with a user per database is closest";
            default -> "unknown auth_type '" + e.value() + "'";
        };
        warnings.add(warn(e, "not carried over (" + why + "); Turnout's default scram-sha-256 applies"));
        return null;
    }

    private static String poolMode(Entry e, List<Warning> warnings) {
        String v = e.value().toLowerCase(Locale.ROOT);
        if (PoolMode.of(v) != null) {
            return v;
        }
        warnings.add(warn(e, "dropped: expected session, transaction or statement, got '" + e.value() + "'"));
        return null;
    }

    private static String typed(Entry e, Kind kind, List<Warning> warnings) {
        String v = e.value();
        try {
            return switch (kind) {
                case STRING -> {
                    if ((e.key().equals("auth_file") || e.key().endsWith("_tls_key_file") || e.key().endsWith("_tls_cert_file")
                            || e.key().endsWith("_tls_ca_file")) && !v.isEmpty() && !v.startsWith("/")) {
                        warnings.add(warn(e, "relative path: Turnout reads it beside turnout.yaml, PgBouncer"
                                + " from its working directory"));
                    }
                    yield v.isEmpty() && !e.key().startsWith("server_") ? null : YamlText.scalar(v);
                }
                // PgBouncer reads numbers with strtol(..., 0): 0x1f and 017 are valid there too
                case INT -> Long.toString(Long.decode(v));
                case BOOL -> Long.decode(v) != 0 ? "true" : "false";
                case DURATION -> seconds(v);
                case LIST -> {
                    List<String> items = split(v);
                    yield items.isEmpty() ? null : YamlText.list(items);
                }
            };
        } catch (NumberFormatException ex) {
            warnings.add(warn(e, "dropped: expected a " + (kind == Kind.DURATION ? "number of seconds" : "whole number")
                    + ", got '" + v + "' (PgBouncer refuses it too)"));
            return null;
        }
    }

    /** PgBouncer's times are seconds as a decimal number; Turnout reads the same, written without exponent. */
    private static String seconds(String v) {
        if (!SECONDS.matcher(v).matches()) {
            throw new NumberFormatException(v);
        }
        return new BigDecimal(v).stripTrailingZeros().toPlainString();
    }

    static List<String> split(String v) {
        List<String> items = new ArrayList<>();
        for (String part : v.split(",")) {
            if (!part.isBlank()) {
                items.add(part.strip());
            }
        }
        return items;
    }

    static Warning warn(Entry e, String message) {
        return new Warning(e.file(), e.line(), e.section(), e.key(), message);
    }
}
