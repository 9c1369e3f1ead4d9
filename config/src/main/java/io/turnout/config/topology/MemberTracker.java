package io.turnout.config.topology;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a watcher knows about one shard's members, whatever the DCS: it takes the raw values of the
 * {@code members/<name>} keys and of the {@code status} / {@code optime/leader} keys, parses only what
 * changed, and publishes a new {@link ShardMembers} when anything in it did. A member whose value cannot be
 * used is listed as unreadable, not dropped silently. Not thread-safe: the source's loop thread owns it.
 */
final class MemberTracker {
    private static final Logger LOG = LoggerFactory.getLogger(MemberTracker.class);

    private final String dcs;
    private final String scope;
    private final Consumer<ShardMembers> publish;
    private final Map<String, String> raw = new HashMap<>();
    private final Map<String, PatroniMember> parsed = new HashMap<>();
    private final Map<String, String> unreadable = new HashMap<>();
    private String status;
    private String legacyOptime;
    private ShardMembers published;
    /** Nothing is published before the member keys were read once: an empty list would mean "no standby". */
    private boolean membersRead;

    MemberTracker(String dcs, String scope, Consumer<ShardMembers> publish) {
        this.dcs = dcs;
        this.scope = scope;
        this.publish = publish;
    }

    /** Every member key's value by member name, as last read; members not in it are gone. */
    void members(Map<String, String> values) {
        membersRead = true;
        raw.keySet().removeIf(name -> !values.containsKey(name));
        parsed.keySet().retainAll(raw.keySet());
        unreadable.keySet().retainAll(raw.keySet());
        for (Map.Entry<String, String> e : values.entrySet()) {
            String name = e.getKey();
            if (Objects.equals(raw.get(name), e.getValue()) && raw.containsKey(name)) {
                continue;
            }
            raw.put(name, e.getValue());
            parsed.remove(name);
            unreadable.remove(name);
            try {
                parsed.put(name, PatroniKeys.member(name, e.getValue()));
            } catch (PatroniDataException bad) {
                unreadable.put(name, bad.getMessage());
            }
        }
    }

    /** The {@code status} key's value (null: absent). */
    void status(String value) {
        status = value;
    }

    /** The legacy {@code optime/leader} key's value (null: absent). */
    void legacyOptime(String value) {
        legacyOptime = value;
    }

    ShardMembers current() {
        return published;
    }

    /** Publishes the members as they now stand, when that differs from the last published snapshot. */
    void publish() {
        if (!membersRead) {
            return;
        }
        ShardMembers next = new ShardMembers(scope, PatroniKeys.leaderLsn(status, legacyOptime),
                List.copyOf(parsed.values()), unreadable);
        if (next.equals(published)) {
            return;
        }
        if (published == null || !roster(next).equals(roster(published))) {
            LOG.info("{}_members_changed scope={} members={} unreadable={}", dcs, scope, roster(next).values(),
                    next.unreadable().keySet());
        }
        published = next;
        publish.accept(next);
    }

    /** What a member change worth a log line is made of: everything but the WAL positions that move each loop. */
    private static Map<String, String> roster(ShardMembers s) {
        Map<String, String> out = new TreeMap<>();
        for (PatroniMember m : s.members()) {
            out.put(m.name(), m.name() + "@" + m.endpoint() + ":" + m.role() + "/" + m.state()
                    + (m.replicationState() != null ? "/" + m.replicationState() : "")
                    + (m.noLoadBalance() ? "/noloadbalance" : ""));
        }
        return out;
    }
}
