package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.ConfigLoader;
import io.turnout.config.TurnoutConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line: exit codes and messages, without starting a server. */
class TurnoutMainTest {
    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int code = Turnout.run(args);
            return new Run(code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    @Test
    void helpAndVersion() {
        Run help = run("--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("usage: turnout --config FILE")
                .contains("turnout import-pgbouncer PGBOUNCER_INI [USERLIST] > turnout.yaml");
        Run version = run("--version");
        assertThat(version.code()).isZero();
        assertThat(version.out()).startsWith("turnout ");
    }

    @Test
    void badArgumentsExitWith2() {
        assertThat(run().code()).isEqualTo(2);
        Run unknown = run("--bogus");
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("unknown argument '--bogus'");
        assertThat(run("--config").err()).contains("--config needs a file name");
    }

    @Test
    void badConfigExitsWith2NamingFileLineAndKey() throws Exception {
        Path file = dir.resolve("turnout.yaml");
        Files.writeString(file, "auth_type: trust\nlisten_port: 6432\nmax_client_conn: many\ndatabases: { d: { host: h } }\n");
        Run r = run("--config", file.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains(file + ":3: max_client_conn: expected a whole number, got 'many'");
        Run missing = run("--config", dir.resolve("nope.yaml").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("nope.yaml: cannot read config");
    }

    @Test
    void importPgBouncerPrintsYamlOnStdoutAndWarningsOnStderr() throws Exception {
        Path ini = dir.resolve("pgbouncer.ini");
        Path users = dir.resolve("users.txt");
        io.turnout.config.testing.TestCerts pki = io.turnout.config.testing.TestCerts.generate(dir.resolve("tls"));
        Files.writeString(ini, """
                [databases]
                app = host=10.1.2.3 dbname=app pool_size=30
                [pgbouncer]
                listen_addr = 0.0.0.0
                auth_type = md5
                auth_file = USERS
                pool_mode = transaction
                logfile = /var/log/pgbouncer.log
                client_tls_sslmode = require
                client_tls_key_file = KEY
                client_tls_cert_file = CERT
                server_tls_sslmode = verify-full
                server_tls_ca_file = CA
                """.replace("USERS", users.toString()).replace("KEY", pki.serverKey().toString())
                .replace("CERT", pki.serverCert().toString()).replace("CA", pki.caCert().toString()));
        Files.writeString(users, "\"app\" \"md545f2603610af569b6155c45067268c6b\"\n");
        Run r = run("import-pgbouncer", ini.toString(), users.toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).startsWith("# Turnout configuration imported from " + ini)
                .contains("  app: { host: 10.1.2.3, dbname: app, pool_size: 30 }\n")
                .doesNotContain("warning:");
        assertThat(r.err().lines()).containsExactly(
                "warning: " + ini + ":8: [pgbouncer] logfile: dropped: logging is logback's job: Turnout logs to stdout,"
                        + " where journald or the container runtime keeps it (level: TURNOUT_LOG_LEVEL)",
                "turnout: import-pgbouncer: 1 warning(s); review them and the result before putting it to use");
        // what a shell's > captures is a configuration Turnout starts with
        Path yaml = dir.resolve("turnout.yaml");
        Files.writeString(yaml, r.out());
        TurnoutConfig c = ConfigLoader.load(yaml);
        assertThat(c.databases().get("app").poolSize()).isEqualTo(30);
        assertThat(c.users()).containsKey("app");
        // the TLS keys came over with PgBouncer's meanings, no warning
        assertThat(c.tls().clientMode()).isEqualTo(io.turnout.config.SslMode.REQUIRE);
        assertThat(c.tls().serverMode()).isEqualTo(io.turnout.config.SslMode.VERIFY_FULL);
        assertThat(c.tls().serverCaFile()).isEqualTo(pki.caCert());
    }

    @Test
    void importPgBouncerExitsWith2OnAnUnreadableOrInvalidIni() throws Exception {
        Run missing = run("import-pgbouncer", dir.resolve("nope.ini").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.out()).isEmpty();
        assertThat(missing.err()).isEqualTo("turnout: import-pgbouncer: cannot read " + dir.resolve("nope.ini") + ": no such file\n");
        Path bad = dir.resolve("bad.ini");
        Files.writeString(bad, "[pgbouncer]\nlisten_port: 6432\n");
        Run invalid = run("import-pgbouncer", bad.toString());
        assertThat(invalid.code()).isEqualTo(2);
        assertThat(invalid.out()).isEmpty();
        assertThat(invalid.err()).isEqualTo("turnout: import-pgbouncer: " + bad
                + ":2: syntax error: expected key = value, got 'listen_port: 6432'\n");
        Run noFile = run("import-pgbouncer");
        assertThat(noFile.code()).isEqualTo(2);
        assertThat(noFile.err()).startsWith("turnout: import-pgbouncer takes PGBOUNCER_INI [USERLIST]");
        assertThat(run("import-pgbouncer", "a.ini", "b.txt", "c").code()).isEqualTo(2);
        assertThat(run("import-pgbouncer", "--help").code()).isZero();
    }
}
