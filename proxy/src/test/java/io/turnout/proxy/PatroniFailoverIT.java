package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.turnout.config.topology.ClusterState;
import io.turnout.config.topology.PatroniFailover;
import io.turnout.proxy.pool.SwitchoverDrain;
import io.turnout.proxy.testing.AdminClient;
import io.turnout.proxy.testing.Await;
import io.turnout.proxy.testing.EtcdKeyWatch;
import io.turnout.proxy.testing.EtcdServer;
import io.turnout.proxy.testing.KillTiming;
import io.turnout.proxy.testing.PatroniCluster;
import io.turnout.proxy.testing.PatroniControl;
import io.turnout.proxy.testing.PatroniNode;
import io.turnout.proxy.testing.ShardLoad;
import io.turnout.proxy.testing.TurnoutFixture;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Turnout in front of two real Patroni 3.0.2 clusters (two PostgreSQL nodes each) whose leaders it follows in a
 * real etcd, under write load on both shards: etcd down for a minute (Patroni's failsafe_mode keeps the leaders),
 * a planned switchover, one Patroni refuses when it is due, a scheduled one, maintenance mode with an expired
 * leader key, and a killed leader on shard A, shard B untouched throughout.
 *
 * <p>The clusters are started once (that is most of the cost) and the scenarios run in order: the etcd outage
 * needs every member alive for failsafe mode, so the kill comes last. Patroni's timing on this loaded machine
 * gets generous timeouts; what Turnout does is asserted exactly. Each scenario prints Patroni's share and
 * Turnout's share (from the new leader key reaching a watcher to the first commit on the new leader).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PatroniFailoverIT {
    private static final Duration PATRONI = Duration.ofSeconds(90);
    private static final Duration OUTAGE = Duration.ofMinutes(1);

    static EtcdServer etcd;
    static PatroniCluster a;
    static PatroniCluster b;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() throws Exception {
        long t0 = System.nanoTime();
        etcd = EtcdServer.start();
        List<PatroniCluster> clusters = PatroniCluster.startAll(etcd, 2, true, "shard-a", "shard-b");
        a = clusters.get(0);
        b = clusters.get(1);
        for (PatroniCluster c : clusters) {
            try (Connection conn = c.leader().connect(PatroniCluster.APP_DB); Statement st = conn.createStatement()) {
                st.execute(ShardLoad.TABLE);
            }
        }
        turnout = TurnoutFixture.builder()
                .set("etcd", "{ hosts: [\"" + etcd.hostPort() + "\"], namespace: " + a.namespace() + " }")
                .set("failover_hold_timeout", 60)
                .set("default_pool_size", 8)
                .set("admin_users", "admin")
                .user("admin", "admin_pw")
                .rawDatabase("shard_a", "patroni_scope: shard-a, dbname: app, user: postgres, password: postgres")
                .rawDatabase("shard_b", "patroni_scope: shard-b, dbname: app, user: postgres, password: postgres")
                .start();
        awaitTurnoutOn("shard_a", a.leader().pgPort());
        awaitTurnoutOn("shard_b", b.leader().pgPort());
        System.out.printf("patroni_setup: etcd, 2 clusters of 2 and Turnout ready in %d ms%n", ms(t0));
    }

    @AfterAll
    static void stop() {
        if (turnout != null) {
            turnout.close();
        }
        for (PatroniCluster c : new PatroniCluster[] {a, b}) {
            if (c != null) {
                c.close();
            }
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    @Test
    @Order(1)
    void etcdDownForAMinuteCostsNoClientErrorsAndASwitchoverAfterwardsIsFollowed() throws Exception {
        PatroniNode aLeader = a.leader();
        PatroniNode bLeader = b.leader();
        try (ShardLoad la = new ShardLoad(turnout, "shard_a", 4); ShardLoad lb = new ShardLoad(turnout, "shard_b", 2);
                AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            la.awaitCommits(100);
            lb.awaitCommits(50);
            // a leader keeps its role through the outage only if every member is in its /failsafe key: stopping
            // etcd before the leader wrote the replica there (seconds after start) demoted it (CI, session 9)
            awaitFailsafeTopology(a);
            awaitFailsafeTopology(b);
            long t0 = System.nanoTime();
            etcd.stop();
            long staleMs;
            JsonNode failsafe;
            try {
                awaitStale(admin, "1");
                staleMs = ms(t0);
                while (System.nanoTime() - t0 < OUTAGE.toNanos()) { // steady load the whole minute
                    Thread.sleep(2_000);
                    la.awaitCommits(20);
                    lb.awaitCommits(10);
                }
                failsafe = aLeader.status();
            } finally {
                etcd.restart(); // also when the outage part failed: the later tests need etcd
            }
            long back = System.nanoTime();
            awaitStale(admin, "0");
            long freshMs = ms(back);
            la.awaitCommits(100);
            lb.awaitCommits(50);
            System.out.printf("etcd_outage: down_ms=%d stale_after_ms=%d fresh_after_return_ms=%d commits_a=%d"
                    + " commits_b=%d errors_a=%d errors_b=%d leader_failsafe_active=%s%n", back / 1_000_000 - t0 / 1_000_000,
                    staleMs, freshMs, la.commits.get(), lb.commits.get(), la.failures.size(), lb.failures.size(),
                    failsafe == null ? "?" : failsafe.path("failsafe_mode_is_active").asText("absent"));
            assertThat(la.failures).as("shard A during the outage").isEmpty();
            assertThat(lb.failures).as("shard B during the outage").isEmpty();
            assertThat(admin.query("SHOW TOPOLOGY").only("database", "shard_a")).containsEntry("source", "etcd")
                    .containsEntry("leader", "127.0.0.1:" + aLeader.pgPort());
            assertThat(a.leaderName()).as("failsafe mode kept the leader").isEqualTo(aLeader.name());
            assertThat(b.leaderName()).isEqualTo(bLeader.name());
        }
        a.switchover();
        PatroniNode now = a.leader();
        assertThat(now).isNotSameAs(aLeader);
        awaitTurnoutOn("shard_a", now.pgPort());
        try (Connection c = turnout.connect(TurnoutFixture.USER, TurnoutFixture.PASSWORD, "shard_a", new Properties())) {
            assertThat(port(c)).isEqualTo(now.pgPort());
        }
    }

    /**
     * patronictl switchover: Patroni writes the failover key, its leader checks the candidate, checkpoints and
     * stops PostgreSQL, then the candidate takes the leader key and promotes. Turnout drains at the failover
     * key, so no transaction fails on either shard and none starts on the old leader after the drain.
     */
    @Test
    @Order(2)
    void plannedSwitchoverFailsNoTransactionAndLeavesTheOldLeaderAlone() throws Exception {
        PatroniNode old = a.leader();
        PatroniNode candidate = a.replicas().get(0);
        try (ShardLoad la = new ShardLoad(turnout, "shard_a", 6); ShardLoad lb = new ShardLoad(turnout, "shard_b", 3);
                EtcdKeyWatch key = EtcdKeyWatch.start(etcd, a.leaderKey())) {
            la.awaitCommits(200);
            lb.awaitCommits(100);
            la.maxTxNanos.set(0);
            long completedBefore = turnout.server().pools().database("shard_a").switchover()
                    .count(SwitchoverDrain.Result.COMPLETED);
            CompletableFuture<Long> promoted = promotedAt(candidate);
            long t0 = System.nanoTime();
            CompletableFuture<Duration> switchover = CompletableFuture.supplyAsync(a::switchover);
            // the clock starts when Turnout stops routing to the old leader (the failover key drained it)
            long seen = awaitTurnoutLeft("shard_a", old.pgPort(), switchover);
            Instant seenWall = Instant.now();
            switchover.get(PATRONI.toSeconds() * 2, TimeUnit.SECONDS);
            EtcdKeyWatch.Change put = key.awaitPut(candidate.name()::equals, t0, PATRONI);
            Share share = Share.of(la, candidate, put, promoted);
            la.awaitCommits(200);
            lb.awaitCommits(100);
            System.out.printf("patroni_switchover: patroni_ms=%d held_max_ms=%d drained_after_ms=%d %s failed_a=%d"
                    + " failed_b=%d%n", (put.nanos() - t0) / 1_000_000, la.maxTxNanos.get() / 1_000_000,
                    (seen - t0) / 1_000_000, share, la.failures.size(), lb.failures.size());
            assertThat(la.failures).as("shard A: a planned switchover fails nothing").isEmpty();
            assertThat(lb.failures).as("shard B untouched").isEmpty();
            assertThat(share.firstCommitAfterPromoteMs()).as("Turnout's share of the switchover (from the promotion)").isLessThan(1000);
            assertThat(a.leaderName()).isEqualTo(candidate.name());
            assertThat(rowsOn(candidate, old, seenWall.plusMillis(200))).as("rows written on the old leader after it"
                    + " drained").isZero();
            assertThat(turnout.server().pools().database("shard_a").switchover()
                    .count(SwitchoverDrain.Result.COMPLETED)).isEqualTo(completedBefore + 1);
        }
    }

    /**
     * A scheduled switchover cancelled before its time ({@code patronictl flush <scope> switchover}): Turnout shows
     * the pending request's candidate, holds nothing before, at or after the cancelled time, counts no drain.
     */
    @Test
    @Order(3)
    void aScheduledSwitchoverCancelledBeforeItsTimeHoldsNothing() throws Exception {
        PatroniNode old = a.leader();
        PatroniNode candidate = a.replicas().get(0);
        long cancelledBefore = count(SwitchoverDrain.Result.CANCELLED);
        try (ShardLoad la = new ShardLoad(turnout, "shard_a", 4)) {
            la.awaitCommits(100);
            Instant at = PatroniControl.scheduleSwitchover(a, old, candidate, Duration.ofSeconds(4));
            awaitState(c -> candidate.name().equals(c.candidate()), "showed the pending candidate");
            PatroniControl.flushSwitchover(a);
            awaitState(c -> c.candidate() == null, "dropped the cancelled request");
            long commitsBefore = la.commits.get();
            while (Instant.now().isBefore(at.plusMillis(500))) {
                assertThat(turnout.server().pools().database("shard_a").cluster().draining()).as("drained").isFalse();
                Thread.sleep(20);
            }
            la.awaitCommits(100);
            System.out.printf("patroni_flushed_switchover: commits_until_cancelled_time=%d failed_a=%d%n",
                    la.commits.get() - commitsBefore, la.failures.size());
            assertThat(la.failures).isEmpty();
            assertThat(la.firstCommitOn(old.pgPort(), System.nanoTime() - 1)).isPositive();
            assertThat(count(SwitchoverDrain.Result.CANCELLED)).as("nothing drained, nothing cancelled")
                    .isEqualTo(cancelledBefore);
            assertThat(a.leaderName()).isEqualTo(old.name());
        }
    }

    /**
     * A switchover Patroni refuses when it is due: scheduled 5 s ahead (Patroni's API checks a scheduled
     * switchover's candidate only then, in the leader's HA loop), and just before that the candidate's Patroni
     * hangs (SIGSTOP), so at scheduled_at the leader finds no healthy candidate and writes the failover key back
     * to {@code {}}. Turnout drains the leader at scheduled_at and serves it again when the key clears: the
     * transactions it held go to the old leader, none fails.
     */
    @Test
    @Order(4)
    void aDueSwitchoverPatroniRefusesDrainsThenServesTheOldLeaderAgain() throws Exception {
        PatroniNode old = a.leader();
        PatroniNode candidate = a.replicas().get(0);
        long cancelledBefore = count(SwitchoverDrain.Result.CANCELLED);
        long completedBefore = count(SwitchoverDrain.Result.COMPLETED);
        try (ShardLoad la = new ShardLoad(turnout, "shard_a", 6); ShardLoad lb = new ShardLoad(turnout, "shard_b", 3)) {
            la.awaitCommits(100);
            lb.awaitCommits(50);
            Instant at = PatroniControl.scheduleSwitchover(a, old, candidate, Duration.ofSeconds(5));
            // hang the candidate as late as safely possible: its member key lives 10 s without it
            while (Instant.now().isBefore(at.minusMillis(1500))) {
                assertThat(turnout.server().pools().database("shard_a").cluster().draining()).as("drained early").isFalse();
                Thread.sleep(20);
            }
            PatroniControl.hang(candidate);
            long drained;
            Instant drainedWall;
            long undrained;
            try {
                drained = awaitState(ClusterState::draining, "drained");
                drainedWall = Instant.now();
                la.maxTxNanos.set(0);
                undrained = awaitState(c -> !c.draining(), "stopped draining");
            } finally {
                PatroniControl.unhang(candidate);
            }
            long back = la.firstCommitOn(old.pgPort(), undrained);
            la.awaitCommits(100);
            lb.awaitCommits(50);
            System.out.printf("patroni_refused_switchover: drained_after_scheduled_ms=%d drained_ms=%d held_max_ms=%d"
                    + " first_commit_after_undrain_ms=%d failed_a=%d failed_b=%d%n",
                    Duration.between(at, drainedWall).toMillis(), (undrained - drained) / 1_000_000,
                    la.maxTxNanos.get() / 1_000_000, (back - undrained) / 1_000_000, la.failures.size(),
                    lb.failures.size());
            assertThat(la.failures).as("shard A: a refused switchover fails nothing").isEmpty();
            assertThat(lb.failures).as("shard B untouched").isEmpty();
            assertThat(drainedWall).as("drained at scheduled_at, not before").isAfterOrEqualTo(at);
            assertThat(back).as("a commit on the old leader after the drain ended").isPositive();
            assertThat(turnout.server().pools().database("shard_a").address().getPort()).isEqualTo(old.pgPort());
            assertThat(a.leaderName()).as("Patroni kept its leader").isEqualTo(old.name());
            assertThat(PatroniFailover.parse(etcd.get(a.namespace() + a.scope() + "/failover")))
                    .as("Patroni cleared the request").isNull();
            assertThat(old.logTail(400)).contains("manual failover: no healthy members found");
            assertThat(count(SwitchoverDrain.Result.CANCELLED)).isEqualTo(cancelledBefore + 1);
            assertThat(count(SwitchoverDrain.Result.COMPLETED)).isEqualTo(completedBefore);
        }
        a.awaitStreaming(PATRONI);
    }

    /**
     * {@code patronictl switchover --scheduled} 6 s ahead: until then the failover key is there but nothing is
     * held (commits go on on the old leader); at scheduled_at Turnout drains and the switchover completes with
     * no failed transaction.
     */
    @Test
    @Order(5)
    void aScheduledSwitchoverHoldsNothingBeforeItsTimeAndThenFailsNoTransaction() throws Exception {
        PatroniNode old = a.leader();
        PatroniNode candidate = a.replicas().get(0);
        long completedBefore = count(SwitchoverDrain.Result.COMPLETED);
        try (ShardLoad la = new ShardLoad(turnout, "shard_a", 6); ShardLoad lb = new ShardLoad(turnout, "shard_b", 3);
                EtcdKeyWatch key = EtcdKeyWatch.start(etcd, a.leaderKey())) {
            la.awaitCommits(100);
            lb.awaitCommits(50);
            CompletableFuture<Long> promoted = promotedAt(candidate);
            Instant at = PatroniControl.scheduleSwitchover(a, old, candidate, Duration.ofSeconds(6));
            long atNanos = System.nanoTime() + Duration.between(Instant.now(), at).toNanos();
            assertThat(etcd.get(a.namespace() + a.scope() + "/failover")).contains("scheduled_at");
            long commitsBefore = la.commits.get();
            la.maxTxNanos.set(0);
            while (Instant.now().isBefore(at.minusMillis(300))) { // the request is known, nothing is held
                assertThat(turnout.server().pools().database("shard_a").address().getPort()).isEqualTo(old.pgPort());
                Thread.sleep(20);
            }
            long committedBeforeAt = la.commits.get() - commitsBefore;
            long heldMaxBeforeMs = la.maxTxNanos.get() / 1_000_000;
            la.maxTxNanos.set(0);
            long seen = awaitTurnoutLeft("shard_a", old.pgPort(), new CompletableFuture<>());
            Instant seenWall = Instant.now();
            a.awaitLeader(n -> n == candidate, PATRONI);
            EtcdKeyWatch.Change put = key.awaitPut(candidate.name()::equals, atNanos, PATRONI);
            Share share = Share.of(la, candidate, put, promoted);
            la.awaitCommits(100);
            lb.awaitCommits(50);
            System.out.printf("patroni_scheduled_switchover: commits_before_scheduled_at=%d held_max_before_ms=%d"
                    + " drained_after_scheduled_ms=%d patroni_ms=%d held_max_ms=%d %s failed_a=%d failed_b=%d%n",
                    committedBeforeAt, heldMaxBeforeMs, (seen - atNanos) / 1_000_000, (put.nanos() - atNanos) / 1_000_000,
                    la.maxTxNanos.get() / 1_000_000, share, la.failures.size(), lb.failures.size());
            assertThat(la.failures).as("shard A: a scheduled switchover fails nothing").isEmpty();
            assertThat(lb.failures).as("shard B untouched").isEmpty();
            assertThat(committedBeforeAt).as("commits on the old leader until scheduled_at").isPositive();
            assertThat(seenWall).as("drained at scheduled_at, not before").isAfterOrEqualTo(at);
            assertThat(rowsOn(candidate, old, seenWall.plusMillis(200))).as("rows written on the old leader after it"
                    + " drained").isZero();
            assertThat(count(SwitchoverDrain.Result.COMPLETED)).isEqualTo(completedBefore + 1);
        }
        a.awaitStreaming(PATRONI);
    }

    /**
     * Maintenance mode: {@code patronictl pause}, then the leader's Patroni stops (paused, it leaves PostgreSQL
     * running and its leader key on the lease) and the key expires. Turnout keeps the last leader, fences nothing,
     * and SHOW TOPOLOGY says paused; the Patroni comes back, takes its key again, and {@code patronictl resume}.
     */
    @Test
    @Order(6)
    void inMaintenanceModeAnExpiredLeaderKeyFencesNothing() throws Exception {
        PatroniNode old = a.leader();
        try (ShardLoad la = new ShardLoad(turnout, "shard_a", 4); ShardLoad lb = new ShardLoad(turnout, "shard_b", 2);
                AdminClient admin = new AdminClient(turnout, "admin", "admin_pw")) {
            la.awaitCommits(100);
            lb.awaitCommits(50);
            PatroniControl.pause(a);
            awaitState(ClusterState::paused, "paused");
            long stopped = System.nanoTime();
            boolean exited = PatroniControl.stopPatroni(old, Duration.ofSeconds(10));
            assertThat(old.logTail(400)).contains("Postgresql is not stopped due paused state");
            awaitState(c -> c.lastError() != null && c.lastError().contains("maintenance mode"), "lost its leader key");
            long gone = System.nanoTime();
            assertThat(etcd.get(a.leaderKey())).as("the leader key expired").isNull();
            la.awaitCommits(100);
            lb.awaitCommits(50);
            long onOld = la.firstCommitOn(old.pgPort(), gone);
            Map<String, String> row = admin.query("SHOW TOPOLOGY").only("database", "shard_a");
            PatroniControl.startPatroni(old);
            long restarted = System.nanoTime();
            awaitState(c -> c.lastError() == null && old.name().equals(c.leaderName()), "had its leader key back");
            long keyBack = System.nanoTime();
            PatroniControl.resume(a);
            awaitState(c -> !c.paused(), "resumed");
            a.awaitStreaming(PATRONI);
            la.awaitCommits(100);
            lb.awaitCommits(50);
            System.out.printf("patroni_maintenance: patroni_exited_on_sigterm=%s key_gone_after_sigterm_ms=%d"
                    + " key_back_after_start_ms=%d commits_a=%d failed_a=%d failed_b=%d topology=%s%n", exited, (gone - stopped) / 1_000_000,
                    (keyBack - restarted) / 1_000_000, la.commits.get(), la.failures.size(), lb.failures.size(), row);
            assertThat(la.failures).as("shard A in maintenance mode").isEmpty();
            assertThat(lb.failures).as("shard B untouched").isEmpty();
            assertThat(onOld).as("a commit on the old leader after its key expired").isPositive();
            assertThat(row).containsEntry("leader", "127.0.0.1:" + old.pgPort()).containsEntry("state", "leader")
                    .containsEntry("paused", "1");
            assertThat(row.get("last_error")).contains("maintenance mode");
            assertThat(a.leaderName()).isEqualTo(old.name());
            assertThat(turnout.server().pools().database("shard_a").address().getPort()).isEqualTo(old.pgPort());
        }
    }

    @Test
    @Order(7)
    void aKilledLeaderHoldsNewTransactionsUntilPatroniPromotesAndFailsOnlyThoseInFlight() throws Exception {
        PatroniNode survivor = a.replicas().get(0);
        try (ShardLoad la = new ShardLoad(turnout, "shard_a", 6); ShardLoad lb = new ShardLoad(turnout, "shard_b", 3);
                EtcdKeyWatch key = EtcdKeyWatch.start(etcd, a.leaderKey())) {
            la.awaitCommits(200);
            lb.awaitCommits(100);
            CompletableFuture<Long> promoted = promotedAt(survivor);
            PatroniNode dead = a.killLeader();
            long killed = System.nanoTime(); // Patroni and PostgreSQL are gone by now
            KillTiming timing = a.awaitNewLeaderKey(PATRONI);
            EtcdKeyWatch.Change put = key.awaitPut(survivor.name()::equals, killed, PATRONI);
            Share share = Share.of(la, survivor, put, promoted);
            la.awaitCommits(200);
            lb.awaitCommits(100);
            System.out.printf("patroni_failover: patroni_detect_ms=%d %s key_gone_ms=%d failed_in_flight=%d"
                    + " failed_after_kill=%d%n", timing.newLeaderKey().toMillis(), share,
                    timing.leaderKeyGone().toMillis(), la.failures.size() - la.failuresBeganAfter(killed),
                    la.failuresBeganAfter(killed));
            assertThat(timing.newLeader()).isEqualTo(survivor.name());
            assertThat(dead).isNotSameAs(survivor);
            assertThat(la.failuresBeganAfter(killed)).as("transactions begun after the kill: " + la.failures).isZero();
            assertThat(lb.failures).as("shard B untouched").isEmpty();
            // Turnout's share starts at the later of the key and the promotion: Patroni 3.0.2 writes the key first
            // and once took 5 s from it to pg_ctl promote (promote_after_key_ms=5061, first commit 37 ms after it)
            assertThat(share.firstCommitAfterPromoteMs()).as("Turnout's share of the failover").isLessThan(1000);
        }
    }

    /**
     * Turnout's share of a leader change: from the new leader key reaching the test's etcd watch to the first
     * commit on the new leader; split where the new leader left recovery, since Patroni takes the key first.
     */
    record Share(long turnoutMs, long promoteAfterKeyMs, long firstCommitAfterPromoteMs) {
        static Share of(ShardLoad load, PatroniNode to, EtcdKeyWatch.Change put, CompletableFuture<Long> promoted)
                throws Exception {
            long first = load.firstCommitOn(to.pgPort(), put.nanos());
            assertThat(first).as("a commit on the new leader " + to).isPositive();
            long writable = promoted.get(PATRONI.toSeconds(), TimeUnit.SECONDS);
            return new Share((first - put.nanos()) / 1_000_000, (writable - put.nanos()) / 1_000_000,
                    (first - Math.max(writable, put.nanos())) / 1_000_000);
        }

        @Override
        public String toString() {
            return "turnout_ms=" + turnoutMs + " (promote_after_key_ms=" + promoteAfterKeyMs
                    + " first_commit_after_promote_ms=" + firstCommitAfterPromoteMs + ")";
        }
    }

    /**
     * When {@code node} left recovery, by its own answer to pg_is_in_recovery() on one connection polled every
     * 5 ms: Patroni writes the leader key before it promotes, and this splits Turnout's share from PostgreSQL's.
     */
    static CompletableFuture<Long> promotedAt(PatroniNode node) {
        CompletableFuture<Long> at = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try (Connection c = node.connect("postgres"); Statement st = c.createStatement()) {
                long deadline = System.nanoTime() + PATRONI.toNanos() * 2;
                while (System.nanoTime() < deadline) {
                    try (ResultSet rs = st.executeQuery("select pg_is_in_recovery()")) {
                        rs.next();
                        if (!rs.getBoolean(1)) {
                            at.complete(System.nanoTime());
                            return;
                        }
                    }
                    Thread.sleep(5);
                }
                at.completeExceptionally(new AssertionError(node + " stayed in recovery"));
            } catch (Exception e) {
                at.completeExceptionally(e);
            }
        }, "promotion-watch-" + node.name());
        t.setDaemon(true);
        t.start();
        return at;
    }

    /** Waits for Turnout's SHOW TOPOLOGY to say stale = {@code flag} for both shards. */
    static void awaitStale(AdminClient admin, String flag) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        AdminClient.Table t;
        do {
            t = admin.query("SHOW TOPOLOGY");
            if (t.only("database", "shard_a").get("stale").equals(flag)
                    && t.only("database", "shard_b").get("stale").equals(flag)) {
                return;
            }
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("SHOW TOPOLOGY never said stale=" + flag + ": " + t.rows());
    }

    /** Waits until Turnout routes {@code db} to {@code port}. */
    static void awaitTurnoutOn(String db, int port) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            InetSocketAddress at = turnout.server().pools().database(db).address();
            if (at != null && at.getPort() == port) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("Turnout never routed " + db + " to port " + port + "; SHOW TOPOLOGY says "
                + turnout.server().pools().database(db).cluster());
    }

    /** When Turnout stopped routing {@code db} to {@code oldPort} (no leader, or another one), polled closely. */
    static long awaitTurnoutLeft(String db, int oldPort, CompletableFuture<?> meanwhile) throws Exception {
        long deadline = System.nanoTime() + PATRONI.toNanos();
        while (System.nanoTime() < deadline) {
            InetSocketAddress at = turnout.server().pools().database(db).address();
            if (at == null || at.getPort() != oldPort) {
                return System.nanoTime();
            }
            if (meanwhile.isCompletedExceptionally()) {
                meanwhile.get(); // the switchover failed: say why
            }
            Thread.sleep(0, 200_000);
        }
        throw new AssertionError("Turnout kept routing " + db + " to port " + oldPort);
    }

    /** Waits until shard A's state as Turnout applies it matches; returns when (nanoTime). */
    /** Until Patroni's /failsafe key of {@code c} names every member (written by the leader as members join). */
    static void awaitFailsafeTopology(PatroniCluster c) {
        String key = c.namespace() + c.scope() + "/failsafe";
        Await.until("every member of " + c.scope() + " in " + key, PATRONI, () -> {
            String v = etcd.get(key);
            return v != null && c.nodes().stream().allMatch(n -> v.contains("\"" + n.name() + "\""));
        }, () -> key + " = " + etcd.get(key));
    }

    static long awaitState(Predicate<ClusterState> which, String what) throws InterruptedException {
        long deadline = System.nanoTime() + PATRONI.toNanos();
        ClusterState c = null;
        while (System.nanoTime() < deadline) {
            c = turnout.server().pools().database("shard_a").cluster();
            if (c != null && which.test(c)) {
                return System.nanoTime();
            }
            Thread.sleep(0, 200_000);
        }
        throw new AssertionError("shard_a never " + what + ": " + c + "\n" + a.describe());
    }

    /** Rows of fo_log written on {@code on} after {@code after}, read on {@code reader}. */
    static long rowsOn(PatroniNode reader, PatroniNode on, Instant after) throws Exception {
        try (Connection c = reader.connect(PatroniCluster.APP_DB); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select count(*) from fo_log where port = " + on.pgPort()
                        + " and ts > '" + after + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static long count(SwitchoverDrain.Result r) {
        return turnout.server().pools().database("shard_a").switchover().count(r);
    }

    static int port(Connection c) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select inet_server_port()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    static long ms(long sinceNanos) {
        return (System.nanoTime() - sinceNanos) / 1_000_000;
    }
}
