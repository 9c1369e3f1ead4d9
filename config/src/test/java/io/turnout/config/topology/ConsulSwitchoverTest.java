package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.ConsulConfig;
import io.turnout.config.testing.ConsulTestServer;
import io.turnout.config.topology.ClusterState.Status;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Patroni's failover and config keys in Consul: draining, its endings, scheduled requests, maintenance mode. */
class ConsulSwitchoverTest {
    private static final Duration SOON = Duration.ofSeconds(15);
    private static final String HOST = "10.1.0.1";

    private ConsulTestServer consul;
    private ConsulSource source;
    private final TopologyRecorder seen = new TopologyRecorder();

    @BeforeEach
    void start() throws Exception {
        consul = ConsulTestServer.start(null);
        consul.patroni().cluster("a", HOST, 5432, 2);
        source = new ConsulSource(ConsulConfig.of(consul.url()).withWait(Duration.ofSeconds(30)));
        source.watch("a");
        source.start(seen);
        seen.await(0, "a", s -> leads(s, "a-0"), SOON);
    }

    @AfterEach
    void stop() {
        source.close();
        consul.close();
    }

    private static boolean leads(ClusterState s, String name) {
        return s.status() == Status.LEADER && name.equals(s.leaderName()) && !s.stale();
    }

    private void failover(String json) {
        consul.put("service/a/failover", json);
    }

    @Test
    void switchoverDrainsTheLeaderUntilTheCandidateLeads() throws Exception {
        int mark = seen.count();
        failover("{\"leader\":\"a-0\",\"member\":\"a-1\"}");
        ClusterState d = seen.await(mark, "a", ClusterState::draining, SOON).topology().cluster("a");
        assertThat(d.leaderName()).isEqualTo("a-0");
        assertThat(d.candidate()).isEqualTo("a-1");
        assertThat(d.hasLeader()).as("nothing new goes to the old leader").isFalse();
        assertThat(d.drainingSince()).isNotNull();
        // the candidate's member key is read once: where to connect ahead of the promotion
        ClusterState known = seen.await(mark, "a", s -> s.draining() && s.switchoverTarget() != null, SOON).topology()
                .cluster("a");
        assertThat(known.switchoverTarget()).isEqualTo(new Endpoint(HOST, 5433));

        // the new leader takes the key and at once cleans the request up: separate watches may report the
        // cleanup first, which must not hand the old leader back for a moment
        consul.patroniSwitchover("a", "a-0", "a-1", Duration.ZERO);
        failover("{}");
        seen.await(mark, "a", s -> leads(s, "a-1") && s.candidate() == null, SOON);
        assertThat(seen.all().subList(mark, seen.count()))
                .noneMatch(x -> x.topology().cluster("a").draining() && "a-1".equals(x.topology().cluster("a").leaderName()))
                .noneMatch(x -> leads(x.topology().cluster("a"), "a-0"));
    }

    @Test
    void refusedSwitchoverGivesTheOldLeaderBack() throws Exception {
        int mark = seen.count();
        failover("{\"leader\":\"a-0\",\"member\":\"a-1\"}");
        seen.await(mark, "a", ClusterState::draining, SOON);
        consul.delete("service/a/failover");
        ClusterState back = seen.await(mark, "a", s -> leads(s, "a-0") && s.candidate() == null, SOON).topology().cluster("a");
        assertThat(back.leader()).isEqualTo(new Endpoint(HOST, 5432));
    }

    @Test
    void requestForAnotherLeaderDoesNotDrain() throws Exception {
        int mark = seen.count();
        failover("{\"leader\":\"a-1\",\"member\":\"a-0\"}");
        seen.await(mark, "a", s -> "a-0".equals(s.candidate()), SOON);
        assertThat(seen.all().subList(mark, seen.count())).noneMatch(x -> x.topology().cluster("a").draining());
    }

    @Test
    void scheduledSwitchoverDrainsOnlyWhenDue() throws Exception {
        int mark = seen.count();
        Instant at = Instant.now().plusSeconds(2);
        failover("{\"leader\":\"a-0\",\"member\":\"a-1\",\"scheduled_at\":\"" + OffsetDateTime.ofInstant(at, ZoneOffset.UTC) + "\"}");
        seen.await(mark, "a", s -> "a-1".equals(s.candidate()) && s.status() == Status.LEADER, SOON);
        TopologyRecorder.Seen d = seen.await(mark, "a", ClusterState::draining, SOON);
        assertThat(Instant.now()).isAfterOrEqualTo(at);
        assertThat(d.topology().cluster("a").drainingSince()).isEqualTo(at);
    }

    @Test
    void maintenanceModeKeepsTheLeaderWhenItsKeyExpires() throws Exception {
        int mark = seen.count();
        consul.put("service/a/config", "{\"ttl\":30,\"loop_wait\":10,\"pause\":true}");
        seen.await(mark, "a", s -> s.paused() && leads(s, "a-0"), SOON);
        consul.deleteLeader("a");
        ClusterState kept = seen.await(mark, "a", s -> s.lastError() != null && s.lastError().contains("maintenance"), SOON)
                .topology().cluster("a");
        assertThat(kept.status()).isEqualTo(Status.LEADER);
        assertThat(kept.leader()).isEqualTo(new Endpoint(HOST, 5432));
        assertThat(seen.all().subList(mark, seen.count())).noneMatch(x -> !x.topology().cluster("a").hasLeader());

        consul.put("service/a/config", "{\"ttl\":30,\"loop_wait\":10}");
        seen.await(mark, "a", s -> s.status() == Status.NO_LEADER && !s.paused(), SOON);
    }
}
