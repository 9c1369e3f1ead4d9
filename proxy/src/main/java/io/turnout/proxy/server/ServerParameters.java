package io.turnout.proxy.server;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What one server connection's session parameters are: the values it reported at login, and what changed
 * since (by our set_config/RESET, or by a client's SET that the server reported). Decides what to run so
 * the connection matches the next client's parameters.
 */
final class ServerParameters {
    /** Parameters the server reported at login (canonical names), the base of every client's welcome. */
    private final Map<String, String> login = new LinkedHashMap<>();
    /** Parameters changed since login (lower-case names). */
    private final Map<String, String> changed = new HashMap<>();
    /** The client parameter set this connection is known to be set up for (identity cache). */
    private ParamSet configuredFor;

    void loggedIn(String name, String value) {
        login.put(name, value);
    }

    Map<String, String> login() {
        return login;
    }

    /** The server reported a change after login; true when it is one a client may carry to other servers. */
    boolean reported(String name, String value) {
        String key = name.toLowerCase(Locale.ROOT);
        if (!ParamSet.isClientSettable(key)) {
            return false;
        }
        changed.put(key, value);
        configuredFor = null;
        return true;
    }

    /** The statements that make this connection match {@code wanted}, or null; recorded as applied. */
    String setupFor(ParamSet wanted) {
        if (configuredFor == wanted) {
            return null;
        }
        StringBuilder resets = null;
        StringBuilder sets = null;
        for (Map.Entry<String, String> e : wanted.values().entrySet()) {
            String key = e.getKey();
            String have = changed.containsKey(key) ? changed.get(key) : loginValue(key);
            if (!e.getValue().equals(have)) {
                // set_config parses the value as a startup packet or postgresql.conf would: a list such as
                // search_path=a,b stays a list, where SET name TO 'a,b' would make it one quoted name
                sets = sets == null ? new StringBuilder("SELECT ") : sets.append(", ");
                sets.append("pg_catalog.set_config(").append(quoteLiteral(key)).append(", ")
                        .append(quoteLiteral(e.getValue())).append(", false)");
                changed.put(key, e.getValue());
            }
        }
        for (var it = changed.entrySet().iterator(); it.hasNext(); ) {
            String key = it.next().getKey();
            if (!wanted.values().containsKey(key)) {
                resets = append(resets, "RESET " + quoteIdent(key));
                it.remove();
            }
        }
        configuredFor = wanted;
        if (sets != null) {
            resets = append(resets, sets.toString());
        }
        return resets == null ? null : resets.toString();
    }

    /** A setup failed: nothing is known any more. */
    void forget() {
        configuredFor = null;
        changed.clear();
    }

    /** After DISCARD ALL or RESET ALL every parameter is back at its login value. */
    void afterReset(String resetQuery) {
        String q = resetQuery.toUpperCase(Locale.ROOT);
        if (q.contains("DISCARD ALL") || q.contains("RESET ALL")) {
            forget();
        }
    }

    private String loginValue(String lowerKey) {
        for (Map.Entry<String, String> e : login.entrySet()) {
            if (e.getKey().equalsIgnoreCase(lowerKey)) {
                return e.getValue();
            }
        }
        return null;
    }

    private static StringBuilder append(StringBuilder sb, String statement) {
        if (sb == null) {
            sb = new StringBuilder(64);
        } else {
            sb.append("; ");
        }
        return sb.append(statement);
    }

    static String quoteIdent(String s) {
        return '"' + s.replace("\"", "\"\"") + '"';
    }

    static String quoteLiteral(String s) {
        return "'" + s.replace("'", "''") + "'";
    }
}
