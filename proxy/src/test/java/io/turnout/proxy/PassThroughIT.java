package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.TurnoutFixture;
import java.io.ByteArrayOutputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.copy.CopyManager;
import org.postgresql.core.BaseConnection;

/** Bytes Turnout must carry untouched: COPY both ways, huge rows, psql scripts, pgbench under pooling. */
class PassThroughIT {
    static PgServer pg;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        pg.psql("app", "DROP TABLE IF EXISTS pt_copy; CREATE TABLE pt_copy (id int, body text);"
                + "DROP TABLE IF EXISTS pt_blob; CREATE TABLE pt_blob (id int, data bytea);"
                + "DROP TABLE IF EXISTS pt_psql; CREATE TABLE pt_psql (id int, v text)");
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", 5).start();
    }

    @AfterAll
    static void stop() {
        turnout.close();
    }

    @Test
    void copyInAndOutWithCopyManager() throws Exception {
        StringBuilder csv = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {
            csv.append(i).append(",row number ").append(i).append('\n');
        }
        try (Connection c = turnout.connect()) {
            CopyManager copy = c.unwrap(BaseConnection.class).getCopyAPI();
            c.createStatement().execute("truncate pt_copy");
            long in = copy.copyIn("COPY pt_copy FROM STDIN WITH (FORMAT csv)", new StringReader(csv.toString()));
            assertThat(in).isEqualTo(20_000);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            long n = copy.copyOut("COPY (SELECT * FROM pt_copy ORDER BY id) TO STDOUT WITH (FORMAT csv)", out);
            assertThat(n).isEqualTo(20_000);
            assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(csv.toString());
            ResultSet rs = c.createStatement().executeQuery("select count(*), sum(id) from pt_copy");
            rs.next();
            assertThat(rs.getLong(1)).isEqualTo(20_000);
            assertThat(rs.getLong(2)).isEqualTo(199_990_000L);
        }
    }

    @Test
    void sixtyFourMebibyteByteaRoundTrip() throws Exception {
        byte[] blob = new byte[64 * 1024 * 1024 + 17];
        new Random(42).nextBytes(blob);
        try (Connection c = turnout.connect()) {
            try (PreparedStatement ps = c.prepareStatement("insert into pt_blob values (1, ?)")) {
                ps.setBytes(1, blob);
                assertThat(ps.executeUpdate()).isEqualTo(1);
            }
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("select data, length(data), md5(data) from pt_blob where id = 1")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getInt(2)).isEqualTo(blob.length);
                assertThat(rs.getBytes(1)).isEqualTo(blob);
                assertThat(rs.getString(3)).isEqualTo(md5Hex(blob));
            }
            c.createStatement().execute("delete from pt_blob");
        }
    }

    @Test
    void psqlScriptsWithCopyMultiStatementsAndErrors(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("in.csv");
        Files.writeString(data, "1,a\n2,b\n3,c\n");
        Path out = tmp.resolve("out.csv");
        String script = String.join("\n",
                "truncate pt_psql;",
                "\\copy pt_psql from '" + data + "' with (format csv)",
                "insert into pt_psql values (4, 'd'); insert into pt_psql values (5, 'e'); select count(*) as n from pt_psql;",
                "begin; insert into pt_psql values (6, 'f'); select * from no_such_table; commit;",
                "select 'after error' as status;",
                "\\copy (select * from pt_psql order by id) to '" + out + "' with (format csv)",
                "");
        Path file = tmp.resolve("script.sql");
        Files.writeString(file, script);
        List<String> cmd = new ArrayList<>(turnout.clientArgs("psql", "app"));
        cmd.addAll(List.of("-X", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-f", file.toString()));
        Processes.Result r = Processes.run(Duration.ofSeconds(60), cmd, turnout.clientEnv(), tmp, null);
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stdout()).contains("5").contains("after error");
        assertThat(r.stderr()).contains("relation \"no_such_table\" does not exist");
        assertThat(Files.readString(out)).isEqualTo("1,a\n2,b\n3,c\n4,d\n5,e\n");

        List<String> stop = new ArrayList<>(turnout.clientArgs("psql", "app"));
        stop.addAll(List.of("-X", "-v", "ON_ERROR_STOP=1", "-c", "select 1/0"));
        Processes.Result failed = Processes.run(Duration.ofSeconds(30), stop, turnout.clientEnv(), tmp, null);
        assertThat(failed.exitCode()).isNotZero();
        assertThat(failed.stderr()).contains("division by zero");
    }

    @Test
    void pgbenchSelectOnlySimpleAndExtendedWithTenTimesMoreClientsThanServers() {
        List<String> init = new ArrayList<>(List.of(pg.bin("pgbench"), "-i", "-s", "2", "-q", "-h", pg.host(), "-p",
                String.valueOf(pg.port()), "-U", "postgres", "app"));
        Processes.Result ri = Processes.run(Duration.ofSeconds(120), init, pgEnv(), null, null);
        assertThat(ri.exitCode()).as(ri.stderr()).isZero();
        for (String mode : List.of("simple", "extended")) {
            List<String> cmd = new ArrayList<>(turnout.clientArgs(pg.bin("pgbench"), "app"));
            // a count per client rather than -T: pgbench counts logins in -T, slow on a busy machine
            cmd.addAll(1, List.of("-n", "-S", "-M", mode, "-c", "50", "-j", "2", "-t", "200"));
            Processes.Result r = Processes.run(Duration.ofSeconds(120), cmd, turnout.clientEnv(), null, null);
            assertThat(r.exitCode()).as(r.stdout() + r.stderr()).isZero();
            assertThat(r.stdout()).contains("number of transactions actually processed: 10000/10000")
                    .contains("number of failed transactions: 0 (0.000%)");
        }
    }

    private static java.util.Map<String, String> pgEnv() {
        java.util.Map<String, String> env = PgServer.clientEnv();
        env.put("PGPASSWORD", "postgres");
        return env;
    }

    private static String md5Hex(byte[] data) throws Exception {
        byte[] d = java.security.MessageDigest.getInstance("MD5").digest(data);
        StringBuilder sb = new StringBuilder();
        for (byte b : d) {
            sb.append(String.format("%02x", b));
        }
        return sb.toString();
    }
}
