package io.turnout.bench.failover;

import io.turnout.config.testing.ConsulTestServer;
import io.turnout.proxy.testing.PgServer.Role;
import io.turnout.proxy.testing.PgShard;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Shards made of the integration tests' {@link PgShard} (a real PostgreSQL primary and streaming replica
 * each), with Patroni's keys written by this class into the in-repo Consul server, in the order Patroni
 * produces them on an unplanned failover: the dead leader's session expires (leader and member keys go),
 * the replica is promoted, then its member JSON (role master) and the leader key are written.
 *
 * <p>Patroni itself takes the leader key before it promotes; writing it after the promotion, as here,
 * measures Turnout's swap without its "leader not a primary yet" retry. A real-Patroni driver covers that.
 */
final class ConsulShardsDriver implements ClusterDriver {
    private final List<PgShard> shards = new ArrayList<>();
    private final ConsulTestServer consul;

    /** Starts {@code count} shards (databases {@code bench_a}, {@code bench_b}, ...) and the Consul server. */
    ConsulShardsDriver(int count, java.util.function.Consumer<String> progress) throws IOException {
        try {
            for (int i = 0; i < count; i++) {
                progress.accept("starting shard " + scope(i) + " (initdb, primary, pg_basebackup, replica)");
                PgShard s = PgShard.start();
                shards.add(s);
                s.primary().server().createDatabase("bench_" + (char) ('a' + i));
            }
            consul = ConsulTestServer.start(null);
        } catch (RuntimeException | Error | IOException e) {
            shards.forEach(PgShard::close);
            throw e;
        }
        for (int i = 0; i < count; i++) {
            PgShard s = shards.get(i);
            consul.patroniMember(scope(i), s.primary().name(), s.primary().host(), s.primary().port(), "master");
            consul.patroniMember(scope(i), s.replica().name(), s.replica().host(), s.replica().port(), "replica");
            consul.patroniLeader(scope(i), s.primary().name());
        }
    }

    static String scope(int i) {
        return "shard-" + (char) ('a' + i);
    }

    @Override
    public String dbname(int i) {
        return "bench_" + (char) ('a' + i);
    }

    @Override
    public String name() {
        return "consul-test-server+pgshard";
    }

    @Override
    public String dcs() {
        return "consul";
    }

    @Override
    public int shards() {
        return shards.size();
    }

    @Override
    public Map<String, String> turnoutSettings() {
        // Consul's default wait (5m): the blocking query returns on the write, so its length changes nothing
        return Map.of("consul", "{ url: \"" + consul.url() + "\" }");
    }

    @Override
    public String databaseEntry(int i) {
        Role su = Role.SUPERUSER;
        return "patroni_scope: " + scope(i) + ", dbname: " + dbname(i) + ", user: " + su.user() + ", password: "
                + su.password();
    }

    @Override
    public String psqlPrimary(int i, String db, String sql) {
        return shards.get(i).primary().psql(db, sql);
    }

    @Override
    public void awaitReplicaCaughtUp(int i) {
        shards.get(i).awaitReplicaCaughtUp();
    }

    @Override
    public java.sql.Connection connectPrimary(int i, String db) throws java.sql.SQLException {
        return shards.get(i).primary().connect(Role.SUPERUSER, db);
    }

    @Override
    public int primaryPort(int i) {
        return shards.get(i).primary().port();
    }

    @Override
    public Failover failover(int i) {
        PgShard s = shards.get(i);
        String scope = scope(i);
        PgShard.Node old = s.primary();
        long killStarted = System.nanoTime();
        s.killPrimary();
        long killDone = System.nanoTime();
        // the dead node's Consul session expires: Patroni's sessions delete what they hold (leader and member)
        consul.deleteLeader(scope);
        consul.delete(consul.patroni().memberKey(scope, old.name()));
        long leaderGone = System.nanoTime();
        s.promoteReplica();
        long promoted = System.nanoTime();
        PgShard.Node next = s.primary();
        consul.patroniMember(scope, next.name(), next.host(), next.port(), "master");
        long keyWritten = System.nanoTime();
        Instant wall = Instant.now();
        consul.patroniLeader(scope, next.name());
        return new Failover(old.port(), next.port(), killStarted, killDone, leaderGone, promoted, keyWritten, wall,
                Map.of(), "");
    }

    @Override
    public void heal(int i) {
        PgShard s = shards.get(i);
        s.reinitReplica(); // pg_basebackup from the new primary: the crashed node may hold WAL it never saw
        PgShard.Node r = s.replica();
        consul.patroniMember(scope(i), r.name(), r.host(), r.port(), "replica");
    }

    @Override
    public void saveLogs(Path dir) {
        for (int i = 0; i < shards.size(); i++) {
            for (PgShard.Node n : List.of(shards.get(i).primary(), shards.get(i).replica())) {
                try {
                    Files.copy(n.server().logFile(), dir.resolve(scope(i) + "-" + n.name() + ".log"),
                            StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException e) {
                    // a node that never wrote a log: nothing to keep
                }
            }
        }
    }

    @Override
    public void close() {
        consul.close();
        shards.forEach(PgShard::close);
    }
}
