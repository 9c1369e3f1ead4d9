package io.turnout.config.testing;

import io.turnout.config.topology.ClusterState;
import io.turnout.config.topology.Endpoint;
import java.util.function.BiConsumer;

/**
 * Keys and values the way Patroni 3.0.2's etcd3 DCS writes them (member JSON whose conn_url has no user, as
 * PatroniClusterIT printed them), for tests of the etcd source against the in-repo gateway or a real etcd.
 */
public final class PatroniEtcdValues {
    public static final String NAMESPACE = "/service/";

    private PatroniEtcdValues() {
    }

    /** A running member's value on 127.0.0.1:{@code port}; Patroni rewrites it each loop_wait with a new xlog. */
    public static String member(int port, String role, long xlog) {
        return "{\"conn_url\":\"postgres://127.0.0.1:" + port + "/postgres\",\"api_url\":\"http://127.0.0.1:"
                + (port + 1000) + "/patroni\",\"state\":\"running\",\"role\":\"" + role
                + "\",\"version\":\"3.0.2\",\"xlog_location\":" + xlog + ",\"timeline\":1}";
    }

    /** A two-member cluster through {@code put}: config, initialize, {@code <scope>-1} leading on {@code port}, -2 on port + 1. */
    public static void cluster(BiConsumer<String, String> put, String scope, int port) {
        put.accept(NAMESPACE + scope + "/config", "{\"ttl\":10,\"loop_wait\":1,\"retry_timeout\":4}");
        put.accept(NAMESPACE + scope + "/initialize", "7311111111111111111");
        put.accept(NAMESPACE + scope + "/members/" + scope + "-1", member(port, "master", 50331744));
        put.accept(NAMESPACE + scope + "/members/" + scope + "-2", member(port + 1, "replica", 50331744));
        put.accept(NAMESPACE + scope + "/leader", scope + "-1");
    }

    /** The state names {@code name} on 127.0.0.1:{@code port} as leader, freshly read. */
    public static boolean leaderIs(ClusterState s, String name, int port) {
        return s.status() == ClusterState.Status.LEADER && name.equals(s.leaderName())
                && s.leader().equals(new Endpoint("127.0.0.1", port)) && !s.stale();
    }
}
