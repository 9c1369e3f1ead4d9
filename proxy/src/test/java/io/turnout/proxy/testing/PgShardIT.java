package io.turnout.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.turnout.proxy.testing.PgServer.Role;
import io.turnout.proxy.testing.PgShard.Node;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Proves the {@link PgShard} fixture: streaming, failover after a crash, and planned switchovers both ways. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PgShardIT {

    @Test
    void theReplicaStreamsWhatThePrimaryWrites() throws Exception {
        try (PgShard shard = PgShard.start()) {
            Node primary = shard.primary();
            Node replica = shard.replica();
            assertThat(primary.port()).isNotEqualTo(replica.port());
            assertThat(primary.isInRecovery()).isFalse();
            assertThat(replica.isInRecovery()).isTrue();
            // streams over TCP, under its node name, as a replica on another host would
            assertThat(primary.psql("postgres", "select application_name, client_addr, state from pg_stat_replication"))
                    .isEqualTo("node2|127.0.0.1|streaming");

            primary.psql("app", "create table shard_t (x int);\ninsert into shard_t values (1), (2);");
            shard.awaitReplicaCaughtUp();

            // the roles and passwords came along with the base backup
            try (Connection c = replica.connect(Role.SCRAM, PgServer.APP_DB); Statement st = c.createStatement()) {
                assertThat(single(st, "select sum(x) from shard_t")).isEqualTo("3");
                assertThatThrownBy(() -> st.execute("insert into shard_t values (3)"))
                        .isInstanceOf(SQLException.class)
                        .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("25006"));
            }
        }
    }

    @Test
    void afterTheKilledPrimaryThePromotedReplicaTakesWritesAndTheOldOneIsRebuilt() throws Exception {
        try (PgShard shard = PgShard.start()) {
            Node first = shard.primary();
            Node second = shard.replica();
            first.psql("app", "create table shard_t (x int);\ninsert into shard_t values (1);");
            shard.awaitReplicaCaughtUp();

            shard.killPrimary();
            assertThat(first.isRunning()).isFalse();
            Duration promote = shard.promoteReplica();
            System.out.printf("PgShardIT: promote after kill took %d ms%n", promote.toMillis());

            assertThat(shard.primary()).isSameAs(second);
            assertThat(shard.replica()).isSameAs(first);
            try (Connection c = second.connect(Role.SCRAM, PgServer.APP_DB); Statement st = c.createStatement()) {
                st.execute("insert into shard_t values (2)");
                assertThat(single(st, "select sum(x) from shard_t")).isEqualTo("3");
            }

            int port = first.port();
            shard.reinitReplica();
            assertThat(first.port()).isEqualTo(port);
            assertThat(first.isInRecovery()).isTrue();
            second.psql("app", "insert into shard_t values (3)");
            shard.awaitReplicaCaughtUp();
            assertThat(first.psql("app", "select sum(x) from shard_t")).isEqualTo("6");
        }
    }

    @Test
    void aSwitchoverMakesTheOldPrimaryAStandbyAndASecondOneSwitchesBack() throws Exception {
        try (PgShard shard = PgShard.start()) {
            Node a = shard.primary();
            Node b = shard.replica();
            // not awaited on purpose: a clean switchover must carry every commit, even asynchronous ones
            a.psql("app", "create table shard_t (x int);\ninsert into shard_t values (1);");

            Duration there = shard.switchover();
            System.out.printf("PgShardIT: switchover %s -> %s took %d ms%n", a.name(), b.name(), there.toMillis());
            assertThat(shard.primary()).isSameAs(b);
            assertThat(shard.replica()).isSameAs(a);
            assertThat(b.isInRecovery()).isFalse();
            assertThat(a.isInRecovery()).isTrue();
            // the promotion's checkpoint is asynchronous on PG15, so ask the WAL file name for the new timeline
            assertThat(b.psql("postgres", "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"))
                    .isEqualTo("00000002");
            assertThat(b.psql("postgres", "select application_name, state from pg_stat_replication"))
                    .isEqualTo("node1|streaming");

            try (Connection c = b.connect(Role.MD5, PgServer.APP_DB); Statement st = c.createStatement()) {
                assertThat(single(st, "select sum(x) from shard_t")).isEqualTo("1");
                st.execute("insert into shard_t values (2)");
            }
            shard.awaitReplicaCaughtUp();
            assertThat(a.psql("app", "select sum(x) from shard_t")).isEqualTo("3");

            b.psql("app", "insert into shard_t values (3)");
            Duration back = shard.switchover();
            System.out.printf("PgShardIT: switchover %s -> %s took %d ms%n", b.name(), a.name(), back.toMillis());
            assertThat(shard.primary()).isSameAs(a);
            assertThat(b.isInRecovery()).isTrue();
            try (Connection c = a.connect(Role.PLAIN, PgServer.APP_DB); Statement st = c.createStatement()) {
                assertThat(single(st, "select sum(x) from shard_t")).isEqualTo("6");
                st.execute("insert into shard_t values (4)");
            }
            shard.awaitReplicaCaughtUp();
            assertThat(b.psql("app", "select string_agg(x::text, ',' order by x) from shard_t")).isEqualTo("1,2,3,4");
        }
    }

    private static String single(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            assertThat(rs.next()).as("a row from %s", sql).isTrue();
            return rs.getString(1);
        }
    }
}
