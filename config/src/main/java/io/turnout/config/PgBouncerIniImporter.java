package io.turnout.config;

import io.turnout.config.PgBouncerIni.Entry;
import io.turnout.protocol.auth.Md5;
import io.turnout.protocol.auth.ScramSecret;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Turns a pgbouncer.ini (and optionally its userlist.txt) into an equivalent turnout.yaml, and lists every
 * setting that could not be carried over, with the file, line, section and key it came from. The YAML is
 * checked by loading it with {@link ConfigLoader}; if it does not load as it is (no database left, an
 * auth_file not on this machine...), that is one more warning, not a failure: the operator edits the result.
 */
public final class PgBouncerIniImporter {
    /**
     * Something not carried over. {@code file}/{@code section}/{@code key} may be null and {@code line} 0 when
     * they do not apply; {@link #toString()} is the one-line form printed on stderr.
     */
    public record Warning(String file, int line, String section, String key, String message) {
        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder();
            if (file != null) {
                sb.append(file).append(line > 0 ? ":" + line : "").append(": ");
            }
            if (section != null) {
                sb.append('[').append(section).append("] ");
            }
            if (key != null) {
                sb.append(key).append(": ");
            }
            return sb.append(message).toString();
        }
    }

    /** The turnout.yaml text and the warnings, ordered by file and line. */
    public record Result(String yaml, List<Warning> warnings) {
    }

    private PgBouncerIniImporter() {
    }

    /**
     * Imports {@code ini}; with {@code userlist} non-null also checks that file parses as an auth_file and
     * warns about secrets Turnout would not read as PgBouncer does.
     *
     * @throws ConfigException the ini (or userlist) cannot be read or PgBouncer itself would refuse it
     */
    public static Result importFile(Path ini, Path userlist) throws ConfigException {
        List<Entry> entries = PgBouncerIni.read(ini);
        List<Warning> warnings = new ArrayList<>();
        List<String> yaml = new ArrayList<>();
        yaml.add("# Turnout configuration imported from " + ini + " by `turnout import-pgbouncer`.");
        yaml.add("# What could not be carried over was printed as warnings; '# file:line' says where a value came from.");
        yaml.add("# To follow Patroni leaders from Consul rather than fixed hosts, give a database patroni_scope:");
        yaml.add("# instead of host:/port: and add a consul: section (README: Sharded Patroni databases from Consul).");
        yaml.addAll(PgBouncerSettings.map(section(entries, "pgbouncer"), ini.toString(), warnings));
        yaml.add("# Turnout's own, not in PgBouncer: metrics_port: 9127 serves /metrics, /health and /ready.");
        yaml.addAll(PgBouncerDatabases.map(section(entries, "databases"), warnings));
        for (Entry e : section(entries, "users")) {
            warnings.add(PgBouncerSettings.warn(e, "dropped: Turnout has no per-user settings (" + e.value() + ")"));
        }
        yaml.addAll(peers(section(entries, "peers"), warnings));
        if (userlist != null) {
            checkUserlist(userlist, warnings);
        }
        String text = String.join("\n", yaml) + "\n";
        try {
            ConfigLoader.parse(text, "turnout.yaml", null, ini.toAbsolutePath().getParent(), Map.of(), true);
        } catch (ConfigException e) {
            warnings.add(new Warning(null, 0, null, null, "the imported configuration does not load as it is: "
                    + e.getMessage()));
        }
        List<Warning> sorted = new ArrayList<>(warnings);
        // stable: within one line, warnings keep the order they were found in
        sorted.sort(Comparator.comparing((Warning w) -> w.file() == null ? "\uffff" : w.file())
                .thenComparingInt(Warning::line));
        return new Result(text, List.copyOf(sorted));
    }

    /** {@code [peers]}: {@code 1 = host=10.0.1.11 port=6432} becomes an entry of {@code peers:}. */
    private static List<String> peers(List<Entry> section, List<Warning> warnings) throws ConfigException {
        List<String> out = new ArrayList<>();
        for (Entry e : section) {
            String host = null;
            String port = "6432";
            for (String[] kv : PgBouncerDatabases.pairs(e)) {
                switch (kv[0]) {
                    case "host" -> host = kv[1];
                    case "port" -> port = kv[1];
                    default -> warnings.add(PgBouncerSettings.warn(e, kv[0] + "=" + kv[1]
                            + " dropped: a peer is only its address (cancel requests are forwarded there)"));
                }
            }
            if (host == null || host.startsWith("/") || !e.key().matches("\\d+") || !port.matches("\\d+")) {
                warnings.add(PgBouncerSettings.warn(e, "dropped: a peer needs a numeric id, a TCP host and a port"));
                continue;
            }
            if (out.isEmpty()) {
                out.add("peers:");
            }
            out.add("  - { id: " + e.key() + ", host: " + YamlText.scalar(host) + ", port: " + port + " }  # "
                    + e.file() + ":" + e.line());
        }
        return out;
    }

    private static List<Entry> section(List<Entry> entries, String name) {
        return entries.stream().filter(e -> e.section().equals(name)).toList();
    }

    private static void checkUserlist(Path userlist, List<Warning> warnings) throws ConfigException {
        Map<String, String> users = new TreeMap<>(AuthFile.read(userlist));
        List<String> lines;
        try {
            lines = Files.readAllLines(userlist, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(userlist + ": cannot read: " + e.getMessage(), e);
        }
        for (Map.Entry<String, String> u : users.entrySet()) {
            String problem = secretProblem(u.getValue());
            if (problem != null) {
                String quoted = "\"" + u.getKey().replace("\"", "\"\"") + "\"";
                int line = 0;
                for (int n = 0; n < lines.size(); n++) {
                    if (lines.get(n).strip().startsWith(quoted)) {
                        line = n + 1; // the last definition is the one that counts
                    }
                }
                warnings.add(new Warning(userlist.toString(), line, null, quoted, problem));
            }
        }
    }

    /** Why Turnout would not use this auth_file secret the way PgBouncer does, or null when it would. */
    static String secretProblem(String secret) {
        if (secret.isEmpty()) {
            return "empty secret: no password can be checked against it";
        }
        if (secret.startsWith("SCRAM-") && !ScramSecret.looksLikeScram(secret)) {
            return "not a well-formed SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> verifier;"
                    + " Turnout would take it as a plain password";
        }
        if (secret.startsWith("md5") && secret.length() == 35 && !Md5.looksLikeMd5(secret)) {
            return "shaped like an md5 hash but not md5 + 32 lowercase hex digits; Turnout would take it as a"
                    + " plain password";
        }
        return null;
    }
}
