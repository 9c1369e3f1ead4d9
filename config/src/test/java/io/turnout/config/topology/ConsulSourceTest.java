package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.ConsulConfig;
import io.turnout.config.testing.ConsulTestServer;
import io.turnout.config.topology.ClusterState.Status;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ConsulSource against the in-repo Consul test server, over real sockets. */
class ConsulSourceTest {
    // generous: a loaded 2-core CI machine can stall TLS handshakes and threads for seconds; latency is benchmarked elsewhere
    private static final Duration SOON = Duration.ofSeconds(15);
    private static final String HOST = "10.1.0.1";

    @TempDir
    Path dir;
    private ConsulTestServer consul;
    private ConsulSource source;
    private final TopologyRecorder seen = new TopologyRecorder();

    @BeforeEach
    void startConsul() throws Exception {
        consul = ConsulTestServer.start(null);
    }

    @AfterEach
    void stopAll() {
        if (source != null) {
            source.close();
        }
        consul.close();
    }

    private ConsulSource source(ConsulConfig config, String... scopes) throws Exception {
        source = new ConsulSource(config);
        for (String s : scopes) {
            source.watch(s);
        }
        source.start(seen);
        return source;
    }

    private ConsulConfig config(Duration wait) {
        return ConsulConfig.of(consul.url()).withWait(wait);
    }

    private static boolean leaderIs(ClusterState s, String name, int port) {
        return s.status() == Status.LEADER && name.equals(s.leaderName()) && s.leader().equals(new Endpoint(HOST, port))
                && !s.stale();
    }

    @Test
    void leaderAppearsThenMovesWithinMillisecondsOfTheWrite() throws Exception {
        consul.patroni().cluster("a", HOST, 5432, 2);
        source(config(Duration.ofSeconds(30)), "a");
        TopologyRecorder.Seen first = seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        assertThat(first.thread()).startsWith("turnout-consul-");
        assertThat(first.topology().cluster("a").role()).isEqualTo("primary");
        assertThat(seen.all().get(0).topology().cluster("a").status()).isEqualTo(Status.UNKNOWN);

        Thread.sleep(100); // let the blocking query settle on the server
        int mark = seen.count();
        long t0 = System.nanoTime();
        consul.patroniLeader("a", "a-1");
        TopologyRecorder.Seen moved = seen.await(mark, "a", s -> leaderIs(s, "a-1", 5433), SOON);
        long micros = (moved.nanos() - t0) / 1000;
        System.out.println("consul_leader_change_latency_us=" + micros);
        assertThat(micros).isLessThan(1_000_000);
        assertThat(moved.topology().version()).isGreaterThan(first.topology().version());
        assertThat(seen.all()).allSatisfy(s -> assertThat(s.thread()).startsWith("turnout-consul-"));
    }

    @Test
    void switchoverPublishesNoLeaderThenTheNewPrimary() throws Exception {
        consul.patroni().cluster("a", HOST, 5432, 2);
        source(config(Duration.ofSeconds(30)), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        int mark = seen.count();
        consul.patroniSwitchover("a", "a-0", "a-1", Duration.ofMillis(300));
        TopologyRecorder.Seen none = seen.await(mark, "a", s -> s.status() == Status.NO_LEADER, SOON);
        assertThat(none.topology().cluster("a").hasLeader()).isFalse();
        assertThat(none.topology().cluster("a").leaderName()).isNull();
        seen.await(mark, "a", s -> leaderIs(s, "a-1", 5433), SOON);
    }

    @Test
    void deletedLeaderKeyIsNoLeaderAndAnUnchangedReplyIsNotRepublished() throws Exception {
        consul.patroni().cluster("a", HOST, 5432, 2);
        source(config(Duration.ofSeconds(1)), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        consul.deleteLeader("a");
        int mark = seen.count();
        seen.await(mark, "a", s -> s.status() == Status.NO_LEADER, SOON);
        consul.patroniLeader("a", "a-0");
        seen.await(mark, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        Thread.sleep(100);

        int published = seen.count();
        int before = consul.requests(consul.patroni().leaderKey("a"));
        // same value rewritten (new ModifyIndex) and waits timing out: replies, but no change
        consul.patroniLeader("a", "a-0");
        consul.put(consul.patroni().leaderKey("a"), "a-0");
        Thread.sleep(2500);
        assertThat(seen.count()).as("republished an unchanged leader").isEqualTo(published);
        int queries = consul.requests(consul.patroni().leaderKey("a")) - before;
        System.out.println("consul_leader_queries_in_2500ms=" + queries);
        assertThat(queries).isBetween(2, 10);
    }

    @Test
    void indexGoingBackwardsIsResetAndDoesNotSpin() throws Exception {
        consul.patroni().cluster("a", HOST, 5432, 2);
        source(config(Duration.ofSeconds(1)), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        Thread.sleep(100);
        consul.resetIndex(3); // a snapshot restore: the index drops far below the one the watcher blocks on
        int mark = seen.count();
        consul.patroniLeader("a", "a-1");
        seen.await(mark, "a", s -> leaderIs(s, "a-1", 5433), SOON);
        assertThat(consul.index()).isLessThan(10);
        int before = consul.requests(consul.patroni().leaderKey("a"));
        Thread.sleep(2000);
        int queries = consul.requests(consul.patroni().leaderKey("a")) - before;
        System.out.println("consul_leader_queries_in_2000ms_after_reset=" + queries);
        assertThat(queries).as("blocking again, not looping").isBetween(1, 6);
        consul.patroniLeader("a", "a-0");
        seen.await(mark, "a", s -> leaderIs(s, "a-0", 5432), SOON);
    }

    /**
     * A watch whose plain read was answered before a snapshot restore, but whose reply lands after another
     * watch noticed the index going backwards, must not block on the pre-restore index: that would hide its
     * cluster's changes for a whole `wait` (60 s here), until some other watch notices again.
     */
    @Test
    void aReadInFlightAcrossARestoreDoesNotBlockOnTheOldIndex() throws Exception {
        consul.patroni().cluster("a", HOST, 5432, 2);
        consul.patroni().cluster("b", HOST, 6432, 2);
        ConsulTestServer.Hold held = consul.holdNextReply(consul.patroni().leaderKey("b"));
        source(config(Duration.ofSeconds(60)), "a", "b");
        seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        assertThat(held.arrived().await(SOON.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).isTrue();
        String aKey = consul.patroni().leaderKey("a");
        awaitRequest(0, r -> r.key().equals(aKey) && r.rawQuery() != null && r.rawQuery().contains("index="));
        Thread.sleep(100); // let a's blocking query settle on the server
        int logged = consul.requestLog().size();

        consul.resetIndex(3); // wakes a's blocking query with index 3: a notices, b's reply still says 100+
        awaitRequest(logged, r -> r.key().equals(aKey) && (r.rawQuery() == null || !r.rawQuery().contains("index=")));
        held.release().countDown();
        int mark = seen.count();
        consul.patroniLeader("b", "b-1");
        seen.await(mark, "b", s -> leaderIs(s, "b-1", 6433), SOON);
    }

    private void awaitRequest(int from, java.util.function.Predicate<ConsulTestServer.Request> p) throws Exception {
        long deadline = System.nanoTime() + SOON.toNanos();
        while (consul.requestLog().stream().skip(from).noneMatch(p)) {
            assertThat(System.nanoTime()).as("request awaited; log: " + consul.requestLog()).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    @Test
    void consulOutageKeepsTheLastLeaderMarkedStaleAndCatchesUpAfter() throws Exception {
        consul.patroni().cluster("a", HOST, 5432, 2);
        source(config(Duration.ofSeconds(30)), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        consul.stop();
        TopologyRecorder.Seen stale = seen.await(0, "a", ClusterState::stale, SOON);
        ClusterState s = stale.topology().cluster("a");
        assertThat(s.leader()).isEqualTo(new Endpoint(HOST, 5432));
        assertThat(s.lastError()).isNotBlank();
        assertThat(stale.topology().leaderChangesSince(seen.all().get(1).topology())).isEmpty();
        consul.patroniLeader("a", "a-1"); // Patroni moved on while we could not see it
        int mark = seen.count();
        Thread.sleep(1000);
        assertThat(seen.count()).as("retries publish nothing new while still down").isEqualTo(mark);
        consul.start();
        ClusterState back = seen.await(mark, "a", x -> !x.stale(), SOON).topology().cluster("a");
        assertThat(back.leaderName()).isEqualTo("a-1");
        assertThat(back.lastError()).isNull();
    }

    @Test
    void tokenGoesInTheHeaderOnly() throws Exception {
        consul.close();
        consul = ConsulTestServer.start("s3cr3t-token");
        consul.patroni().cluster("a", HOST, 5432, 1);
        Path token = Files.writeString(dir.resolve("consul.token"), "s3cr3t-token\n");
        source(config(Duration.ofSeconds(30)).withToken(token), "a");
        seen.await(0, "a", x -> leaderIs(x, "a-0", 5432), SOON);
        List<ConsulTestServer.Request> log = consul.requestLog();
        assertThat(log).isNotEmpty().allSatisfy(r -> {
            assertThat(r.token()).isEqualTo("s3cr3t-token");
            assertThat(r.rawQuery() == null ? "" : r.rawQuery()).doesNotContain("token");
        });
    }

    @Test
    void wrongTokenIsReportedNotFatal() throws Exception {
        consul.close();
        consul = ConsulTestServer.start("right");
        consul.patroni().cluster("a", HOST, 5432, 1);
        Path token = Files.writeString(dir.resolve("consul.token"), "wrong");
        source(config(Duration.ofSeconds(30)).withToken(token), "a");
        ClusterState s = seen.await(0, "a", ClusterState::stale, SOON).topology().cluster("a");
        assertThat(s.status()).isEqualTo(Status.UNKNOWN);
        assertThat(s.lastError()).contains("403");
        Files.writeString(token, "right"); // rotated on disk: picked up on the next 403
        seen.await(0, "a", x -> leaderIs(x, "a-0", 5432), Duration.ofSeconds(15));
    }

    @Test
    void deadFirstAddressFallsThroughToTheNext() throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        consul.patroni().cluster("a", HOST, 5432, 1);
        source(config(Duration.ofSeconds(30)).withUrls(List.of(URI.create("http://127.0.0.1:" + dead), consul.url())), "a");
        seen.await(0, "a", x -> leaderIs(x, "a-0", 5432), SOON);
    }

    @Test
    void badMemberJsonIsRecordedAndTheWatchCarriesOn() throws Exception {
        consul.patroni().rawMember("a", "a-0", "{\"conn_url\":");
        consul.patroniLeader("a", "a-0");
        source(config(Duration.ofSeconds(30)), "a");
        ClusterState bad = seen.await(0, "a", s -> s.status() == Status.UNRESOLVED, SOON).topology().cluster("a");
        assertThat(bad.leaderName()).isEqualTo("a-0");
        assertThat(bad.hasLeader()).isFalse();
        assertThat(bad.lastError()).contains("a-0").contains("invalid JSON");
        consul.patroniMember("a", "a-0", HOST, 5432, "primary"); // Patroni's next loop rewrites it
        ClusterState good = seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON).topology().cluster("a");
        assertThat(good.lastError()).isNull();

        // the same leader's data turning bad keeps its endpoint and reports the error
        consul.patroni().rawMember("a", "a-0", "not json");
        consul.put(consul.patroni().leaderKey("a"), "a-0"); // wake the watch so it re-reads the member
        ClusterState kept = seen.await(0, "a", s -> s.lastError() != null && s.hasLeader(), SOON).topology().cluster("a");
        assertThat(kept.leader()).isEqualTo(new Endpoint(HOST, 5432));
    }

    @Test
    void scopesAreDiscoveredAndWatchedAtRuntime() throws Exception {
        consul.patroni().cluster("shard-a", HOST, 5432, 1);
        consul.put("service/stray-key", "x");
        source = new ConsulSource(config(Duration.ofSeconds(30)));
        source.discover();
        source.start(seen);
        seen.awaitTopology(0, t -> t.discoveredScopes().equals(java.util.Set.of("shard-a")), SOON, "discovery");
        consul.patroni().cluster("shard-b", HOST, 6432, 1);
        seen.awaitTopology(0, t -> t.discoveredScopes().contains("shard-b"), SOON, "new scope");
        source.watch("shard-b");
        source.watch("shard-c"); // not in Consul: read as no leader, distinct from not read yet
        seen.await(0, "shard-b", s -> s.hasLeader() && s.leader().port() == 6432, SOON);
        seen.await(0, "shard-c", s -> s.status() == Status.UNKNOWN, SOON);
        seen.await(0, "shard-c", s -> s.status() == Status.NO_LEADER, SOON);
        consul.deletePrefix("service/shard-b/");
        seen.awaitTopology(0, t -> t.discoveredScopes().equals(java.util.Set.of("shard-a")), SOON, "scope removed");
    }

    @Test
    void aStormOfWritesIsRateLimitedAndNotRepublished() throws Exception {
        consul.patroni().cluster("a", HOST, 5432, 1);
        source(config(Duration.ofSeconds(30)), "a");
        seen.await(0, "a", s -> leaderIs(s, "a-0", 5432), SOON);
        int published = seen.count();
        int before = consul.requests(consul.patroni().leaderKey("a"));
        long end = System.nanoTime() + 1_000_000_000L;
        int writes = 0;
        while (System.nanoTime() < end) {
            consul.put(consul.patroni().leaderKey("a"), "a-0"); // same value, new ModifyIndex each time
            writes++;
            java.util.concurrent.locks.LockSupport.parkNanos(50_000); // thousands per second, without hogging a core
        }
        int queries = consul.requests(consul.patroni().leaderKey("a")) - before;
        System.out.println("consul_leader_queries_during_" + writes + "_writes_in_1s=" + queries);
        assertThat(queries).as("one query per 50 ms at most").isBetween(5, 25);
        assertThat(seen.count()).isEqualTo(published);
    }

    @Test
    void manyScopesShareOneLoopThread() throws Exception {
        for (int i = 0; i < 12; i++) {
            consul.patroni().cluster("s" + i, HOST, 7000 + 10 * i, 1);
        }
        long threadsBefore = clientThreads();
        String[] scopes = new String[12];
        for (int i = 0; i < 12; i++) {
            scopes[i] = "s" + i;
        }
        source(config(Duration.ofSeconds(30)), scopes);
        seen.awaitTopology(0, t -> t.clusters().values().stream().filter(ClusterState::hasLeader).count() == 12,
                SOON, "twelve leaders");
        Thread.sleep(200); // all twelve blocking queries outstanding now
        long added = clientThreads() - threadsBefore;
        System.out.println("consul_threads_for_12_scopes=" + added);
        // one loop thread, the HTTP client's selector and its few pooled workers: not one per scope
        assertThat(added).isLessThanOrEqualTo(7);
        assertThat(seen.all().stream().map(TopologyRecorder.Seen::thread).distinct()).hasSize(1);
    }

    /** Live threads, not counting the test server's (it blocks one thread per waiting query, the client must not). */
    private static long clientThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && !t.getName().startsWith("consul-test-server")).count();
    }

    @Test
    void membersAndTheLeadersLsnFollowTheirKeys() throws Exception {
        MemberScenario.Dcs dcs = new MemberScenario.Dcs("service/s/", consul::put, consul::delete);
        MemberScenario.seed(dcs);
        source = new ConsulSource(config(Duration.ofSeconds(30)));
        source.watchMembers("s");
        source.watch("leader-only");
        source.start(seen);
        MemberScenario.run(dcs, seen);
        assertThat(source.current().members("leader-only")).isNull();
        assertThat(consul.requestLog()).extracting(ConsulTestServer.Request::key)
                .contains("service/s/members/", "service/s/status", "service/s/optime/leader")
                .as("a leader-only scope pays no member watch")
                .noneMatch(k -> k.startsWith("service/leader-only/members") || k.equals("service/leader-only/status"));
    }
}
