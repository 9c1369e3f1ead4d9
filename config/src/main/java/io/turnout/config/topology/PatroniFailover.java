package io.turnout.config.topology;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * A switchover or failover request as Patroni writes it to {@code <ns>/<scope>/failover} (POST /switchover,
 * {@code patronictl switchover}): {@code {"leader":"pg-1","member":"pg-2","scheduled_at":"2026-...+00:00"}}.
 * Patroni "deletes" the request by writing {@code {}}, and older versions wrote {@code leader:candidate}; a
 * value naming neither leader nor candidate is no request (Patroni's {@code Failover.__len__}).
 *
 * @param leader the member to be demoted, or null (a failover to {@code candidate} from whoever leads)
 * @param candidate the member to be promoted, or null (Patroni picks the healthiest)
 * @param scheduledAt when the leader demotes itself, or null for "as soon as its HA loop runs"
 */
public record PatroniFailover(String leader, String candidate, Instant scheduledAt) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The request in {@code value}, or null when it asks for nothing (absent, empty, {@code {}}). */
    public static PatroniFailover parse(String value) throws PatroniDataException {
        if (value == null || value.isBlank()) {
            return null;
        }
        String v = value.strip();
        if (!v.startsWith("{")) {
            // Patroni < 1.0 wrote "leader:candidate"; Patroni still reads it
            int colon = v.indexOf(':');
            return of(colon < 0 ? v : v.substring(0, colon), colon < 0 ? null : v.substring(colon + 1), null);
        }
        JsonNode root;
        try {
            root = JSON.readTree(v);
        } catch (JsonProcessingException e) {
            throw new PatroniDataException("failover key: invalid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new PatroniDataException("failover key: expected a JSON object");
        }
        return of(text(root, "leader"), text(root, "member"), scheduledAt(text(root, "scheduled_at")));
    }

    /** True when Patroni's {@code config} key value says the cluster is in maintenance mode. */
    public static boolean paused(String configValue) {
        if (configValue == null || configValue.isBlank()) {
            return false;
        }
        try {
            JsonNode p = JSON.readTree(configValue).get("pause");
            // Patroni reads it with its parse_bool: true, "true", "on", "yes", 1
            return p != null && (p.asBoolean(false) || (p.isTextual() && p.asText().matches("(?i)on|yes|1")));
        } catch (JsonProcessingException | RuntimeException e) {
            return false; // Patroni treats an unreadable config as empty
        }
    }

    /** True when this request demotes {@code currentLeader} (it names it, or names no leader). */
    public boolean demotes(String currentLeader) {
        return leader == null || leader.equals(currentLeader);
    }

    /** True when the demotion may start at {@code now}: no schedule, or its time has come. */
    public boolean due(Instant now) {
        return scheduledAt == null || !now.isBefore(scheduledAt);
    }

    private static PatroniFailover of(String leader, String candidate, Instant at) {
        String l = blankToNull(leader);
        String c = blankToNull(candidate);
        return l == null && c == null ? null : new PatroniFailover(l, c, at);
    }

    private static Instant scheduledAt(String s) throws PatroniDataException {
        if (s == null || s.isBlank()) {
            return null;
        }
        try {
            return OffsetDateTime.parse(s.strip().replace(' ', 'T')).toInstant();
        } catch (DateTimeParseException e) {
            try {
                return LocalDateTime.parse(s.strip().replace(' ', 'T')).toInstant(ZoneOffset.UTC);
            } catch (DateTimeParseException e2) {
                throw new PatroniDataException("failover key: unreadable scheduled_at '" + s + "'");
            }
        }
    }

    private static String text(JsonNode root, String field) {
        JsonNode n = root.get(field);
        return n == null || n.isNull() ? null : n.asText();
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s.strip();
    }
}
