package io.turnout.proxy.server;

import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The session parameters a client wants in force on whatever server it is linked to (its startup
 * parameters, then every change the server reports). Immutable; keys are lower-cased GUC names because
 * PostgreSQL compares them case-insensitively. Instances are interned per pool, so "this server is already
 * set up for this client" is an identity check on the hot path.
 */
public final class ParamSet {
    /** Startup keys that are not GUCs and must never be SET. */
    private static final java.util.Set<String> NOT_SETTABLE = java.util.Set.of(
            "user", "database", "replication", "options");
    /**
     * Parameters PostgreSQL reports that no client sets by name (they follow SET ROLE, the login or the
     * server): replaying them on another server would fail, so they are never tracked.
     */
    private static final java.util.Set<String> SERVER_OWNED = java.util.Set.of(
            "server_version", "server_encoding", "integer_datetimes", "is_superuser", "session_authorization",
            "in_hot_standby");

    /** True for a (lower-case) reported parameter that follows the client from server to server. */
    public static boolean isClientSettable(String key) {
        return !SERVER_OWNED.contains(key);
    }

    private final Map<String, String> values;
    private final int hash;

    private ParamSet(Map<String, String> values) {
        this.values = Collections.unmodifiableMap(values);
        this.hash = values.hashCode();
    }

    public static final ParamSet EMPTY = new ParamSet(new TreeMap<>());

    /** The settable parameters of a startup packet, including {@code -c name=value} items of {@code options}. */
    public static ParamSet fromStartup(Map<String, String> startup) {
        TreeMap<String, String> m = new TreeMap<>();
        for (Map.Entry<String, String> e : startup.entrySet()) {
            String key = e.getKey().toLowerCase(Locale.ROOT);
            if (key.startsWith("_pq_.") || NOT_SETTABLE.contains(key) || SERVER_OWNED.contains(key)) {
                continue;
            }
            m.put(key, e.getValue());
        }
        String options = startup.get("options");
        if (options != null) {
            StartupOptions.parseInto(options, m);
        }
        return new ParamSet(m);
    }

    public Map<String, String> values() {
        return values;
    }

    public String get(String key) {
        return values.get(key);
    }

    /** This set with one parameter changed (the server reported a SET); itself when nothing changes. */
    public ParamSet with(String key, String value) {
        String k = key.toLowerCase(Locale.ROOT);
        if (value.equals(values.get(k))) {
            return this;
        }
        TreeMap<String, String> m = new TreeMap<>(values);
        m.put(k, value);
        return new ParamSet(m);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ParamSet p && p.hash == hash && p.values.equals(values);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
