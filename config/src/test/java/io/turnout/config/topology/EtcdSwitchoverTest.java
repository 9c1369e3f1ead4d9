package io.turnout.config.topology;

import static io.turnout.config.testing.PatroniEtcdValues.leaderIs;
import static io.turnout.config.testing.PatroniEtcdValues.member;
import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.EtcdConfig;
import io.turnout.config.testing.EtcdTestGateway;
import io.turnout.config.testing.PatroniEtcdValues;
import io.turnout.config.topology.ClusterState.Status;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Patroni's failover and config keys in etcd, through the namespace mirror and its one watch stream. */
class EtcdSwitchoverTest {
    private static final Duration SOON = Duration.ofSeconds(10);
    private static final String NS = PatroniEtcdValues.NAMESPACE;

    private EtcdTestGateway etcd;
    private EtcdSource source;
    private final TopologyRecorder seen = new TopologyRecorder();

    @BeforeEach
    void start() throws Exception {
        etcd = EtcdTestGateway.start(null, null);
        PatroniEtcdValues.cluster(etcd::put, "a", 5432);
        source = new EtcdSource(EtcdConfig.of(List.of(etcd.url())));
        source.watch("a");
        source.start(seen);
        seen.await(0, "a", s -> leaderIs(s, "a-1", 5432), SOON);
    }

    @AfterEach
    void stop() {
        source.close();
        etcd.close();
    }

    @Test
    void switchoverDrainsThenTheCandidateLeads() throws Exception {
        int mark = seen.count();
        etcd.put(NS + "a/failover", "{\"leader\":\"a-1\",\"member\":\"a-2\"}");
        ClusterState d = seen.await(mark, "a", ClusterState::draining, SOON).topology().cluster("a");
        assertThat(d.leaderName()).isEqualTo("a-1");
        assertThat(d.candidate()).isEqualTo("a-2");
        assertThat(d.hasLeader()).isFalse();
        assertThat(d.switchoverTarget()).as("the candidate, from its member key: connected to ahead of the promotion")
                .isEqualTo(new Endpoint("127.0.0.1", 5433));

        etcd.delete(NS + "a/leader");
        ClusterState gone = seen.await(mark, "a", s -> s.status() == Status.NO_LEADER, SOON).topology().cluster("a");
        assertThat(gone.switchoverTarget()).as("still the candidate while the leader key is gone")
                .isEqualTo(new Endpoint("127.0.0.1", 5433));
        etcd.put(NS + "a/members/a-2", member(5433, "master", 50331900));
        etcd.put(NS + "a/leader", "a-2");
        etcd.put(NS + "a/failover", "{}");
        ClusterState led = seen.await(mark, "a", s -> leaderIs(s, "a-2", 5433) && s.candidate() == null, SOON)
                .topology().cluster("a");
        assertThat(led.switchoverTarget()).as("a leader: new servers go to it").isNull();
    }

    @Test
    void deletedRequestGivesTheOldLeaderBack() throws Exception {
        int mark = seen.count();
        etcd.put(NS + "a/failover", "{\"leader\":\"a-1\",\"member\":\"a-2\"}");
        seen.await(mark, "a", ClusterState::draining, SOON);
        etcd.delete(NS + "a/failover");
        seen.await(mark, "a", s -> leaderIs(s, "a-1", 5432) && s.candidate() == null, SOON);
    }

    @Test
    void pausedClusterKeepsItsLeaderWhenTheKeyExpires() throws Exception {
        int mark = seen.count();
        etcd.put(NS + "a/config", "{\"ttl\":10,\"loop_wait\":1,\"retry_timeout\":4,\"pause\":true}");
        seen.await(mark, "a", s -> s.paused(), SOON);
        etcd.delete(NS + "a/leader");
        ClusterState kept = seen.await(mark, "a", s -> s.lastError() != null, SOON).topology().cluster("a");
        assertThat(kept.status()).isEqualTo(Status.LEADER);
        assertThat(kept.leaderName()).isEqualTo("a-1");
        assertThat(seen.all().subList(mark, seen.count())).allMatch(x -> x.topology().cluster("a").hasLeader());
    }
}
