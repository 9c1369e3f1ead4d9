package io.turnout.config;

import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.Node;

/** Reads turnout.yaml into an immutable {@link TurnoutConfig}, rejecting anything it does not understand. */
public final class ConfigLoader {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ConfigLoader.class);
    static final List<String> GENERAL_KEYS = List.of(
            "listen_addr", "listen_port", "auth_type", "auth_file", "auth_user", "auth_query",
            "pool_mode", "default_pool_size", "min_pool_size", "reserve_pool_size", "reserve_pool_timeout",
            "max_client_conn", "max_db_connections", "max_user_connections", "query_wait_timeout",
            "client_login_timeout", "idle_transaction_timeout", "server_lifetime", "server_idle_timeout",
            "server_connect_timeout", "server_login_retry", "server_reset_query", "server_reset_query_always",
            "server_check_query", "server_check_delay", "max_prepared_statements", "max_packet_size", "workers", "admin_users",
            "stats_users", "ignore_startup_parameters", "stats_period", "metrics_addr", "metrics_port", "databases",
            "consul", "etcd", "failover_hold_timeout", "switchover_hold_timeout", "proxy_protocol", "proxy_protocol_trusted", "tcp_keepalive",
            "tcp_keepidle", "tcp_keepintvl", "tcp_keepcnt", "tcp_user_timeout", "so_reuseport", "peer_id", "peers",
            "drain_accept_delay", "drain_timeout", "transport", "listen_mode", "query_timeout", "transaction_timeout",
            "client_idle_timeout", "cancel_wait_timeout", "max_db_client_connections", "max_user_client_connections",
            "client_tls_sslmode", "client_tls_key_file", "client_tls_cert_file", "client_tls_ca_file",
            "client_tls_protocols", "client_tls_ciphers", "client_tls_ecdhcurve", "server_tls_sslmode",
            "server_tls_ca_file", "server_tls_key_file", "server_tls_cert_file", "server_tls_protocols",
            "server_tls_ciphers", "client_channel_binding", "server_channel_binding");
    /** Names of the admin console's virtual databases; no configured database may take them. */
    public static final List<String> ADMIN_DATABASES = List.of("pgbouncer", "turnout");
    static final List<String> DATABASE_KEYS = DatabaseSection.KEYS;

    private ConfigLoader() {
    }

    public static TurnoutConfig load(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read config: " + e.getMessage(), e);
        }
        Path dir = file.toAbsolutePath().getParent();
        return parse(text, file.toString(), file, dir);
    }

    /** Parses YAML text; relative paths (auth_file) resolve against {@code baseDir}. */
    public static TurnoutConfig parse(String text, String name, Path source, Path baseDir) throws ConfigException {
        return parse(text, name, source, baseDir, Map.of());
    }

    /**
     * Parses YAML text with some top-level keys replaced by {@code overrides} (the admin console's
     * {@code SET key = value}), so an override is validated exactly like the same line in the file.
     */
    public static TurnoutConfig parse(String text, String name, Path source, Path baseDir,
                                      Map<String, String> overrides) throws ConfigException {
        return parse(text, name, source, baseDir, overrides, false);
    }

    /** The line of the first tag SnakeYAML cannot make a Tag of (its exception says none), or 0. */
    private static int badTagLine(String text) {
        try {
            for (org.yaml.snakeyaml.events.Event event : new Yaml(new SafeConstructor(new LoaderOptions()))
                    .parse(new StringReader(text))) {
                String tag = event instanceof org.yaml.snakeyaml.events.ScalarEvent scalar ? scalar.getTag()
                        : event instanceof org.yaml.snakeyaml.events.CollectionStartEvent start ? start.getTag() : null;
                if (tag != null) {
                    try {
                        new org.yaml.snakeyaml.nodes.Tag(tag);
                    } catch (IllegalArgumentException bad) {
                        return event.getStartMark().getLine() + 1;
                    }
                }
            }
        } catch (RuntimeException e) {
            return 0; // the events failed before the tag: the caller's message still says what is wrong
        }
        return 0;
    }

    /**
     * With {@code quiet}, nothing is logged: the pgbouncer.ini importer checks that its output loads, and its
     * stdout must carry only the YAML.
     */
    static TurnoutConfig parse(String text, String name, Path source, Path baseDir, Map<String, String> overrides,
                               boolean quiet) throws ConfigException {
        Node root;
        try {
            Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
            root = yaml.compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() != null ? e.getProblemMark().getLine() + 1 : 0;
            throw new ConfigException(name + ":" + line + ": invalid YAML: " + e.getProblem());
        } catch (org.yaml.snakeyaml.reader.ReaderException e) {
            // a character YAML does not allow (NUL, most control characters): found by fuzzing, it escaped
            int line = 1 + (int) text.substring(0, Math.min(e.getPosition(), text.length())).chars()
                    .filter(c -> c == '\n').count();
            throw new ConfigException(name + ":" + line + ": invalid YAML: character U+"
                    + String.format("%04X", e.getCodePoint()) + " is not allowed in a YAML file");
        } catch (org.yaml.snakeyaml.error.YAMLException e) {
            throw new ConfigException(name + ": invalid YAML: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            // SnakeYAML's composer rejects some tags (`!%1`: "Tag must not contain leading or trailing spaces")
            // with a plain IllegalArgumentException and no position; found by fuzzing, it escaped as a stack trace
            throw new ConfigException(name + ":" + badTagLine(text) + ": invalid YAML: tag: " + e.getMessage());
        }
        if (root == null) {
            throw new ConfigException(name + ":1: the file is empty; at least `databases:` is required");
        }
        for (Map.Entry<String, String> o : overrides.entrySet()) {
            override(root, name, o.getKey(), o.getValue());
        }
        YamlSection top = new YamlSection(name, "", root);
        top.rejectUnknown(GENERAL_KEYS);

        AuthType authType = enumValue(top, "auth_type", "scram-sha-256", AuthType::of, "trust, plain, md5, scram-sha-256, cert");
        Path authFile = null;
        Map<String, String> users = Map.of();
        authFile = top.path("auth_file", baseDir);
        if (authFile != null) {
            if (!Files.isReadable(authFile)) {
                throw top.error("auth_file", "cannot read " + authFile);
            }
            users = AuthFile.read(authFile);
            String loose = AuthFile.worldReadable(authFile);
            if (loose != null && !quiet) {
                LOG.warn("auth_file_world_readable file={} {} note=\"anyone on this host can read the secrets:"
                        + " chmod o-rwx (0640 root:turnout)\"", authFile, loose);
            }
        }
        String authUser = top.string("auth_user", null);
        String authQuery = top.string("auth_query", "SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
        if (authType != AuthType.TRUST && authType != AuthType.CERT && authFile == null && authUser == null) {
            throw top.error("auth_type", "auth_type " + authType.key() + " needs auth_file or auth_user to find secrets");
        }

        Duration failoverHold = top.duration("failover_hold_timeout", Duration.ofSeconds(30));
        PoolSettings pool = new PoolSettings(
                enumValue(top, "pool_mode", "session", PoolMode::of, "session, transaction, statement"),
                top.integer("default_pool_size", 20, 1, 100_000),
                top.integer("min_pool_size", 0, 0, 100_000),
                top.integer("reserve_pool_size", 0, 0, 100_000),
                top.duration("reserve_pool_timeout", Duration.ofSeconds(5)),
                top.integer("max_client_conn", 100, 1, 10_000_000),
                top.integer("max_db_connections", 0, 0, 1_000_000),
                top.integer("max_user_connections", 0, 0, 1_000_000),
                top.duration("query_wait_timeout", Duration.ofSeconds(120)),
                top.duration("client_login_timeout", Duration.ofSeconds(60)),
                top.duration("idle_transaction_timeout", Duration.ZERO),
                top.duration("server_lifetime", Duration.ofSeconds(3600)),
                top.duration("server_idle_timeout", Duration.ofSeconds(600)),
                top.duration("server_connect_timeout", Duration.ofSeconds(15)),
                top.duration("server_login_retry", Duration.ofSeconds(15)),
                emptyToNull(top.string("server_reset_query", "DISCARD ALL")),
                top.bool("server_reset_query_always", false),
                emptyToNull(top.string("server_check_query", "select 1")),
                top.duration("server_check_delay", Duration.ofSeconds(30)),
                top.integer("max_prepared_statements", 1000, 0, 1_000_000),
                failoverHold,
                top.duration("switchover_hold_timeout", failoverHold),
                enumValue(top, "listen_mode", "error", ListenMode::of, "error, pin"),
                new PoolSettings.ClientLimits(top.duration("query_timeout", Duration.ZERO),
                        top.duration("transaction_timeout", Duration.ZERO),
                        top.duration("client_idle_timeout", Duration.ZERO),
                        top.duration("cancel_wait_timeout", Duration.ofSeconds(10)),
                        top.integer("max_db_client_connections", 0, 0, 10_000_000),
                        top.integer("max_user_client_connections", 0, 0, 10_000_000)));
        if (top.section("consul") != null && top.section("etcd") != null) {
            throw top.error("etcd", "consul: and etcd: are alternatives; Patroni's keys are read from one of them");
        }
        ConsulConfig consul = ConsulSection.parse(top, baseDir);
        EtcdConfig etcd = EtcdSection.parse(top, baseDir);

        Map<String, DatabaseConfig> databases = new LinkedHashMap<>();
        Map<String, DatabaseConfig> templates = new LinkedHashMap<>();
        YamlSection dbs = top.section("databases");
        if (dbs == null || dbs.keys().isEmpty()) {
            throw new ConfigException(name + ":1: databases: at least one database is required");
        }
        for (String db : dbs.keys()) {
            if (ADMIN_DATABASES.contains(db)) {
                throw dbs.error(db, "'" + db + "' is the admin console's name; pick another database name");
            }
            DatabaseConfig d = DatabaseSection.parse(dbs, db, pool, consul != null || etcd != null);
            (d.isTemplate() ? templates : databases).put(db, d);
        }
        String metricsPort = top.string("metrics_port", null);
        TlsSettings tls = TlsSection.parse(top, dbs, baseDir);
        if (authType == AuthType.CERT && tls.clientCaFile() == null) {
            throw top.error("auth_type", "auth_type cert needs client TLS with client_tls_ca_file (the CA of the"
                    + " client certificates whose CN is the user name)");
        }

        return new TurnoutConfig(source,
                top.string("listen_addr", "127.0.0.1"),
                top.integer("listen_port", 6432, 0, 65535),
                authType, authFile, users, authUser, authQuery, pool, Map.copyOf(databases),
                top.integer("workers", 0, 0, 1024),
                top.integer("max_packet_size", Integer.MAX_VALUE, 1024, Integer.MAX_VALUE),
                List.copyOf(top.list("admin_users")),
                List.copyOf(top.list("stats_users")),
                top.duration("stats_period", Duration.ofSeconds(60)),
                top.string("metrics_addr", top.string("listen_addr", "127.0.0.1")),
                metricsPort == null ? -1 : top.integer("metrics_port", -1, 0, 65535),
                Map.copyOf(templates),
                consul,
                etcd,
                NetworkSection.parse(top),
                tls);
    }

    private static void override(Node root, String name, String key, String value) throws ConfigException {
        // sections cannot be SET as one value; changing them takes a RELOAD
        if (!GENERAL_KEYS.contains(key) || key.equals("databases") || key.equals("consul") || key.equals("etcd")
                || key.equals("peers") || key.equals("proxy_protocol_trusted")) {
            throw new ConfigException("SET: unknown parameter '" + key + "'");
        }
        if (!(root instanceof org.yaml.snakeyaml.nodes.MappingNode map)) {
            throw new ConfigException(name + ":1: expected a mapping of keys to values");
        }
        org.yaml.snakeyaml.nodes.Tag tag = new org.yaml.snakeyaml.resolver.Resolver()
                .resolve(org.yaml.snakeyaml.nodes.NodeId.scalar, value, true);
        var mark = new org.yaml.snakeyaml.error.Mark("SET", 0, -1, 0, new int[0], 0);
        var valueNode = new org.yaml.snakeyaml.nodes.ScalarNode(tag, value, mark, mark,
                org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN);
        var tuples = map.getValue();
        for (int i = 0; i < tuples.size(); i++) {
            if (tuples.get(i).getKeyNode() instanceof org.yaml.snakeyaml.nodes.ScalarNode k && k.getValue().equals(key)) {
                tuples.set(i, new org.yaml.snakeyaml.nodes.NodeTuple(k, valueNode));
                return;
            }
        }
        var keyNode = new org.yaml.snakeyaml.nodes.ScalarNode(org.yaml.snakeyaml.nodes.Tag.STR, key, mark, mark,
                org.yaml.snakeyaml.DumperOptions.ScalarStyle.PLAIN);
        tuples.add(new org.yaml.snakeyaml.nodes.NodeTuple(keyNode, valueNode));
    }

    interface Parser<T> {
        T parse(String value);
    }

    static <T> T enumValue(YamlSection s, String key, String fallback, Parser<T> parser, String allowed)
            throws ConfigException {
        String raw = s.string(key, fallback);
        T v = parser.parse(raw.trim());
        if (v == null) {
            throw s.error(key, "expected one of " + allowed + ", got '" + raw + "'");
        }
        return v;
    }

    private static String emptyToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
