package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The switchover view's clock: a scheduled request is either draining or still has a wait, never neither. */
class SwitchoverViewTest {
    private static final String MEMBER = "{\"conn_url\":\"postgres://10.1.0.1:5432/postgres\",\"role\":\"primary\","
            + "\"state\":\"running\",\"timeline\":1}";

    @Test
    void aScheduledRequestIsDueExactlyWhenNoWaitIsLeft() throws Exception {
        Instant at = Instant.parse("2026-12-07T10:00:00.123456789Z");
        SwitchoverView view = new SwitchoverView("consul", "a", true);
        ClusterState leader = ClusterState.leader("a", "a-0", PatroniKeys.member("a-0", MEMBER), at.minusSeconds(60), 7);
        view.leaderSeen(leader);
        view.failover("{\"leader\":\"a-0\",\"member\":\"a-1\",\"scheduled_at\":\"" + at + "\"}", at.minusSeconds(2));

        // the tracker asks both questions with one instant; each instant around the due time answers exactly one
        for (long offsetNanos : new long[] {-2_000_000_000L, -1_000_000, -1, 0, 1, 1_000_000}) {
            Instant now = at.plusNanos(offsetNanos);
            boolean draining = view.apply(leader, now).draining();
            Duration wait = view.untilDue(now);
            assertThat(draining).as("draining at %+d ns", offsetNanos).isEqualTo(offsetNanos >= 0);
            assertThat(wait).as("wait at %+d ns", offsetNanos).isEqualTo(offsetNanos >= 0 ? null : Duration.ofNanos(-offsetNanos));
        }
        assertThat(view.apply(leader, at).drainingSince()).isEqualTo(at);
    }
}
