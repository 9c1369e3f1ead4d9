package io.turnout.config.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes Patroni's keys into a {@link ConsulTestServer} the way Patroni's Consul DCS does: the leader key
 * holds the member name and is acquired with the node's session; {@code members/<name>} holds compact
 * JSON (conn_url, api_url, state, role, version, xlog_location, timeline), also session-held.
 */
public final class PatroniWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Member(String host, int port) {
    }

    private final ConsulTestServer consul;
    private final String namespace;
    private final Map<String, Member> members = new ConcurrentHashMap<>();
    private final Map<String, Integer> timelines = new ConcurrentHashMap<>();
    private long xlog = 50_331_648;

    PatroniWriter(ConsulTestServer consul, String namespace) {
        this.consul = consul;
        this.namespace = namespace;
    }

    public String leaderKey(String scope) {
        return namespace + "/" + scope + "/leader";
    }

    public String memberKey(String scope, String name) {
        return namespace + "/" + scope + "/members/" + name;
    }

    /**
     * The leader key naming {@code member}, acquired with that member's session. A key held by another
     * member's session is deleted first, as Consul does when that session expires (Patroni creates its
     * sessions with behavior=delete): watchers may briefly see no leader, as they would in production.
     */
    public void leader(String scope, String member) {
        String holder = consul.session(leaderKey(scope));
        if (holder != null && !holder.equals(session(scope, member))) {
            deleteLeader(scope);
        }
        consul.acquire(leaderKey(scope), member, session(scope, member));
    }

    public void deleteLeader(String scope) {
        consul.delete(leaderKey(scope));
    }

    /** A running member with this role (master, primary, replica, promoted, demoted, standby_leader). */
    public void member(String scope, String name, String host, int port, String role) {
        member(scope, name, host, port, role, "running");
    }

    public synchronized void member(String scope, String name, String host, int port, String role, String state) {
        members.put(scope + "/" + name, new Member(host, port));
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("conn_url", "postgres://" + h + ":" + port + "/postgres");
        data.put("api_url", "http://" + h + ":8008/patroni");
        data.put("state", state);
        data.put("role", role);
        data.put("version", "4.0.4");
        if (state.equals("running")) {
            data.put("xlog_location", xlog += 4096);
            data.put("timeline", timelines.getOrDefault(scope, 1));
        }
        try {
            consul.acquire(memberKey(scope, name), JSON.writeValueAsString(data), session(scope, name));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A member value that is not what Patroni would write, to test that a watcher survives it. */
    public void rawMember(String scope, String name, String value) {
        consul.acquire(memberKey(scope, name), value, session(scope, name));
    }

    /** A cluster with a primary {@code <scope>-0} and replicas {@code <scope>-1..}, on consecutive ports. */
    public void cluster(String scope, String host, int firstPort, int size) {
        for (int i = 0; i < size; i++) {
            member(scope, scope + "-" + i, host, firstPort + i, i == 0 ? "primary" : "replica");
        }
        leader(scope, scope + "-0");
    }

    /**
     * A planned switchover as Patroni performs it: the old primary demotes and releases the leader key,
     * {@code leaderless} passes, the candidate takes the key, reports itself promoted, then primary on a
     * new timeline; the old primary rejoins as a replica. Both members must have been written before.
     */
    public void switchover(String scope, String from, String to, Duration leaderless) throws InterruptedException {
        Member old = known(scope, from);
        Member next = known(scope, to);
        member(scope, from, old.host(), old.port(), "demoted", "stopping");
        deleteLeader(scope);
        if (!leaderless.isZero()) {
            Thread.sleep(leaderless.toMillis());
        }
        leader(scope, to);
        member(scope, to, next.host(), next.port(), "promoted");
        timelines.merge(scope, 2, (a, b) -> a + 1);
        member(scope, to, next.host(), next.port(), "primary");
        member(scope, from, old.host(), old.port(), "replica");
    }

    private Member known(String scope, String name) {
        Member m = members.get(scope + "/" + name);
        if (m == null) {
            throw new IllegalArgumentException("member " + scope + "/" + name + " was never written");
        }
        return m;
    }

    private static String session(String scope, String member) {
        return UUID.nameUUIDFromBytes((scope + "/" + member).getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString();
    }
}
