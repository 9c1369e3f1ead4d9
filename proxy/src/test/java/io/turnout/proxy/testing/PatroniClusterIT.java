package io.turnout.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Proves the {@link PatroniCluster} fixture with two real Patroni clusters sharing one real etcd, as Turnout's
 * failover tests will use them: replication, a planned switchover, a killed leader replaced and rejoining, and
 * the keys Patroni 3.0.2 writes to etcd (printed, as Turnout's etcd topology source parses exactly these).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PatroniClusterIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void twoClustersOnOneEtcdFollowSwitchoverAndFailover() throws Exception {
        long t0 = System.nanoTime();
        try (EtcdServer etcd = EtcdServer.start()) {
            List<PatroniCluster> clusters = PatroniCluster.startAll(etcd, 2, "shard-a", "shard-b");
            try (PatroniCluster a = clusters.get(0); PatroniCluster b = clusters.get(1)) {
                System.out.printf("PatroniClusterIT: etcd %s and 2 clusters of 2 started in %d ms%n", etcd.version(),
                        ms(t0));
                theKeysInEtcdAreWhatPatroniDocuments(etcd, a);
                String bLeader = b.leaderName();
                assertThat(bLeader).isEqualTo("shard-b-1");

                // replication: written on the leader, read on the replica, which refuses writes
                PatroniNode leader = a.leader();
                PatroniNode replica = a.replicas().get(0);
                assertThat(leader.isInRecovery()).isFalse();
                assertThat(replica.isInRecovery()).isTrue();
                sql(leader, "create table t (x int); insert into t values (1)");
                awaitCount(replica, 1);
                assertThatThrownBy(() -> sql(replica, "insert into t values (2)"))
                        .isInstanceOf(SQLException.class)
                        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("25006"));

                // planned switchover: the replica leads, the old leader follows it; shard-b is not touched
                Duration switchover = a.switchover();
                System.out.printf("PatroniClusterIT: switchover %s -> %s took %d ms%n", leader.name(),
                        replica.name(), switchover.toMillis());
                assertThat(a.leaderName()).isEqualTo(replica.name());
                assertThat(etcd.get(a.leaderKey())).isEqualTo(replica.name());
                assertThat(replica.isInRecovery()).isFalse();
                assertThat(leader.isInRecovery()).isTrue();
                assertThat(b.leaderName()).isEqualTo(bLeader);
                sql(replica, "insert into t values (2)");
                awaitCount(leader, 2);

                // a dead leader host: Patroni notices when the leader key's lease runs out, then promotes
                long killedAt = System.nanoTime();
                PatroniNode killed = a.killLeader();
                assertThat(killed).isSameAs(replica);
                KillTiming kill = a.awaitNewLeaderKey(Duration.ofSeconds(PatroniCluster.TTL_SECONDS + 30));
                PatroniNode promoted = a.awaitLeader(n -> n != killed, Duration.ofSeconds(30));
                System.out.printf("PatroniClusterIT: kill of %s -> leader key gone after %d ms, names %s after %d ms,"
                                + " which takes writes after %d ms (ttl %d s, loop_wait %d s)%n", kill.killed(),
                        kill.leaderKeyGone().toMillis(), kill.newLeader(), kill.newLeaderKey().toMillis(),
                        ms(killedAt), PatroniCluster.TTL_SECONDS, PatroniCluster.LOOP_WAIT_SECONDS);
                assertThat(kill.newLeader()).isEqualTo(leader.name()).isEqualTo(promoted.name());
                // the lease outlives its last refresh by at most ttl; then one loop_wait and a promotion
                assertThat(kill.newLeaderKey()).isLessThan(Duration.ofSeconds(PatroniCluster.TTL_SECONDS + 8));
                assertThat(kill.leaderKeyGone()).isLessThanOrEqualTo(kill.newLeaderKey());
                sql(promoted, "insert into t values (3)");
                assertThat(count(promoted)).isEqualTo(3);
                assertThat(b.leaderName()).isEqualTo(bLeader);
                assertThat(etcd.get(b.leaderKey())).isEqualTo(bLeader);

                // the dead host comes back: Patroni rewinds it and it follows the new leader
                Duration rejoin = a.restartNode(killed);
                System.out.printf("PatroniClusterIT: %s rejoined as a replica in %d ms%n", killed.name(),
                        rejoin.toMillis());
                assertThat(killed.isInRecovery()).isTrue();
                awaitCount(killed, 3);
                assertThat(a.leaderName()).isEqualTo(promoted.name());
            }
        }
        System.out.printf("PatroniClusterIT: whole test took %d ms%n", ms(t0));
    }

    /** Prints and checks the leader and member keys exactly as Patroni 3.0.2 wrote them. */
    private static void theKeysInEtcdAreWhatPatroniDocuments(EtcdServer etcd, PatroniCluster a) throws Exception {
        assertThat(a.leaderKey()).isEqualTo("/service/shard-a/leader");
        assertThat(etcd.get(a.leaderKey())).isEqualTo("shard-a-1").isEqualTo(a.leaderName());
        PatroniNode leader = a.node("shard-a-1");
        PatroniNode replica = a.node("shard-a-2");
        String leaderJson = etcd.get(a.memberKey(leader.name()));
        String replicaJson = etcd.get(a.memberKey(replica.name()));
        System.out.printf("PatroniClusterIT: %s = %s%n", a.leaderKey(), etcd.get(a.leaderKey()));
        System.out.printf("PatroniClusterIT: %s = %s%n", a.memberKey(leader.name()), leaderJson);
        System.out.printf("PatroniClusterIT: %s = %s%n", a.memberKey(replica.name()), replicaJson);
        System.out.printf("PatroniClusterIT: keys under /service/shard-a/: %s%n",
                etcd.getPrefix("/service/shard-a/").keySet());

        JsonNode l = JSON.readTree(leaderJson);
        assertThat(l.path("conn_url").asText()).isEqualTo("postgres://127.0.0.1:" + leader.pgPort() + "/postgres");
        assertThat(l.path("api_url").asText()).isEqualTo(leader.restUrl() + "/patroni");
        assertThat(l.path("role").asText()).isEqualTo("master");
        assertThat(l.path("state").asText()).isEqualTo("running");
        assertThat(l.path("version").asText()).isEqualTo("3.0.2");
        JsonNode r = JSON.readTree(replicaJson);
        assertThat(r.path("conn_url").asText()).isEqualTo("postgres://127.0.0.1:" + replica.pgPort() + "/postgres");
        assertThat(r.path("role").asText()).isEqualTo("replica");
        assertThat(etcd.getPrefix("/service/shard-a/")).containsKeys("/service/shard-a/config",
                "/service/shard-a/initialize", a.memberKey(leader.name()), a.memberKey(replica.name()));
    }

    private static void sql(PatroniNode n, String sql) throws SQLException {
        try (Connection c = n.connect(PatroniCluster.APP_DB); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static long count(PatroniNode n) throws SQLException {
        try (Connection c = n.connect(PatroniCluster.APP_DB); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select count(*) from t")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Replication is asynchronous: a replica has a write only some milliseconds later. */
    private static void awaitCount(PatroniNode n, long expected) {
        // a rejoining replica may still be starting up: a failed count is "not yet"
        Await.until(expected + " rows in t on " + n, Duration.ofSeconds(120), () -> {
            try {
                return count(n) == expected;
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static long ms(long since) {
        return (System.nanoTime() - since) / 1_000_000;
    }
}
