package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.RawClient;
import static io.turnout.proxy.testing.RawClient.bind;
import static io.turnout.proxy.testing.RawClient.closeStatement;
import static io.turnout.proxy.testing.RawClient.describeStatement;
import static io.turnout.proxy.testing.RawClient.cat;
import static io.turnout.proxy.testing.RawClient.execute;
import static io.turnout.proxy.testing.RawClient.parse;
import static io.turnout.proxy.testing.RawClient.sync;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Named prepared statements in transaction mode: byte-level pipelines, then real drivers under load. */
class PreparedStatementsIT {
    static PgServer pg;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
    }

    private static TurnoutFixture trust(int poolSize, int maxPrepared) {
        return TurnoutFixture.builder(pg).set("auth_type", "trust").set("workers", 1)
                .set("default_pool_size", poolSize).set("max_prepared_statements", maxPrepared).start();
    }

    private static RawClient login(TurnoutFixture t) throws Exception {
        RawClient c = new RawClient(t.port());
        c.send(RawClient.startup("user", "alice", "database", "app"));
        assertThat(c.readUntilReady()).isNull();
        return c;
    }

    /** Reads to ReadyForQuery: each message as its type, DataRows as D=value, errors as E=SQLSTATE. */
    private static String replies(RawClient c) throws Exception {
        StringBuilder sb = new StringBuilder();
        while (true) {
            RawClient.Message m = c.read();
            if (sb.length() > 0) {
                sb.append(' ');
            }
            switch (m.type()) {
                case 'D' -> sb.append("D=").append(new String(m.body(), 6, m.body().length - 6, StandardCharsets.UTF_8));
                case 'E' -> sb.append("E=").append(m.field('C'));
                case 'Z' -> {
                    sb.append("Z").append((char) m.body()[0]);
                    return sb.toString();
                }
                default -> sb.append(m.type());
            }
        }
    }

    @Test
    void pipelineWithAFailingParseAcrossAServerThatAlreadyHasTheStatement() throws Exception {
        try (TurnoutFixture t = trust(1, 100); RawClient a = login(t); RawClient b = login(t)) {
            a.send(cat(parse("S1", "select 1"), bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("1 2 D=1 C ZI"); // the only server now has the statement
            b.send(cat(parse("S1", "select 1"), bind("S1"), execute(),
                    parse("S2", "select * from no_such_table"), bind("S2"), execute(), sync()));
            assertThat(replies(b)).isEqualTo("1 2 D=1 C E=42P01 ZI");
            b.send(cat(bind("S2"), execute(), sync()));
            assertThat(replies(b)).as("a failed Parse creates nothing").isEqualTo("E=26000 ZI");
            b.send(cat(bind("S1"), execute(), sync()));
            assertThat(replies(b)).isEqualTo("2 D=1 C ZI");
        }
    }

    @Test
    void pipelineWithAFailingParseRightAfterAServerSwitch() throws Exception {
        try (TurnoutFixture t = trust(2, 100); RawClient a = login(t); RawClient holder = login(t)) {
            a.send(cat(parse("S1", "select 'x'"), bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("1 2 D=x C ZI");
            holder.send(RawClient.query("begin")); // keeps the server that has S1
            assertThat(holder.readUntilReady()).isNull();
            // on a fresh server: Bind S1 needs an injected Parse (its reply swallowed), then S2 fails
            a.send(cat(bind("S1"), execute(), parse("S2", "select * from no_such_table"), bind("S2"), execute(),
                    sync()));
            assertThat(replies(a)).isEqualTo("2 D=x C E=42P01 ZI");
            a.send(cat(bind("S2"), execute(), bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("E=26000 ZI");
            holder.send(RawClient.query("commit"));
            assertThat(holder.readUntilReady()).isNull();
            a.send(cat(bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("2 D=x C ZI");
        }
    }

    @Test
    void describeOfAStatementTheCurrentServerNeverSaw() throws Exception {
        try (TurnoutFixture t = trust(2, 100); RawClient a = login(t); RawClient holder = login(t)) {
            a.send(cat(parse("S1", "select $1::int + 1 as n"), sync()));
            assertThat(replies(a)).isEqualTo("1 ZI");
            holder.send(RawClient.query("begin")); // takes the server that has the statement
            assertThat(holder.readUntilReady()).isNull();
            a.send(cat(describeStatement("S1"), sync())); // lands on a fresh server
            assertThat(replies(a)).isEqualTo("t T ZI");
            holder.send(RawClient.query("commit"));
            assertThat(holder.readUntilReady()).isNull();
        }
    }

    @Test
    void closeThenReparseAndParsingATakenNameFails() throws Exception {
        try (TurnoutFixture t = trust(1, 100); RawClient a = login(t)) {
            a.send(cat(parse("S1", "select 'one'"), bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("1 2 D=one C ZI");
            a.send(cat(parse("S1", "select 'again'"), sync()));
            assertThat(replies(a)).as("PostgreSQL's duplicate_prepared_statement").isEqualTo("E=42P05 ZI");
            a.send(cat(closeStatement("S1"), closeStatement("never_prepared"), sync()));
            assertThat(replies(a)).isEqualTo("3 3 ZI");
            a.send(cat(parse("S1", "select 'two'"), bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("1 2 D=two C ZI");
        }
    }

    @Test
    void evictionUnderMaxPreparedStatementsTwoWithFiveInRotation() throws Exception {
        try (TurnoutFixture t = trust(1, 2); RawClient a = login(t)) {
            for (int i = 1; i <= 5; i++) {
                a.send(cat(parse("S" + i, "select " + i * 10), sync()));
                assertThat(replies(a)).isEqualTo("1 ZI");
            }
            for (int round = 0; round < 3; round++) {
                for (int i = 1; i <= 5; i++) {
                    a.send(cat(bind("S" + i), execute(), sync()));
                    assertThat(replies(a)).isEqualTo("2 D=" + i * 10 + " C ZI");
                }
            }
            // the server itself holds at most 2 of the pooler's statements (the Query runs on the only server)
            a.send(RawClient.query("select count(*) from pg_prepared_statements where name like 'T\\_%'"));
            RawClient.Message m;
            String count = null;
            do {
                m = a.read();
                if (m.type() == 'D') {
                    count = new String(m.body(), 6, m.body().length - 6, StandardCharsets.UTF_8);
                }
            } while (m.type() != 'Z');
            assertThat(Integer.parseInt(count)).isLessThanOrEqualTo(2);
        }
    }

    @Test
    void deallocateAllClearsTheClientsNames() throws Exception {
        try (TurnoutFixture t = trust(1, 100); RawClient a = login(t)) {
            a.send(cat(parse("S1", "select 5"), sync()));
            assertThat(replies(a)).isEqualTo("1 ZI");
            a.send(RawClient.query("deallocate all"));
            assertThat(a.readUntilReady()).isNull();
            a.send(cat(bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("E=26000 ZI");
            a.send(cat(parse("S1", "select 6"), bind("S1"), execute(), sync()));
            assertThat(replies(a)).isEqualTo("1 2 D=6 C ZI");
        }
    }

    @Test
    void pgbenchPreparedWithFiftyAndFiveHundredClientsOnTenServers() {
        Processes.Result init = Processes.run(Duration.ofSeconds(120), List.of(pg.bin("pgbench"), "-i", "-s", "2", "-q",
                "-h", pg.host(), "-p", String.valueOf(pg.port()), "-U", "postgres", "app"), pgEnv(), null, null);
        assertThat(init.exitCode()).as(init.stderr()).isZero();
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("default_pool_size", 10).set("max_client_conn", 2000).start()) {
            for (int clients : new int[] {50, 500}) {
                // a count per client, not -T: pgbench 15 counts logins in -T, and 500 SCRAM logins on a busy
                // 2-core machine can take longer than a short run
                int perClient = 10_000 / clients;
                List<String> cmd = new ArrayList<>(t.clientArgs(pg.bin("pgbench"), "app"));
                cmd.addAll(1, List.of("-n", "-S", "-M", "prepared", "-c", String.valueOf(clients), "-j", "2",
                        "-t", String.valueOf(perClient)));
                Processes.Result r = Processes.run(Duration.ofSeconds(180), cmd, t.clientEnv(), null, null);
                assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
                assertThat(r.stdout()).contains("number of transactions actually processed: 10000/10000")
                        .contains("number of failed transactions: 0 (0.000%)");
                assertThat(r.stderr()).doesNotContain("ERROR");
            }
        }
    }

    /** The bar: 200 threads on 10 servers for 60 s, prepareThreshold=1, every result checked. */
    @org.junit.jupiter.params.ParameterizedTest(name = "autocommit={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void pgjdbcTwoHundredThreadsOnTenServersWithPrepareThresholdOne(boolean autocommit) throws Exception {
        pg.psql("app", "DROP TABLE IF EXISTS ps_items; CREATE TABLE ps_items (id int primary key, v text);"
                + "INSERT INTO ps_items SELECT g, 'v' || g FROM generate_series(1, 1000) g");
        try (TurnoutFixture t = TurnoutFixture.builder(pg).set("default_pool_size", 10).start()) {
            int threads = 200;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            ExecutorService ex = Executors.newFixedThreadPool(threads);
            List<Future<Integer>> results = new ArrayList<>();
            for (int n = 0; n < threads; n++) {
                int id = n;
                results.add(ex.submit(() -> {
                    Properties p = new Properties();
                    p.setProperty("prepareThreshold", "1");
                    int checks = 0;
                    try (Connection c = t.connect(p)) {
                        c.setAutoCommit(autocommit);
                        PreparedStatement byId = c.prepareStatement("select v from ps_items where id = ?");
                        PreparedStatement sum = c.prepareStatement("select sum(id) from ps_items where id <= ?");
                        PreparedStatement echo = c.prepareStatement("select ?::text || '-' || ?::int");
                        while (System.nanoTime() < until) {
                            int k = 1 + (checks * 7 + id) % 1000;
                            byId.setInt(1, k);
                            try (ResultSet rs = byId.executeQuery()) {
                                rs.next();
                                assertThat(rs.getString(1)).isEqualTo("v" + k);
                            }
                            sum.setInt(1, k);
                            try (ResultSet rs = sum.executeQuery()) {
                                rs.next();
                                assertThat(rs.getLong(1)).isEqualTo((long) k * (k + 1) / 2);
                            }
                            echo.setString(1, "t" + id);
                            echo.setInt(2, checks);
                            try (ResultSet rs = echo.executeQuery()) {
                                rs.next();
                                assertThat(rs.getString(1)).isEqualTo("t" + id + "-" + checks);
                            }
                            if (!c.getAutoCommit()) {
                                c.commit();
                            }
                            checks++;
                        }
                    }
                    return checks;
                }));
            }
            int total = 0;
            for (Future<Integer> f : results) {
                total += f.get(120, TimeUnit.SECONDS);
            }
            ex.shutdownNow();
            assertThat(total).isGreaterThan(threads * 5);
        }
    }

    private static java.util.Map<String, String> pgEnv() {
        java.util.Map<String, String> env = PgServer.clientEnv();
        env.put("PGPASSWORD", "postgres");
        return env;
    }
}
