package io.turnout.config.topology;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The failover key as Patroni 3.x writes it (dcs.manual_failover: compact JSON, "{}" when cleaned up). */
class PatroniFailoverTest {
    @Test
    void switchoverRequestWithLeaderCandidateAndSchedule() throws Exception {
        PatroniFailover f = PatroniFailover.parse(
                "{\"leader\":\"pg-1\",\"member\":\"pg-2\",\"scheduled_at\":\"2026-12-04T01:20:00.123456+00:00\"}");
        assertThat(f.leader()).isEqualTo("pg-1");
        assertThat(f.candidate()).isEqualTo("pg-2");
        assertThat(f.scheduledAt()).isEqualTo(Instant.parse("2026-12-04T01:20:00.123456Z"));
        assertThat(f.demotes("pg-1")).isTrue();
        assertThat(f.demotes("pg-2")).isFalse();
        assertThat(f.due(Instant.parse("2026-12-04T01:19:59Z"))).isFalse();
        assertThat(f.due(Instant.parse("2026-12-04T01:20:01Z"))).isTrue();

        PatroniFailover offset = PatroniFailover.parse("{\"leader\":\"pg-1\",\"scheduled_at\":\"2026-12-04T03:20:00+02:00\"}");
        assertThat(offset.scheduledAt()).isEqualTo(Instant.parse("2026-12-04T01:20:00Z"));
        assertThat(offset.candidate()).isNull();
    }

    @Test
    void failoverToACandidateDemotesWhoeverLeads() throws Exception {
        PatroniFailover f = PatroniFailover.parse("{\"member\":\"pg-3\"}");
        assertThat(f.leader()).isNull();
        assertThat(f.demotes("pg-1")).isTrue();
        assertThat(f.due(Instant.now())).isTrue();
    }

    @Test
    void cleanedUpEmptyOrAbsentIsNoRequest() throws Exception {
        assertThat(PatroniFailover.parse("{}")).isNull();
        assertThat(PatroniFailover.parse("")).isNull();
        assertThat(PatroniFailover.parse(null)).isNull();
        assertThat(PatroniFailover.parse("{\"leader\":\"\",\"member\":null}")).isNull();
    }

    @Test
    void legacyColonFormat() throws Exception {
        PatroniFailover f = PatroniFailover.parse("pg-1:pg-2");
        assertThat(f.leader()).isEqualTo("pg-1");
        assertThat(f.candidate()).isEqualTo("pg-2");
        assertThat(PatroniFailover.parse(":pg-2").leader()).isNull();
    }

    @Test
    void badValuesAreReported() {
        assertThatThrownBy(() -> PatroniFailover.parse("{\"leader\":")).isInstanceOf(PatroniDataException.class)
                .hasMessageContaining("failover key");
        assertThatThrownBy(() -> PatroniFailover.parse("{\"leader\":\"a\",\"scheduled_at\":\"tomorrow\"}"))
                .hasMessageContaining("scheduled_at 'tomorrow'");
    }

    @Test
    void maintenanceModeFromTheConfigKey() {
        assertThat(PatroniFailover.paused("{\"ttl\":30,\"loop_wait\":10,\"pause\":true}")).isTrue();
        assertThat(PatroniFailover.paused("{\"pause\":\"on\"}")).isTrue();
        assertThat(PatroniFailover.paused("{\"pause\":false}")).isFalse();
        assertThat(PatroniFailover.paused("{\"ttl\":30}")).isFalse();
        assertThat(PatroniFailover.paused("not json")).isFalse();
        assertThat(PatroniFailover.paused(null)).isFalse();
    }
}
