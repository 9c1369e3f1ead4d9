package io.turnout.bench.failover;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * pgbench-style clients on one Turnout database, without think time: each transaction (autocommit off)
 * inserts a row recording which PostgreSQL served it ({@code inet_server_port()}) and when
 * ({@code clock_timestamp()}), reads an account by key, and commits. Every transaction is recorded with
 * when it began and ended (System.nanoTime), so failures can be placed against the instants of a failover.
 * A client whose connection failed reconnects for its next transaction; the connect counts as part of that
 * transaction, as an application would see it.
 */
final class TxLoad implements AutoCloseable {
    /** Rows in the accounts table the reads pick from. */
    static final int ACCOUNTS = 10_000;
    static final String SCHEMA = "CREATE TABLE IF NOT EXISTS failover_log (id bigserial PRIMARY KEY, client int, "
            + "port int, ts timestamptz);\n"
            + "CREATE TABLE IF NOT EXISTS failover_accounts (aid int PRIMARY KEY, abalance int NOT NULL);\n"
            + "INSERT INTO failover_accounts SELECT g, 0 FROM generate_series(1, " + ACCOUNTS + ") g "
            + "ON CONFLICT DO NOTHING;\n";

    /**
     * One transaction. {@code port} and {@code id} (the failover_log row) are those the server returned,
     * 0 when it failed; {@code error} is null for a commit.
     */
    record Tx(int client, long began, long ended, int port, long id, String error) {
        boolean ok() {
            return error == null;
        }
    }

    /** Opens a client connection (through Turnout); called on the client's own thread. */
    interface Connector {
        Connection connect() throws SQLException;
    }

    private final String name;
    private final Connector connector;
    private final List<Thread> threads = new ArrayList<>();
    private final List<List<Tx>> logs = new ArrayList<>();
    private final AtomicLong commits = new AtomicLong();
    private final long intervalNanos;
    private volatile boolean running = true;

    /** @param rate transactions per second over all clients, 0 for as fast as they go (pgbench without -R) */
    TxLoad(String name, Connector connector, int clients, int rate) {
        this.name = name;
        this.connector = connector;
        this.intervalNanos = rate <= 0 ? 0 : 1_000_000_000L * clients / rate;
        for (int c = 0; c < clients; c++) {
            List<Tx> log = new ArrayList<>(1 << 14);
            logs.add(log);
            int client = c;
            Thread t = new Thread(() -> run(client, log), "load-" + name + "-" + c);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
    }

    String name() {
        return name;
    }

    long commits() {
        return commits.get();
    }

    private void run(int client, List<Tx> log) {
        Connection c = null;
        PreparedStatement insert = null;
        PreparedStatement read = null;
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long next = System.nanoTime() + (intervalNanos == 0 ? 0 : random.nextLong(intervalNanos));
        while (running) {
            if (intervalNanos > 0) {
                // a fixed schedule per client, no catching up after a stall: a held client does not burst later
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    sleep(wait / 1_000_000);
                }
                next = Math.max(next + intervalNanos, System.nanoTime());
            }
            long began = System.nanoTime();
            try {
                if (c == null) {
                    c = connector.connect();
                    c.setAutoCommit(false);
                    insert = c.prepareStatement("INSERT INTO failover_log (client, port, ts) "
                            + "VALUES (?, inet_server_port(), clock_timestamp()) RETURNING id, port");
                    read = c.prepareStatement("SELECT abalance FROM failover_accounts WHERE aid = ?");
                }
                long id;
                int port;
                insert.setInt(1, client);
                try (ResultSet rs = insert.executeQuery()) {
                    rs.next();
                    id = rs.getLong(1);
                    port = rs.getInt(2);
                }
                read.setInt(1, 1 + random.nextInt(ACCOUNTS));
                try (ResultSet rs = read.executeQuery()) {
                    if (!rs.next()) {
                        throw new SQLException("account missing: the read by key found no row", "02000");
                    }
                }
                c.commit();
                log.add(new Tx(client, began, System.nanoTime(), port, id, null));
                commits.incrementAndGet();
            } catch (SQLException | RuntimeException e) {
                long ended = System.nanoTime();
                if (!running) {
                    break; // stopping: what fails now is our own doing
                }
                String state = e instanceof SQLException s ? s.getSQLState() : e.getClass().getSimpleName();
                log.add(new Tx(client, began, ended, 0, 0, state + " " + String.valueOf(e.getMessage()).strip()));
                closeQuietly(c);
                c = null;
                // a broken setup must not spin a core that the servers under test need: reconnect after a pause
                // far below any figure measured here
                sleep(5);
            }
        }
        closeQuietly(c);
    }

    /** Stops the clients (each finishes its transaction) and returns every transaction, ordered by start. */
    List<Tx> stop() throws InterruptedException {
        running = false;
        for (Thread t : threads) {
            t.join(90_000);
            if (t.isAlive()) {
                throw new IllegalStateException("load client " + t.getName() + " did not stop");
            }
        }
        List<Tx> all = new ArrayList<>();
        logs.forEach(all::addAll);
        all.sort(java.util.Comparator.comparingLong(Tx::began));
        return all;
    }

    @Override
    public void close() throws InterruptedException {
        if (running) {
            stop();
        }
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // already broken
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
