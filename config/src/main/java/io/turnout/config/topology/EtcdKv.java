package io.turnout.config.topology;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * etcd's v3 JSON gateway as the source speaks it: request bodies for range and watch, and the replies
 * ({@code {"header":{"revision":"7"},"kvs":[{"key":b64,"value":b64,"mod_revision":"7"}]}}; watch messages
 * {@code {"result":{"header":..,"events":[{"type":"DELETE","kv":..}],"created","canceled","compact_revision"}}}).
 * int64 fields arrive as JSON strings; a PUT event has no "type" (the enum's zero value is left out).
 */
final class EtcdKv {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One key; {@code value} stays base64 until someone needs it (most watch traffic is never read). */
    record Kv(String key, String value, long modRevision) {
        String text() {
            return value == null ? null : decode(value);
        }
    }

    record Event(boolean delete, Kv kv) {
    }

    record Range(long revision, List<Kv> kvs) {
    }

    /**
     * One watch message. {@code canceled} with {@code compactRevision > 0}: the start revision was
     * compacted away; with a {@code cancelReason}: refused (an expired token says so there).
     */
    record WatchReply(long revision, List<Event> events, boolean created, boolean canceled, long compactRevision,
            String cancelReason) {
    }

    private EtcdKv() {
    }

    /** A range request for every key starting with {@code prefix}. */
    static ObjectNode rangeRequest(String prefix) {
        return JSON.createObjectNode().put("key", encode(prefix)).put("range_end", prefixEnd(prefix));
    }

    /** A watch of every key starting with {@code prefix}, from {@code startRevision} on. */
    static ObjectNode watchRequest(String prefix, long startRevision) {
        ObjectNode create = JSON.createObjectNode().put("key", encode(prefix)).put("range_end", prefixEnd(prefix))
                .put("start_revision", Long.toString(startRevision));
        ObjectNode body = JSON.createObjectNode();
        body.set("create_request", create);
        return body;
    }

    static Range range(JsonNode reply) throws IOException {
        failOnError(reply);
        List<Kv> kvs = new ArrayList<>();
        for (JsonNode kv : reply.path("kvs")) {
            kvs.add(kv(kv));
        }
        return new Range(revision(reply), kvs);
    }

    static WatchReply watch(JsonNode message) throws IOException {
        failOnError(message);
        JsonNode r = message.get("result");
        if (r == null || !r.isObject()) {
            throw new IOException("watch message without result: " + snippet(message));
        }
        List<Event> events = new ArrayList<>();
        for (JsonNode e : r.path("events")) {
            String type = e.path("type").asText("PUT");
            if (!type.equals("PUT") && !type.equals("DELETE")) {
                throw new IOException("unknown watch event type " + type);
            }
            events.add(new Event(type.equals("DELETE"), kv(e.path("kv"))));
        }
        String reason = r.path("cancel_reason").asText("");
        return new WatchReply(revision(r), events, r.path("created").asBoolean(false), r.path("canceled").asBoolean(false),
                r.path("compact_revision").asLong(0), reason.isEmpty() ? null : reason);
    }

    /**
     * The gateway's error object, as text, or null when there is none: {@code {"error":"...","code":16}} for a
     * unary call, {@code {"error":{"grpc_code":14,"message":"..."}}} inside a stream.
     */
    static String error(JsonNode reply) {
        JsonNode e = reply.get("error");
        if (e == null || e.isNull()) {
            return null;
        }
        JsonNode code = e.isObject() ? e.get("grpc_code") : reply.get("code");
        String text = e.isObject() ? e.path("message").asText(e.toString()) : e.asText();
        return text + (code != null ? " (code " + code.asText() + ")" : "");
    }

    /** Whether an error text (or a watch's cancel reason) says the auth token is invalid or too old. */
    static boolean isAuthError(String error) {
        return error != null && (error.contains("invalid auth token") || error.contains("auth store is old")
                || error.contains("Unauthenticated") || error.contains("(code 16)"));
    }

    static String encode(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }

    /** etcd's prefix convention, base64: the range end is the prefix with its last byte incremented. */
    static String prefixEnd(String prefix) {
        byte[] b = prefix.getBytes(StandardCharsets.UTF_8);
        if (b.length == 0 || b[b.length - 1] == (byte) 0xff) {
            throw new IllegalArgumentException("unsupported prefix '" + prefix + "'");
        }
        b[b.length - 1]++;
        return Base64.getEncoder().encodeToString(b);
    }

    static String snippet(JsonNode n) {
        String s = n.toString();
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    private static void failOnError(JsonNode reply) throws IOException {
        String error = error(reply);
        if (error != null) {
            throw new IOException(error);
        }
    }

    private static long revision(JsonNode withHeader) {
        return withHeader.path("header").path("revision").asLong(0);
    }

    private static Kv kv(JsonNode kv) throws IOException {
        JsonNode key = kv.get("key");
        if (key == null || !key.isTextual()) {
            throw new IOException("kv without key: " + snippet(kv));
        }
        try {
            JsonNode value = kv.get("value");
            return new Kv(decode(key.asText()), value == null || value.isNull() ? "" : value.asText(),
                    kv.path("mod_revision").asLong(0));
        } catch (IllegalArgumentException e) {
            throw new IOException("kv whose key is not base64: " + snippet(kv));
        }
    }
}
