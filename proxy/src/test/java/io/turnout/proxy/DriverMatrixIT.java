package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.Processes;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Real drivers of other languages, each preparing named statements, against Turnout in transaction mode
 * with more clients than server connections; every script checks its results and prints "OK n".
 * Python drivers come from Debian's packages (.ci/run installs them); node-postgres from npm, installed
 * here on first use.
 */
class DriverMatrixIT {
    static final Path PYTHON = Path.of("/usr/bin/python3");
    static PgServer pg;
    static TurnoutFixture turnout;

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        turnout = TurnoutFixture.builder(pg).set("default_pool_size", 5).start();
    }

    @AfterAll
    static void stop() {
        turnout.close();
    }

    private static Path script(String name) throws Exception {
        return Path.of(DriverMatrixIT.class.getResource("/drivers/" + name).toURI());
    }

    private static Map<String, String> env() {
        Map<String, String> env = turnout.clientEnv();
        env.put("TURNOUT_PORT", String.valueOf(turnout.port()));
        return env;
    }

    private static void runChecked(List<String> cmd, Map<String, String> env) {
        Processes.Result r = Processes.run(Duration.ofSeconds(120), cmd, env, null, null);
        assertThat(r.exitCode()).as(String.join(" ", cmd) + "\n" + r.stdout() + r.stderr()).isZero();
        assertThat(r.stdout()).as(r.stderr()).containsPattern("OK [1-9][0-9]*");
    }

    private static void requirePython(String module, String pkg) {
        Processes.Result r = Processes.run(Duration.ofSeconds(30), List.of(PYTHON.toString(), "-c", "import " + module));
        if (r.exitCode() != 0) {
            throw new AssertionError(module + " is missing for " + PYTHON + ": apt-get install -y " + pkg
                    + " (.ci/run does)\n" + r.stderr());
        }
    }

    @Test
    void asyncpgWithItsStatementCache() throws Exception {
        requirePython("asyncpg", "python3-asyncpg");
        runChecked(List.of(PYTHON.toString(), script("asyncpg_check.py").toString()), env());
    }

    @Test
    void psycopg3WithPrepareThresholdZero() throws Exception {
        requirePython("psycopg", "python3-psycopg");
        runChecked(List.of(PYTHON.toString(), script("psycopg_check.py").toString()), env());
    }

    @Test
    void pgjdbcDatabaseMetaDataUsesStandaloneDescribe() throws Exception {
        pg.psql("app", "DROP TABLE IF EXISTS dm_items; CREATE TABLE dm_items (id int primary key, name text not null)");
        try (java.sql.Connection c = turnout.connect()) {
            java.sql.DatabaseMetaData md = c.getMetaData();
            for (int round = 0; round < 10; round++) { // past prepareThreshold: named statements from round 5
                try (java.sql.ResultSet rs = md.getColumns(null, "public", "dm_items", null)) {
                    List<String> columns = new java.util.ArrayList<>();
                    while (rs.next()) {
                        columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                    }
                    assertThat(columns).containsExactly("id:int4", "name:text");
                }
                try (java.sql.ResultSet rs = md.getPrimaryKeys(null, "public", "dm_items")) {
                    assertThat(rs.next()).isTrue();
                    assertThat(rs.getString("COLUMN_NAME")).isEqualTo("id");
                }
                try (java.sql.PreparedStatement ps = c.prepareStatement("select name from dm_items where id = ?")) {
                    java.sql.ParameterMetaData pmd = ps.getParameterMetaData(); // a Describe of the statement
                    assertThat(pmd.getParameterCount()).isEqualTo(1);
                    assertThat(ps.getMetaData().getColumnName(1)).isEqualTo("name");
                }
            }
        }
    }

    @Test
    void nodePostgresWithNamedQueries() throws Exception {
        Path dir = Path.of("target", "node-drivers").toAbsolutePath();
        if (!Files.isDirectory(dir.resolve("node_modules").resolve("pg"))) {
            Files.createDirectories(dir);
            Processes.Result install = Processes.run(Duration.ofSeconds(300),
                    List.of("npm", "install", "--prefix", dir.toString(), "--no-audit", "--no-fund", "--loglevel=error",
                            "pg@8"), Map.of(), dir, null);
            assertThat(install.exitCode()).as("npm install pg\n" + install.stdout() + install.stderr()).isZero();
        }
        Map<String, String> env = env();
        env.put("NODE_PATH", dir.resolve("node_modules").toString());
        runChecked(List.of("node", script("node_pg_check.js").toString()), env);
    }
}
