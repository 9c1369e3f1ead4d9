package io.turnout.config.topology;

import io.turnout.config.topology.EtcdKv.Event;
import io.turnout.config.topology.EtcdKv.Kv;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Patroni's keys under one etcd namespace as last read: per scope the leader's name, each member's value
 * (still base64: decoded only for a watched scope) and the names of the other keys (config, status, history,
 * failsafe...), so that a scope exists while any of its keys does; the failover and config keys' values are
 * kept too (switchover requests, maintenance mode), and status and optime/leader (the leader's last LSN).
 *
 * <p>Patroni rewrites every member key each loop_wait (xlog_location), so most events are members that do
 * not lead: {@link #apply} files them away with one map put and reports only what a watcher must re-check.
 * Not thread-safe: the source's loop thread owns it.
 */
final class EtcdMirror {
    private static final class Scope {
        String leader;
        final Map<String, String> members = new HashMap<>();
        final Set<String> others = new HashSet<>();
        /** Values (base64) of the keys a watcher reads besides the members: failover, config, status, optime/leader. */
        final Map<String, String> values = new HashMap<>();

        boolean empty() {
            return leader == null && members.isEmpty() && others.isEmpty();
        }
    }

    private static final Set<String> VALUES = Set.of(PatroniKeys.FAILOVER, PatroniKeys.CONFIG, PatroniKeys.STATUS,
            PatroniKeys.LEADER_OPTIME);

    /** {@code /service/}: Patroni's etcd keys start with a slash. */
    private final String prefix;
    private final Map<String, Scope> scopes = new HashMap<>();
    private boolean scopesChanged;
    /** Scopes with a member, status or optime/leader key changed since {@link #takeMembersChanged}. */
    private final Set<String> membersChanged = new HashSet<>();

    EtcdMirror(String prefix) {
        this.prefix = prefix;
    }

    /** Replaces everything with a fresh read of the namespace. */
    void reset(List<Kv> kvs) {
        scopes.clear();
        for (Kv kv : kvs) {
            apply(new Event(false, kv));
        }
        scopesChanged = true;
    }

    /**
     * Applies one event. Returns its scope when that scope's leader, or its leader's member value, changed
     * (what a watcher acts on); null for everything else.
     */
    String apply(Event e) {
        String key = e.kv().key();
        PatroniKeys.KeyPath path = key.startsWith(prefix) ? PatroniKeys.keyPath(key.substring(prefix.length())) : null;
        if (path == null || path.rest().isEmpty()) {
            return null;
        }
        Scope s = scopes.get(path.scope());
        if (s == null) {
            if (e.delete()) {
                return null;
            }
            s = new Scope();
            scopes.put(path.scope(), s);
            scopesChanged = true;
        }
        String changed = null;
        String member = path.member();
        if (path.isLeader()) {
            String name = e.delete() ? null : PatroniKeys.leaderName(e.kv().text());
            changed = java.util.Objects.equals(name, s.leader) ? null : path.scope();
            s.leader = name;
        } else if (member != null) {
            String before = e.delete() ? s.members.remove(member) : s.members.put(member, e.kv().value());
            boolean same = e.delete() ? before == null : e.kv().value().equals(before);
            changed = !same && member.equals(s.leader) ? path.scope() : null;
            if (!same) {
                membersChanged.add(path.scope());
            }
        } else {
            if (e.delete()) {
                s.others.remove(path.rest());
            } else {
                s.others.add(path.rest());
            }
            if (VALUES.contains(path.rest())) {
                String before = e.delete() ? s.values.remove(path.rest()) : s.values.put(path.rest(), e.kv().value());
                boolean same = java.util.Objects.equals(before, e.delete() ? null : e.kv().value());
                if (path.rest().equals(PatroniKeys.FAILOVER) || path.rest().equals(PatroniKeys.CONFIG)) {
                    changed = same ? null : path.scope();
                } else if (!same) {
                    membersChanged.add(path.scope());
                }
            }
        }
        if (s.empty()) {
            scopes.remove(path.scope());
            scopesChanged = true;
        }
        return changed;
    }

    /** The leader's member name, or null when the scope has no (non-empty) leader key. */
    String leader(String scope) {
        Scope s = scopes.get(scope);
        return s == null ? null : s.leader;
    }

    /** A member's value as text (Patroni's JSON), or null when its key is missing. */
    String member(String scope, String name) {
        Scope s = scopes.get(scope);
        String b64 = s == null ? null : s.members.get(name);
        return b64 == null ? null : EtcdKv.decode(b64);
    }

    /** Every member's value (Patroni's JSON) by member name; empty when the scope has none. */
    Map<String, String> members(String scope) {
        Scope s = scopes.get(scope);
        Map<String, String> out = new HashMap<>();
        if (s != null) {
            s.members.forEach((name, b64) -> out.put(name, EtcdKv.decode(b64)));
        }
        return out;
    }

    /** The scopes whose members, status or optime/leader changed since the last call; clears the set. */
    Set<String> takeMembersChanged() {
        Set<String> out = new TreeSet<>(membersChanged);
        membersChanged.clear();
        return out;
    }

    /** A scope's {@code failover}, {@code config}, {@code status} or {@code optime/leader} value as text, or null. */
    String text(String scope, String key) {
        Scope s = scopes.get(scope);
        String b64 = s == null ? null : s.values.get(key);
        return b64 == null ? null : EtcdKv.decode(b64);
    }

    Set<String> scopes() {
        return new TreeSet<>(scopes.keySet());
    }

    /** True once after a scope appeared or vanished (or after {@link #reset}): discovery republishes then. */
    boolean takeScopesChanged() {
        boolean c = scopesChanged;
        scopesChanged = false;
        return c;
    }
}
