package io.turnout.bench.failover;

import java.time.Instant;
import java.util.Map;

/**
 * What the benchmark needs from "a set of Patroni-style shards and their DCS": where Turnout reads the
 * topology, SQL on each shard's current primary, and one unplanned failover on demand.
 *
 * <p>{@link ConsulShardsDriver} plays Patroni itself (PgShard nodes, keys written into the in-repo Consul
 * server), so it knows the exact instant the new leader key is written. {@link PatroniEtcdDriver} runs real
 * Patroni and etcd instead: it kills the leader, watches etcd for Patroni's own key write, and reports how
 * long Patroni took to notice as {@code extra("patroni_detect_ms")}: the rest of the benchmark stays the same.
 */
interface ClusterDriver extends AutoCloseable {

    /** Short name for the report, e.g. "consul-test-server+pgshard". */
    String name();

    /** The DCS as Turnout's log events name it: {@code consul} ({@code consul_leader_changed}) or {@code etcd}. */
    String dcs();

    /**
     * Whether the DCS names the new leader before it leaves recovery, as real Patroni does (it takes the key,
     * then promotes): the report then splits swap_ms into Patroni's promotion and Turnout's own share
     * (turnout_ms, from whichever came last to the first commit), and the swap bar applies to turnout_ms.
     */
    default boolean leaderKeyBeforePromotion() {
        return false;
    }

    /** How many shards there are; shard 0 is the one that fails, the others are controls. */
    int shards();

    /** Top-level Turnout settings that point it at the DCS, each a YAML value (e.g. {@code consul}). */
    Map<String, String> turnoutSettings();

    /** The PostgreSQL database on shard {@code i} that the load uses (distinct per shard, so logs tell them apart). */
    String dbname(int i);

    /** The inside of a Turnout database entry that follows shard {@code i} (scope, dbname, server login). */
    String databaseEntry(int i);

    /** SQL as the superuser on shard {@code i}'s current primary, in database {@code db}; psql's -A -t output. */
    String psqlPrimary(int i, String db, String sql);

    /** Waits until shard {@code i}'s replica has replayed everything committed on its primary so far. */
    void awaitReplicaCaughtUp(int i);

    /** A direct connection (no Turnout) to shard {@code i}'s current primary, logging in as Turnout's servers do. */
    java.sql.Connection connectPrimary(int i, String db) throws java.sql.SQLException;

    /** TCP port of shard {@code i}'s current primary (servers report it with inet_server_port()). */
    int primaryPort(int i);

    /**
     * Crashes shard {@code i}'s primary and lets a replica take over, as the DCS would see it; returns when
     * the new leader key is in the DCS (and, for a driver that reports it, the new leader left recovery).
     */
    Failover failover(int i) throws Exception;

    /**
     * A planned switchover of shard {@code i} to its replica, as the operator would run it; returns when the
     * old leader streams from the new one. {@code killStarted} is when the command started.
     */
    default Failover switchover(int i) throws Exception {
        throw new UnsupportedOperationException(name() + " cannot run a planned switchover");
    }

    /** Makes shard {@code i} ready for another failover (the crashed node rejoins as a replica). */
    void heal(int i) throws Exception;

    /** Copies whatever logs are worth keeping into {@code dir} (for --keep). */
    void saveLogs(java.nio.file.Path dir);

    @Override
    void close();

    /**
     * The instants of one failover, System.nanoTime() unless named otherwise.
     *
     * @param killStarted right before the primary was crashed
     * @param killDone when the crash command returned (the old primary no longer runs)
     * @param leaderGone when the leader key was gone from the DCS
     * @param promoted when the replica accepted writes
     * @param keyWritten right before the new leader key was written (the start of swap_ms); a driver that
     *        does not write it itself: when its watch on the DCS saw the write
     * @param keyWrittenWall the same instant by the wall clock, to compare with clock_timestamp() in rows
     * @param extra driver-specific figures appended to the last line (e.g. patroni_detect_ms), may be empty
     * @param note driver-specific detail for the round's report (how the instants were observed), may be empty
     */
    record Failover(int oldPort, int newPort, long killStarted, long killDone, long leaderGone, long promoted,
                    long keyWritten, Instant keyWrittenWall, Map<String, Long> extra, String note) {
    }
}
