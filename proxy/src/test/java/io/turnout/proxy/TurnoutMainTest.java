package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

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
        assertThat(help.out()).contains("usage: turnout --config FILE");
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
}
