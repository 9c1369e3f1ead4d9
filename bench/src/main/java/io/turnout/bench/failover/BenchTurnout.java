package io.turnout.bench.failover;

import io.turnout.config.ConfigLoader;
import io.turnout.proxy.TurnoutServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

/**
 * Turnout in this JVM, started from a real YAML file through ConfigLoader, in transaction mode in front
 * of every shard of a {@link ClusterDriver} (database {@code shard_a} follows shard 0, ...). The file is
 * written into the scratch directory rather than via the tests' TurnoutFixture, whose builder is tied to a
 * PgServer that a real-Patroni driver would not have; with --keep it stays there to read.
 */
final class BenchTurnout implements AutoCloseable {
    static final String USER = "bench";
    static final String PASSWORD = "bench_pw";

    private final TurnoutServer server;

    BenchTurnout(ClusterDriver cluster, Path dir, int poolSize, int workers) throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"" + USER + "\" \"" + PASSWORD + "\"\n");
        StringBuilder y = new StringBuilder();
        y.append("listen_addr: 127.0.0.1\n");
        y.append("listen_port: 0\n");
        y.append("auth_type: scram-sha-256\n");
        y.append("auth_file: users.txt\n");
        y.append("pool_mode: transaction\n");
        y.append("default_pool_size: ").append(poolSize).append('\n');
        y.append("max_client_conn: 1000\n");
        y.append("workers: ").append(workers).append('\n'); // 0: the production default (a loop per core but one)
        y.append("failover_hold_timeout: 30\n");
        cluster.turnoutSettings().forEach((k, v) -> y.append(k).append(": ").append(v).append('\n'));
        y.append("databases:\n");
        for (int i = 0; i < cluster.shards(); i++) {
            y.append("  ").append(database(i)).append(": { ").append(cluster.databaseEntry(i)).append(" }\n");
        }
        Path file = dir.resolve("turnout.yaml");
        Files.writeString(file, y);
        server = TurnoutServer.start(ConfigLoader.load(file));
    }

    static String database(int shard) {
        return "shard_" + (char) ('a' + shard);
    }

    /** Waits until every database has a leader (Turnout's /ready condition). */
    void awaitReady(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (!server.readiness().isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Turnout not ready after " + timeoutMillis + " ms: " + server.readiness());
            }
            Thread.sleep(20);
        }
    }

    /** A client connection to {@code database} as pgjdbc makes it: SCRAM to Turnout, no TLS. */
    Connection connect(String database) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", USER);
        p.setProperty("password", PASSWORD);
        p.setProperty("sslmode", "disable");
        p.setProperty("connectTimeout", "10");
        // longer than failover_hold_timeout: a held transaction must end by Turnout's verdict, not ours
        p.setProperty("socketTimeout", "60");
        p.setProperty("ApplicationName", "failover-bench");
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + server.port() + "/" + database, p);
    }

    @Override
    public void close() {
        server.close();
    }
}
