package io.turnout.config;

import io.turnout.config.PgBouncerIni.Entry;
import io.turnout.config.PgBouncerIniImporter.Warning;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Maps pgbouncer.ini's {@code [databases]} lines (libpq-style connection strings) to Turnout's
 * {@code databases:} entries, one flow mapping per database with a comment naming its source line.
 */
final class PgBouncerDatabases {
    /** Connection-string keys with a Turnout counterpart, in the order they are written out. */
    private static final Map<String, String> SAME = new LinkedHashMap<>();

    static {
        for (String k : List.of("host", "port", "dbname", "user", "password", "pool_size", "min_pool_size")) {
            SAME.put(k, k);
        }
        SAME.put("reserve_pool", "reserve_pool_size");
        SAME.put("reserve_pool_size", "reserve_pool_size"); // PgBouncer 1.24's spelling
        SAME.put("pool_mode", "pool_mode");
        SAME.put("max_db_connections", "max_db_connections");
        SAME.put("auth_user", "auth_user");
        SAME.put("load_balance_hosts", "load_balance_hosts");
    }

    private static final List<String> INTS = List.of("port", "pool_size", "min_pool_size", "reserve_pool_size",
            "max_db_connections");
    private static final String STARTUP = "Turnout does not send per-database startup parameters; clients' own"
            + " settings apply (or ALTER DATABASE ... SET in PostgreSQL)";

    private PgBouncerDatabases() {
    }

    /** The {@code databases:} block (header line included); warnings for everything left out. */
    static List<String> map(List<Entry> section, List<Warning> warnings) throws ConfigException {
        Map<String, Entry> last = new LinkedHashMap<>();
        for (Entry e : section) {
            last.remove(e.key()); // a redefinition moves to where PgBouncer read it last
            last.put(e.key(), e);
        }
        List<String> lines = new ArrayList<>();
        for (Entry e : last.values()) {
            String line = database(e, warnings);
            if (line != null) {
                lines.add("  # " + e.file() + ":" + e.line());
                lines.add("  " + line);
            }
        }
        lines.add(0, lines.isEmpty() ? "databases: {}" : "databases:");
        return lines;
    }

    private static String database(Entry e, List<Warning> warnings) throws ConfigException {
        String name = e.key();
        if (name.equals("*")) {
            warnings.add(PgBouncerSettings.warn(e, "dropped: the '*' fallback database has no Turnout equivalent"
                    + " (Turnout's wildcards are 'prefix*' names, made for Patroni scopes); list each database"));
            return null;
        }
        if (ConfigLoader.ADMIN_DATABASES.contains(name)) {
            warnings.add(PgBouncerSettings.warn(e, "dropped: '" + name + "' is the name of Turnout's admin console"));
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String[] kv : pairs(e)) {
            String key = kv[0]; // PgBouncer compares them case-sensitively too
            String value = kv[1];
            String turnoutKey = SAME.get(key);
            if (turnoutKey == null) {
                warnings.add(PgBouncerSettings.warn(e, key + "=" + shown(key, value) + " dropped: " + why(key)));
            } else if (key.equals("host")) {
                List<String> several = PgBouncerSettings.split(value);
                out.put(turnoutKey, several.isEmpty() ? value : String.join(",", several));
            } else if (key.equals("port")) {
                List<String> several = PgBouncerSettings.split(value);
                if (several.size() > 1) {
                    warnings.add(PgBouncerSettings.warn(e, key + "=" + value + ": Turnout takes one port for all"
                            + " hosts; kept " + several.get(0)));
                }
                out.put(turnoutKey, several.isEmpty() ? value : several.get(0));
            } else {
                out.put(turnoutKey, value);
            }
        }
        String host = out.get("host");
        if (host == null || host.startsWith("/") || host.startsWith("@")) {
            warnings.add(PgBouncerSettings.warn(e, "dropped: " + (host == null ? "no host" : "host=" + host)
                    + " means a Unix socket, and Turnout connects over TCP only; add it with a TCP host"));
            return null;
        }
        if (out.containsKey("password") && !out.containsKey("user")) {
            warnings.add(PgBouncerSettings.warn(e, "password dropped: without user= PgBouncer ignores it too"));
            out.remove("password");
        }
        Map<String, String> ordered = order(out);
        if (host.indexOf(',') >= 0) {
            // PgBouncer spreads a comma list's connections over every host whatever its role: so does "any"
            ordered.put("target_session_attrs", TargetSessionAttrs.ANY.key());
        }
        StringBuilder sb = new StringBuilder(YamlText.scalar(name)).append(": { ");
        boolean first = true;
        for (Map.Entry<String, String> f : ordered.entrySet()) {
            String value = value(e, f.getKey(), f.getValue(), warnings);
            if (value != null) {
                sb.append(first ? "" : ", ").append(f.getKey()).append(": ").append(value);
                first = false;
            }
        }
        return sb.append(" }").toString();
    }

    private static Map<String, String> order(Map<String, String> out) {
        Map<String, String> ordered = new LinkedHashMap<>();
        for (String k : SAME.values()) {
            if (out.containsKey(k)) {
                ordered.put(k, out.get(k));
            }
        }
        return ordered;
    }

    private static String value(Entry e, String key, String value, List<Warning> warnings) {
        if (INTS.contains(key)) {
            try {
                return Integer.toString(Integer.parseInt(value));
            } catch (NumberFormatException ex) {
                warnings.add(PgBouncerSettings.warn(e, key + "=" + value + " dropped: not a whole number"));
                return null;
            }
        }
        if (key.equals("pool_mode")) {
            String mode = value.toLowerCase(Locale.ROOT);
            if (PoolMode.of(mode) == null) {
                warnings.add(PgBouncerSettings.warn(e, "pool_mode=" + value + " dropped: expected session,"
                        + " transaction or statement"));
                return null;
            }
            return mode;
        }
        if (key.equals("load_balance_hosts")) {
            if (LoadBalanceHosts.of(value) == null) {
                warnings.add(PgBouncerSettings.warn(e, "load_balance_hosts=" + value + " dropped: expected "
                        + LoadBalanceHosts.ALLOWED));
                return null;
            }
            return LoadBalanceHosts.of(value).key();
        }
        return YamlText.scalar(value);
    }

    private static String why(String key) {
        return switch (key) {
            case "client_encoding", "datestyle", "timezone", "application_name" -> STARTUP;
            case "connect_query" -> "Turnout runs no query on new server connections";
            case "auth_dbname", "auth_query" -> "not supported per database (the global auth_query applies)";
            case "server_lifetime", "max_db_client_connections" -> "not supported per database";
            default -> "unknown connection parameter";
        };
    }

    /** Passwords are not repeated in warnings that end up in terminals and CI logs. */
    private static String shown(String key, String value) {
        return key.contains("password") ? "***" : value;
    }

    /** PgBouncer's cstr_get_pair: {@code key=value} separated by spaces; a value may be 'quoted' with '' inside. */
    static List<String[]> pairs(Entry e) throws ConfigException {
        String s = e.value();
        List<String[]> pairs = new ArrayList<>();
        int i = 0;
        while (true) {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
            if (i >= s.length()) {
                return pairs;
            }
            int keyStart = i;
            while (i < s.length() && s.charAt(i) != '=' && s.charAt(i) != ' ') {
                i++;
            }
            String key = s.substring(keyStart, i);
            while (i < s.length() && s.charAt(i) == ' ') {
                i++;
            }
            if (key.isEmpty() || i >= s.length() || s.charAt(i) != '=') {
                throw syntax(e, "expected key=value at '" + s.substring(keyStart) + "'");
            }
            i++;
            while (i < s.length() && s.charAt(i) == ' ') {
                i++;
            }
            StringBuilder value = new StringBuilder();
            if (i < s.length() && s.charAt(i) == '\'') {
                for (i++; ; i++) {
                    if (i >= s.length()) {
                        throw syntax(e, key + ": unterminated quoted value");
                    }
                    if (s.charAt(i) == '\'') {
                        if (i + 1 < s.length() && s.charAt(i + 1) == '\'') {
                            i++;
                        } else {
                            i++;
                            break;
                        }
                    }
                    value.append(s.charAt(i));
                }
            } else {
                while (i < s.length() && s.charAt(i) != ' ') {
                    value.append(s.charAt(i++));
                }
            }
            if (value.length() == 0) {
                throw syntax(e, key + ": empty value");
            }
            pairs.add(new String[] {key, value.toString()});
        }
    }

    private static ConfigException syntax(Entry e, String message) {
        return new ConfigException(e.file() + ":" + e.line() + ": [" + e.section() + "] " + e.key()
                + ": syntax error in connection string: " + message);
    }
}
