package io.turnout.config.topology;

import static io.turnout.config.testing.PatroniEtcdValues.leaderIs;
import static io.turnout.config.testing.PatroniEtcdValues.member;
import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.EtcdConfig;
import io.turnout.config.testing.EtcdTestGateway;
import io.turnout.config.testing.PatroniEtcdValues;
import io.turnout.config.topology.ClusterState.Status;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * EtcdSource against the in-repo etcd gateway over real sockets: the corners a real etcd will not produce on
 * demand (messages cut into odd chunks, a watch canceled by compaction, an expired token, a frozen server).
 * EtcdSourceIT in proxy runs the same source against a real etcd.
 */
class EtcdSourceTest {
    private static final Duration SOON = Duration.ofSeconds(5);
    private static final String NS = "/service/";

    private EtcdTestGateway etcd;
    private EtcdSource source;
    private final TopologyRecorder seen = new TopologyRecorder();

    @BeforeEach
    void startGateway() throws Exception {
        etcd = EtcdTestGateway.start(null, null);
    }

    @AfterEach
    void stopAll() {
        if (source != null) {
            source.close();
        }
        etcd.close();
    }

    private EtcdSource source(EtcdConfig config, Duration probeIdle, String... scopes) throws Exception {
        source = new EtcdSource(config, probeIdle);
        for (String s : scopes) {
            source.watch(s);
        }
        source.start(seen);
        return source;
    }

    private EtcdSource source(String... scopes) throws Exception {
        return source(EtcdConfig.of(List.of(etcd.url())), Duration.ofSeconds(5), scopes);
    }

    private void cluster(String scope, int port) {
        PatroniEtcdValues.cluster(etcd::put, scope, port);
    }

    @Test
    void readThenWatchPublishesLeaderChangesAtOnceAndOnlyRealChanges() throws Exception {
        cluster("a", 5432);
        source("a");
        TopologyRecorder.Seen first = seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        assertThat(seen.all().get(0).topology().cluster("a").status()).isEqualTo(Status.UNKNOWN);
        assertThat(first.thread()).startsWith("turnout-etcd-");
        assertThat(first.topology().cluster("a").role()).isEqualTo("master");
        assertThat(source.kind()).isEqualTo("etcd");

        // Patroni's loop_wait rewrites (xlog_location) of every member are not changes
        int mark = seen.count();
        for (int i = 1; i <= 20; i++) {
            etcd.put(NS + "a/members/a-1", member(5432, "master", 50331744 + i * 100));
            etcd.put(NS + "a/members/a-2", member(5433, "replica", 50331744 + i * 100));
            etcd.put(NS + "a/status", "{\"optime\":" + (50331744 + i * 100) + "}");
        }
        long t0 = System.nanoTime();
        etcd.delete(NS + "a/leader");
        TopologyRecorder.Seen gone = seen.await(mark, "a", s -> s.status() == Status.NO_LEADER, SOON);
        long noLeaderUs = (gone.nanos() - t0) / 1000;
        assertThat(seen.count()).as("only the leader key's delete was published").isEqualTo(mark + 1);
        t0 = System.nanoTime();
        etcd.put(NS + "a/leader", "a-2");
        TopologyRecorder.Seen moved = seen.await(mark, "a", s -> leaderIs(s, "a-2", 5433), SOON);
        long movedUs = (moved.nanos() - t0) / 1000;
        System.out.println("etcd_no_leader_latency_us=" + noLeaderUs + " etcd_leader_change_latency_us=" + movedUs);
        assertThat(noLeaderUs).isLessThan(1_000_000);
        assertThat(movedUs).isLessThan(1_000_000);
        assertThat(moved.topology().cluster("a").index()).isEqualTo(etcd.revision());
        assertThat(etcd.requests).as("one read, one stream").containsExactly("range", "watch from=7");
        assertThat(seen.all()).allSatisfy(s -> assertThat(s.thread()).startsWith("turnout-etcd-"));
    }

    @Test
    void messagesCutIntoOddChunksAreReassembled() throws Exception {
        cluster("a", 5432);
        source("a");
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        for (int chunk : new int[] {1, 2, 3, 7, 64, 0}) {
            etcd.chunkBytes(chunk);
            int mark = seen.count();
            etcd.put(NS + "a/leader", "a-2");
            seen.await(mark, "a", s -> leaderIs(s, "a-2", 5433), SOON);
            etcd.put(NS + "a/leader", "a-1");
            seen.await(mark, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        }
        assertThat(etcd.requests).as("no stream broke").hasSize(2);
    }

    @Test
    void aWatchCanceledByCompactionIsReadAgainAndTheLostStatesAreSkipped() throws Exception {
        cluster("a", 5432);
        source("a");
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        etcd.awaitWatchers(1);
        etcd.stop(); // the source is cut off; meanwhile the leader moves twice and history is compacted
        seen.await(0, "a", ClusterState::stale, SOON);
        etcd.put(NS + "a/leader", "a-2");
        etcd.put(NS + "a/leader", "a-1");
        etcd.put(NS + "a/members/a-1", member(6432, "master", 1));
        etcd.compact(etcd.revision());
        int mark = seen.count();
        etcd.start();
        seen.await(mark, "a", s -> leaderIs(s, "a-1", 6432), SOON);
        assertThat(seen.all().subList(mark, seen.count())).as("a-2 led only inside the compacted history")
                .noneMatch(s -> "a-2".equals(s.topology().cluster("a").leaderName()));
        etcd.awaitWatchers(1);
        List<String> r = List.copyOf(etcd.requests);
        assertThat(r.subList(r.size() - 3, r.size())).containsExactly("watch from=7", "range", "watch from=10");
    }

    @Test
    void aResumedWatchReplaysWhatWasMissedAndStaleClears() throws Exception {
        cluster("a", 5432);
        source("a");
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        etcd.awaitWatchers(1);
        etcd.stop();
        TopologyRecorder.Seen stale = seen.await(0, "a", ClusterState::stale, SOON);
        assertThat(stale.topology().cluster("a").leader()).as("the last leader is kept").isEqualTo(
                new Endpoint("127.0.0.1", 5432));
        etcd.put(NS + "a/leader", "a-2");
        int mark = seen.count();
        etcd.start();
        seen.await(mark, "a", s -> leaderIs(s, "a-2", 5433), Duration.ofSeconds(10));
        assertThat(etcd.requests).as("no second read: the stream resumed").containsOnlyOnce("range");
    }

    @Test
    void theFirstAddressDeadTheNextIsUsed() throws Exception {
        URI dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = URI.create("http://127.0.0.1:" + s.getLocalPort());
        }
        cluster("a", 5432);
        long t0 = System.nanoTime();
        source(EtcdConfig.of(List.of(dead, etcd.url())), Duration.ofSeconds(5), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        System.out.println("etcd_first_leader_with_dead_first_address_ms=" + (System.nanoTime() - t0) / 1_000_000);
        assertThat(seen.all()).as("one failed address of two is no outage").noneMatch(s -> s.topology().cluster("a").stale());
    }

    @Test
    void tokensAreSentAndRenewedWhenEtcdForgetsThem() throws Exception {
        etcd.close();
        etcd = EtcdTestGateway.start("turnout", "s3cret");
        cluster("a", 5432);
        source(EtcdConfig.of(List.of(etcd.url())).withAuth("turnout", "s3cret"), Duration.ofSeconds(5), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        etcd.awaitWatchers(1);
        etcd.invalidateTokens(); // an etcd restart: its simple tokens are gone
        etcd.breakStreams();
        etcd.put(NS + "a/leader", "a-2");
        seen.await(0, "a", s -> leaderIs(s, "a-2", 5433), SOON);
        assertThat(etcd.requests).containsExactly("authenticate", "range", "watch from=7", "watch from=7",
                "authenticate", "watch from=7");
    }

    @Test
    void aFrozenEtcdIsNoticedByTheProbeAndMarkedStale() throws Exception {
        cluster("a", 5432);
        source(EtcdConfig.of(List.of(etcd.url())), Duration.ofMillis(600), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        etcd.awaitWatchers(1);
        long t0 = System.nanoTime();
        etcd.freeze();
        TopologyRecorder.Seen stale = seen.await(0, "a", ClusterState::stale, SOON);
        System.out.println("etcd_frozen_noticed_ms=" + (stale.nanos() - t0) / 1_000_000);
        assertThat(stale.topology().cluster("a").lastError()).contains("probe");
        etcd.thaw();
        seen.await(seen.count() - 1, "a", s -> leaderIs(s, "a-1", 5432), SOON);
    }

    @Test
    void scopesWatchedAtRuntimeAndDiscoveredComeFromTheOneStream() throws Exception {
        cluster("a", 5432);
        source("a");
        source.discover();
        seen.awaitTopology(0, t -> t.discoveredScopes().equals(Set.of("a")), SOON, "discovered a");
        cluster("b", 7432);
        seen.awaitTopology(0, t -> t.discoveredScopes().equals(Set.of("a", "b")), SOON, "discovered b");
        int mark = seen.count();
        source.watch("b");
        assertThat(seen.await(mark, "b", s -> true, SOON).topology().cluster("b").status()).isEqualTo(Status.UNKNOWN);
        seen.await(mark, "b", s -> leaderIs(s, "b-1", 7432), SOON);
        source.watch("nothing-here");
        seen.await(mark, "nothing-here", s -> s.status() == Status.NO_LEADER, SOON);
        for (String k : List.of("config", "initialize", "leader", "members/b-1", "members/b-2")) {
            etcd.delete(NS + "b/" + k);
        }
        seen.awaitTopology(mark, t -> t.discoveredScopes().equals(Set.of("a")), SOON, "b gone");
        assertThat(etcd.requests).containsExactly("range", "watch from=7");
    }

    @Test
    void aLeaderWhoseMemberKeyIsMissingOrBadIsHeldUntilItIsWritten() throws Exception {
        cluster("a", 5432);
        source("a");
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
        etcd.put(NS + "a/leader", "a-3"); // a new leader whose member key is not there yet
        ClusterState unresolved = seen.await(0, "a", s -> s.status() == Status.UNRESOLVED, SOON).topology().cluster("a");
        assertThat(unresolved.lastError()).contains("/service/a/members/a-3 is missing");
        etcd.put(NS + "a/members/a-3", "{\"state\":\"creating replica\",\"role\":\"uninitialized\"}");
        seen.await(0, "a", s -> s.status() == Status.UNRESOLVED && s.lastError().contains("no conn_url"), SOON);
        etcd.put(NS + "a/members/a-3", member(5500, "master", 1));
        seen.await(0, "a", s -> leaderIs(s, "a-3", 5500), SOON);
    }

    @Test
    void membersAndTheLeadersLsnFollowTheirKeys() throws Exception {
        MemberScenario.Dcs dcs = new MemberScenario.Dcs(NS + "s/", etcd::put, etcd::delete);
        MemberScenario.seed(dcs);
        source("leader-only");
        source.watchMembers("s");
        MemberScenario.run(dcs, seen);
        assertThat(source.current().members("leader-only")).isNull();
    }
}
