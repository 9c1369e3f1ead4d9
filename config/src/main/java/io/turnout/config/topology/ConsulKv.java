package io.turnout.config.topology;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/** Consul's KV reply bodies: {@code [{"Key","Value"(base64),"ModifyIndex",...}]} and key lists. */
final class ConsulKv {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One KV entry; {@code value} is the decoded UTF-8 text, null for a key stored without a value. */
    record Entry(String key, String value, long modifyIndex, String session) {
    }

    private ConsulKv() {
    }

    static List<Entry> entries(String body) throws IOException {
        JsonNode root = JSON.readTree(body);
        if (root == null || !root.isArray()) {
            throw new IOException("expected a JSON array of KV entries");
        }
        List<Entry> out = new ArrayList<>();
        for (JsonNode e : root) {
            JsonNode key = e.get("Key");
            if (key == null || !key.isTextual()) {
                throw new IOException("KV entry without Key");
            }
            JsonNode v = e.get("Value");
            String value;
            try {
                value = v == null || v.isNull() ? null
                        : new String(Base64.getDecoder().decode(v.asText()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException bad) {
                throw new IOException("KV entry " + key.asText() + " has a Value that is not base64");
            }
            JsonNode session = e.get("Session");
            out.add(new Entry(key.asText(), value, e.path("ModifyIndex").asLong(0),
                    session == null || session.isNull() ? null : session.asText()));
        }
        return out;
    }

    /** The value of the one entry a single-key GET returns. */
    static String singleValue(String body) throws IOException {
        List<Entry> entries = entries(body);
        if (entries.isEmpty()) {
            throw new IOException("empty KV reply");
        }
        return entries.get(0).value();
    }

    static List<String> keys(String body) throws IOException {
        JsonNode root = JSON.readTree(body);
        if (root == null || !root.isArray()) {
            throw new IOException("expected a JSON array of keys");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode k : root) {
            out.add(k.asText());
        }
        return out;
    }
}
