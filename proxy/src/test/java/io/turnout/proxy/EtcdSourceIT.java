package io.turnout.proxy;

import static io.turnout.config.testing.PatroniEtcdValues.leaderIs;
import static io.turnout.config.testing.PatroniEtcdValues.member;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.turnout.config.EtcdConfig;
import io.turnout.config.testing.PatroniEtcdValues;
import io.turnout.config.topology.ClusterState.Status;
import io.turnout.config.topology.ClusterState;
import io.turnout.config.topology.Endpoint;
import io.turnout.config.topology.EtcdSource;
import io.turnout.config.topology.TopologyRecorder;
import io.turnout.proxy.testing.EtcdServer;
import io.turnout.proxy.testing.TcpGate;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Turnout's etcd source against a real etcd 3.4, with keys written the way Patroni 3.0.2 writes them: leader
 * changes within milliseconds, a compaction during a partition forcing a fresh read, an etcd restart (stale,
 * then caught up), a dead first address, and etcd's auth with the source's token dropped by etcd.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class EtcdSourceIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration SOON = Duration.ofSeconds(10);
    private static final String NS = "/service/";

    EtcdServer etcd;
    EtcdSource source;
    final TopologyRecorder seen = new TopologyRecorder();

    @BeforeEach
    void startEtcd() {
        etcd = EtcdServer.start();
    }

    @AfterEach
    void stopAll() {
        if (source != null) {
            source.close();
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    void start(EtcdConfig config, String... scopes) throws Exception {
        source = new EtcdSource(config);
        for (String s : scopes) {
            source.watch(s);
        }
        source.start(seen);
    }

    void cluster(String scope, int port) {
        PatroniEtcdValues.cluster(etcd::put, scope, port);
    }

    long revision() {
        return etcd.post("/v3/kv/range", JSON.createObjectNode().put("key", b64("/"))).path("header").path("revision")
                .asLong();
    }

    @Test
    void leaderChangesArePublishedWithinMillisecondsAndRewritesAreNot() throws Exception {
        cluster("shard-a", 5432);
        cluster("shard-b", 6432);
        start(EtcdConfig.of(List.of(URI.create(etcd.endpoint()))), "shard-a", "shard-b");
        seen.await(0, "shard-a", s -> leaderIs(s, "shard-a-1", 5432), SOON);
        seen.await(0, "shard-b", s -> leaderIs(s, "shard-b-1", 6432), SOON);
        Thread.sleep(200); // the watch stream is open by now

        int mark = seen.count();
        for (int i = 1; i <= 10; i++) { // Patroni's loop_wait rewrites of every member and of status
            for (String s : List.of("shard-a", "shard-b")) {
                int port = s.equals("shard-a") ? 5432 : 6432;
                etcd.put(NS + s + "/members/" + s + "-1", member(port, "master", 50331744 + i * 100));
                etcd.put(NS + s + "/members/" + s + "-2", member(port + 1, "replica", 50331744 + i * 100));
                etcd.put(NS + s + "/status", "{\"optime\":" + (50331744 + i * 100) + "}");
            }
        }
        long t0 = System.nanoTime();
        etcd.delete(NS + "shard-a/leader"); // what a switchover does first
        TopologyRecorder.Seen gone = seen.await(mark, "shard-a", s -> s.status() == Status.NO_LEADER, SOON);
        long goneMs = (gone.nanos() - t0) / 1_000_000;
        assertThat(seen.count()).as("60 rewrites published nothing; the delete once").isEqualTo(mark + 1);
        t0 = System.nanoTime();
        etcd.put(NS + "shard-a/leader", "shard-a-2");
        TopologyRecorder.Seen moved = seen.await(mark, "shard-a", s -> leaderIs(s, "shard-a-2", 5433), SOON);
        long movedMs = (moved.nanos() - t0) / 1_000_000;
        System.out.printf("etcd_source_it: no_leader_ms=%d new_leader_ms=%d%n", goneMs, movedMs);
        assertThat(goneMs).isLessThan(1000);
        assertThat(movedMs).isLessThan(1000);
        assertThat(moved.topology().cluster("shard-b")).satisfies(s -> assertThat(leaderIs(s, "shard-b-1", 6432)).isTrue());
        assertThat(moved.topology().cluster("shard-a").index()).isEqualTo(revision());
    }

    @Test
    void aCompactionDuringAPartitionForcesAFreshRead() throws Exception {
        cluster("shard-a", 5432);
        try (TcpGate gate = new TcpGate(etcd.clientPort())) {
            start(EtcdConfig.of(List.of(URI.create(gate.url()))), "shard-a");
            seen.await(0, "shard-a", s -> leaderIs(s, "shard-a-1", 5432), SOON);
            Thread.sleep(200);
            gate.cut();
            seen.await(0, "shard-a", ClusterState::stale, SOON);
            // while Turnout cannot see etcd: a failover to -2 and back to -1 on a new port, then a compaction
            etcd.put(NS + "shard-a/leader", "shard-a-2");
            etcd.put(NS + "shard-a/members/shard-a-1", member(7432, "master", 1));
            etcd.put(NS + "shard-a/leader", "shard-a-1");
            long rev = revision();
            etcd.post("/v3/kv/compaction", JSON.createObjectNode().put("revision", String.valueOf(rev))
                    .put("physical", true));
            int mark = seen.count();
            long t0 = System.nanoTime();
            gate.open();
            TopologyRecorder.Seen back = seen.await(mark, "shard-a", s -> leaderIs(s, "shard-a-1", 7432), SOON);
            System.out.printf("etcd_source_it: caught_up_after_compaction_ms=%d%n", (back.nanos() - t0) / 1_000_000);
            assertThat(seen.all().subList(mark, seen.count())).as("-2 led only inside the compacted history")
                    .noneMatch(s -> "shard-a-2".equals(s.topology().cluster("shard-a").leaderName()));
            assertThat(back.topology().cluster("shard-a").index()).isEqualTo(rev);
        }
    }

    @Test
    void etcdDownKeepsTheLastLeaderStaleAndIsCaughtUpAfter() throws Exception {
        cluster("shard-a", 5432);
        start(EtcdConfig.of(List.of(URI.create(etcd.endpoint()))), "shard-a");
        seen.await(0, "shard-a", s -> leaderIs(s, "shard-a-1", 5432), SOON);
        Thread.sleep(200);
        etcd.stop();
        ClusterState stale = seen.await(0, "shard-a", ClusterState::stale, SOON).topology().cluster("shard-a");
        assertThat(stale.leader()).as("the last leader is kept").isEqualTo(new Endpoint("127.0.0.1", 5432));
        assertThat(stale.status()).isEqualTo(Status.LEADER);
        int mark = seen.count();
        long t0 = System.nanoTime();
        etcd.restart();
        seen.await(mark, "shard-a", s -> leaderIs(s, "shard-a-1", 5432), Duration.ofSeconds(15));
        long recoveredMs = (System.nanoTime() - t0) / 1_000_000;
        etcd.put(NS + "shard-a/leader", "shard-a-2");
        seen.await(mark, "shard-a", s -> leaderIs(s, "shard-a-2", 5433), SOON);
        System.out.printf("etcd_source_it: not_stale_after_restart_ms=%d (restart and health check included)%n",
                recoveredMs);
    }

    @Test
    void aDeadFirstAddressIsSkipped() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        cluster("shard-a", 5432);
        long t0 = System.nanoTime();
        start(EtcdConfig.of(List.of(URI.create("http://127.0.0.1:" + dead), URI.create(etcd.endpoint()))), "shard-a");
        seen.await(0, "shard-a", s -> leaderIs(s, "shard-a-1", 5432), SOON);
        System.out.printf("etcd_source_it: first_leader_with_dead_first_address_ms=%d%n",
                (System.nanoTime() - t0) / 1_000_000);
        assertThat(seen.all()).noneMatch(s -> s.topology().cluster("shard-a").stale());
        etcd.put(NS + "shard-a/leader", "shard-a-2");
        seen.await(0, "shard-a", s -> leaderIs(s, "shard-a-2", 5433), SOON);
    }

    @Test
    void etcdAuthTokensAreRenewedAfterARestart() throws Exception {
        cluster("shard-a", 5432);
        // a reader role on Patroni's prefix, a turnout user with it, root for the test, then auth on
        etcd.post("/v3/auth/role/add", JSON.createObjectNode().put("name", "root"));
        etcd.post("/v3/auth/user/add", JSON.createObjectNode().put("name", "root").put("password", "rootpw"));
        etcd.post("/v3/auth/user/grant", JSON.createObjectNode().put("user", "root").put("role", "root"));
        etcd.post("/v3/auth/role/add", JSON.createObjectNode().put("name", "patroni-reader"));
        ObjectNode perm = JSON.createObjectNode().put("name", "patroni-reader");
        perm.putObject("perm").put("permType", "READ").put("key", b64(NS)).put("range_end", b64("/service0"));
        etcd.post("/v3/auth/role/grant", perm);
        etcd.post("/v3/auth/user/add", JSON.createObjectNode().put("name", "turnout").put("password", "tpw"));
        etcd.post("/v3/auth/user/grant", JSON.createObjectNode().put("user", "turnout").put("role", "patroni-reader"));
        etcd.post("/v3/auth/enable", JSON.createObjectNode());

        start(EtcdConfig.of(List.of(URI.create(etcd.endpoint()))).withAuth("turnout", "tpw"), "shard-a");
        seen.await(0, "shard-a", s -> leaderIs(s, "shard-a-1", 5432), SOON);
        Thread.sleep(200);
        // turning auth off and on drops every simple token (a restart alone does not: etcd replays the
        // authentications from its WAL); the restart then breaks the stream, which resumes with a dead token
        etcd.post("/v3/auth/disable", JSON.createObjectNode(), rootToken());
        etcd.post("/v3/auth/enable", JSON.createObjectNode());
        int mark = seen.count();
        etcd.restart();
        seen.await(mark, "shard-a", ClusterState::stale, SOON);
        awaitLatest("shard-a", s -> leaderIs(s, "shard-a-1", 5432), Duration.ofSeconds(15));
        etcd.post("/v3/kv/put", JSON.createObjectNode().put("key", b64(NS + "shard-a/leader")).put("value",
                b64("shard-a-2")), rootToken());
        seen.await(mark, "shard-a", s -> leaderIs(s, "shard-a-2", 5433), SOON);
    }

    String rootToken() {
        return etcd.post("/v3/auth/authenticate", JSON.createObjectNode().put("name", "root").put("password", "rootpw"))
                .path("token").asText();
    }

    /** Waits until the latest snapshot's state of {@code scope} matches (whatever came before). */
    void awaitLatest(String scope, java.util.function.Predicate<ClusterState> p, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        ClusterState last = null;
        while (System.nanoTime() < deadline) {
            List<TopologyRecorder.Seen> all = seen.all();
            last = all.get(all.size() - 1).topology().cluster(scope);
            if (p.test(last)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("latest state of " + scope + " never matched; last " + last);
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
