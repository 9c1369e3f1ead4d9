package io.turnout.config.topology;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The one parser of what Patroni writes in its DCS, shared by every source (Consul, etcd): key names under
 * {@code <namespace>/<scope>/}, the leader key's text and the member JSON. Bad data raises a checked
 * {@link PatroniDataException} so a watcher records it and keeps watching.
 */
public final class PatroniKeys {
    public static final String LEADER = "leader";
    public static final String MEMBERS = "members/";
    /** A switchover or failover request (see {@link PatroniFailover}). */
    public static final String FAILOVER = "failover";
    /** The cluster's dynamic configuration; {@code pause: true} is maintenance mode. */
    public static final String CONFIG = "config";
    /** Patroni 2.1+: JSON with the leader's last LSN in {@code optime} (also slots, retain_slots). */
    public static final String STATUS = "status";
    /** The legacy leader LSN (plain integer), written while a Patroni older than 2.1 is in the cluster. */
    public static final String LEADER_OPTIME = "optime/leader";
    static final int DEFAULT_PORT = 5432;

    // ObjectMapper is thread-safe once configured; readTree touches no shared mutable state
    private static final ObjectMapper JSON = new ObjectMapper();

    private PatroniKeys() {
    }

    /** {@code service/shard-a/leader} for namespace "service" (slashes around the namespace are ignored). */
    public static String leaderKey(String namespace, String scope) {
        return scopePrefix(namespace, scope) + LEADER;
    }

    /** {@code <ns>/<scope>/failover} or {@code <ns>/<scope>/config}. */
    public static String scopeKey(String namespace, String scope, String name) {
        return scopePrefix(namespace, scope) + name;
    }

    public static String memberKey(String namespace, String scope, String member) {
        return scopePrefix(namespace, scope) + MEMBERS + member;
    }

    public static String scopePrefix(String namespace, String scope) {
        return normalizeNamespace(namespace) + "/" + scope + "/";
    }

    /** Patroni's namespace setting is written {@code /service/}; keys carry it without the slashes. */
    public static String normalizeNamespace(String namespace) {
        String ns = namespace.strip();
        while (ns.startsWith("/")) {
            ns = ns.substring(1);
        }
        while (ns.endsWith("/")) {
            ns = ns.substring(0, ns.length() - 1);
        }
        return ns;
    }

    /**
     * A key below the namespace (without the namespace and its slashes) split into its scope and the rest,
     * e.g. {@code shard-a/members/shard-a-1}; null when it names no scope ({@code stray-key}, {@code /x}).
     */
    public static KeyPath keyPath(String belowNamespace) {
        int slash = belowNamespace.indexOf('/');
        return slash <= 0 ? null : new KeyPath(belowNamespace.substring(0, slash), belowNamespace.substring(slash + 1));
    }

    /** A scope's key: {@code rest} is {@code leader}, {@code members/<name>}, {@code config}, ... or empty (the scope's folder). */
    public record KeyPath(String scope, String rest) {
        public boolean isLeader() {
            return rest.equals(LEADER);
        }

        /** The member name of a {@code members/<name>} key, else null. */
        public String member() {
            if (!rest.startsWith(MEMBERS) || rest.length() == MEMBERS.length()) {
                return null;
            }
            String name = rest.substring(MEMBERS.length());
            return name.indexOf('/') < 0 ? name : null;
        }
    }

    /** The member name in the leader key, or null when the value is empty (treated as no leader). */
    public static String leaderName(String text) {
        if (text == null) {
            return null;
        }
        String name = text.strip();
        return name.isEmpty() ? null : name;
    }

    /** Parses a {@code members/<name>} value; only conn_url is required, the rest is informative. */
    public static PatroniMember member(String name, String json) throws PatroniDataException {
        if (json == null || json.isBlank()) {
            throw new PatroniDataException("member " + name + ": empty value");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new PatroniDataException("member " + name + ": invalid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new PatroniDataException("member " + name + ": expected a JSON object");
        }
        JsonNode connUrl = root.get("conn_url");
        if (connUrl == null || !connUrl.isTextual()) {
            throw new PatroniDataException("member " + name + ": no conn_url");
        }
        Endpoint endpoint;
        try {
            endpoint = connUrl(connUrl.asText());
        } catch (PatroniDataException e) {
            throw new PatroniDataException("member " + name + ": " + e.getMessage());
        }
        JsonNode timeline = root.get("timeline");
        java.util.Map<String, String> tags = new java.util.TreeMap<>();
        boolean noLoadBalance = false;
        JsonNode t = root.get("tags");
        if (t != null && t.isObject()) {
            for (java.util.Map.Entry<String, JsonNode> tag : t.properties()) {
                tags.put(tag.getKey(), tag.getValue().isValueNode() ? tag.getValue().asText() : tag.getValue().toString());
            }
            noLoadBalance = truthy(t.get("noloadbalance"));
        }
        return new PatroniMember(name, endpoint, text(root, "role"), text(root, "state"),
                timeline != null && timeline.canConvertToLong() ? timeline.asLong() : 0, text(root, "api_url"),
                lsn(root.get("xlog_location")), text(root, "replication_state"), tags, noLoadBalance);
    }

    /**
     * The leader's last LSN as Patroni's {@code Status.from_node} reads it: the {@code status} key when it
     * exists (JSON object with {@code optime}, or a bare integer), else the legacy {@code optime/leader}
     * key; 0 when unknown or unreadable, which Patroni's lag check takes as "not lagging".
     */
    public static long leaderLsn(String status, String legacyOptime) {
        String value = status != null ? status : legacyOptime;
        if (value == null) {
            return 0;
        }
        JsonNode root;
        try {
            root = JSON.readTree(value);
        } catch (JsonProcessingException e) {
            return 0;
        }
        if (root == null) {
            return 0;
        }
        return lsn(root.isObject() ? root.get("optime") : root.isIntegralNumber() ? root : null);
    }

    /** A byte position written as a JSON integer (or its text); 0 when absent, negative or not a number. */
    private static long lsn(JsonNode n) {
        if (n == null) {
            return 0;
        }
        long v;
        if (n.isNumber() && n.canConvertToLong()) {
            v = n.asLong();
        } else if (n.isTextual() && n.asText().strip().matches("\\d{1,19}")) {
            try {
                v = Long.parseLong(n.asText().strip());
            } catch (NumberFormatException e) {
                return 0;
            }
        } else {
            return 0;
        }
        return Math.max(v, 0);
    }

    /** Python's bool() of a JSON value: Patroni tests {@code bool(tags.get('noloadbalance', False))}. */
    private static boolean truthy(JsonNode n) {
        if (n == null || n.isNull()) {
            return false;
        }
        if (n.isBoolean()) {
            return n.asBoolean();
        }
        if (n.isNumber()) {
            return n.asDouble() != 0;
        }
        if (n.isTextual()) {
            return !n.asText().isEmpty();
        }
        return n.size() > 0;
    }

    /**
     * Host and port of Patroni's conn_url: {@code postgres://[user[:pw]@]host[:port][/db][?params]},
     * scheme postgres or postgresql, host a name, an IPv4 or a bracketed IPv6 literal; no port means 5432.
     */
    public static Endpoint connUrl(String url) throws PatroniDataException {
        int sep = url.indexOf("://");
        String scheme = sep < 0 ? "" : url.substring(0, sep).toLowerCase(Locale.ROOT);
        if (!scheme.equals("postgres") && !scheme.equals("postgresql")) {
            throw new PatroniDataException("conn_url '" + url + "' is not a postgres:// or postgresql:// URL");
        }
        String rest = url.substring(sep + 3);
        int end = rest.length();
        for (char c : new char[] {'/', '?', '#'}) {
            int i = rest.indexOf(c);
            if (i >= 0 && i < end) {
                end = i;
            }
        }
        String authority = rest.substring(0, end);
        authority = authority.substring(authority.lastIndexOf('@') + 1);
        if (authority.indexOf(',') >= 0) {
            throw new PatroniDataException("conn_url '" + url + "' names several hosts");
        }
        String host;
        String port = "";
        if (authority.startsWith("[")) {
            int close = authority.indexOf(']');
            if (close < 0) {
                throw new PatroniDataException("conn_url '" + url + "' has an unclosed [ in its host");
            }
            host = authority.substring(1, close);
            String after = authority.substring(close + 1);
            if (after.startsWith(":")) {
                port = after.substring(1);
            } else if (!after.isEmpty()) {
                throw new PatroniDataException("conn_url '" + url + "' has junk after the IPv6 host");
            }
        } else if (authority.indexOf(':') != authority.lastIndexOf(':')) {
            host = authority; // an IPv6 literal someone forgot to bracket; it cannot carry a port
        } else {
            int colon = authority.indexOf(':');
            host = colon < 0 ? authority : authority.substring(0, colon);
            port = colon < 0 ? "" : authority.substring(colon + 1);
        }
        host = percentDecode(host);
        if (host.isEmpty() || host.startsWith("/")) {
            throw new PatroniDataException("conn_url '" + url + "' has no TCP host");
        }
        if (port.isEmpty()) {
            return new Endpoint(host, DEFAULT_PORT);
        }
        try {
            int p = Integer.parseInt(port);
            if (p >= 1 && p <= 65535) {
                return new Endpoint(host, p);
            }
        } catch (NumberFormatException e) {
            // reported below with the whole URL
        }
        throw new PatroniDataException("conn_url '" + url + "' has a bad port '" + port + "'");
    }

    private static String text(JsonNode root, String field) {
        JsonNode n = root.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }

    private static String percentDecode(String s) throws PatroniDataException {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length()) {
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new PatroniDataException("bad percent-escape in host '" + s + "'");
                }
                out.write(hi * 16 + lo);
                i += 2;
            } else if (c == '%') {
                throw new PatroniDataException("bad percent-escape in host '" + s + "'");
            } else {
                out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
