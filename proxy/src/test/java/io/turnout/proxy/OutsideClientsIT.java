package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.turnout.proxy.testing.PgServer;
import io.turnout.proxy.testing.RawClient;
import io.turnout.proxy.testing.TurnoutFixture;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * What raw clients the project did not write found (issue 19): message types printed as PostgreSQL prints
 * them, client text that cannot forge log lines, and no database-name enumeration before authentication.
 */
class OutsideClientsIT {
    static PgServer pg;
    static TurnoutFixture trust;
    static TurnoutFixture plain;
    static ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeAll
    static void start() {
        pg = PgServer.shared();
        trust = TurnoutFixture.builder(pg).set("auth_type", "trust").start();
        plain = TurnoutFixture.builder(pg).set("auth_type", "plain").start();
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    }

    @AfterAll
    static void stop() {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
        trust.close();
        plain.close();
    }

    /** The fields of an ErrorResponse in order, as (code, value) strings "Cvalue". */
    private static List<String> fields(RawClient.Message m) {
        assertThat(m.type()).isEqualTo('E');
        List<String> out = new ArrayList<>();
        byte[] b = m.body();
        int i = 0;
        while (b[i] != 0) {
            int end = i + 1;
            while (b[end] != 0) {
                end++;
            }
            out.add(new String(b, i, end - i, StandardCharsets.UTF_8));
            i = end + 1;
        }
        assertThat(i).as("the terminator is the last byte").isEqualTo(b.length - 1);
        return out;
    }

    @Test
    void messageTypesAreUnsignedNumbersWithoutRawBytes() throws Exception {
        for (int type : new int[] {0x00, 0x01, 0x80, 0xD4, 0xFF}) {
            try (RawClient raw = new RawClient(trust.port())) {
                raw.send(RawClient.startup("user", "alice", "database", "app"));
                assertThat(raw.readUntilReady()).isNull();
                raw.send(RawClient.message((char) type, new byte[0]));
                List<String> f = fields(raw.readError());
                assertThat(f).as("type %d", type).containsExactly("SFATAL", "VFATAL", "C08P01",
                        "Minvalid frontend message type " + type);
                assertThat(raw.closedByServer()).isTrue();
            }
        }
        // during login too: a type 0 where the password belongs
        try (RawClient raw = new RawClient(plain.port())) {
            raw.send(RawClient.startup("user", "alice", "database", "app"));
            assertThat(raw.read().type()).isEqualTo('R');
            raw.send(RawClient.message((char) 0, new byte[0]));
            assertThat(fields(raw.readError())).containsExactly("SFATAL", "VFATAL", "C08P01",
                    "Mexpected a password response, got message type 0");
        }
        awaitLog("invalid frontend message type 255");
        assertNoRawControlCharacters();
    }

    @Test
    void clientTextCannotForgeLogLines() throws Exception {
        String forged = "x\" reason=\"ok\"\n2026-01-01T00:00:00.000Z INFO  AdminCommands admin_command user=admin "
                + "command=\"SHUTDOWN\"\\";
        try (RawClient raw = new RawClient(plain.port())) { // before authentication
            raw.send(RawClient.startup("user", "eve\n" + forged, "database", "db" + forged,
                    "application_name", forged));
            assertThat(raw.read().type()).isEqualTo('R');
            raw.send(RawClient.message('p', RawClient.cstr("wrong\r\n" + forged)));
            assertThat(raw.readError().field('C')).isEqualTo("28P01");
        }
        try (RawClient raw = new RawClient(trust.port())) {
            raw.send(RawClient.startup("user", "eve", "database", "nodb" + forged + "y".repeat(5000)));
            assertThat(raw.readError().field('C')).isEqualTo("3D000");
        }
        String failed = awaitLog("client_auth_failed user=\"eve");
        assertThat(failed).contains("db=\"dbx\\\" reason=\\\"ok\\\"\\n2026-01-01T00:00:00.000Z INFO  AdminCommands");
        String fatal = awaitLog("database \\\"nodbx");
        assertThat(fatal).contains("nodbx\\\" reason").contains("chars)").hasSizeLessThan(1000);
        assertNoRawControlCharacters();
    }

    @Test
    void unknownDatabaseIsRefusedOnlyAfterAuthentication() throws Exception {
        for (String user : new String[] {"alice", "nosuchuser"}) {
            try (RawClient raw = new RawClient(plain.port())) {
                raw.send(RawClient.startup("user", user, "database", "nosuchdb"));
                RawClient.Message m = raw.read();
                assertThat(m.type()).as("a password request, not an error, for user %s", user).isEqualTo('R');
                assertThat(ByteBuffer.wrap(m.body()).getInt()).isEqualTo(3); // AuthenticationCleartextPassword
                raw.send(RawClient.message('p', RawClient.cstr("wrong")));
                RawClient.Message e = raw.readError();
                assertThat(e.field('C')).isEqualTo("28P01");
                assertThat(e.field('M')).doesNotContain("nosuchdb");
            }
        }
        try (RawClient raw = new RawClient(plain.port())) {
            raw.send(RawClient.startup("user", "alice", "database", "nosuchdb"));
            assertThat(raw.read().type()).isEqualTo('R');
            raw.send(RawClient.message('p', RawClient.cstr(TurnoutFixture.PASSWORD)));
            RawClient.Message ok = raw.read();
            assertThat(ok.type()).isEqualTo('R');
            assertThat(ByteBuffer.wrap(ok.body()).getInt()).isZero(); // AuthenticationOk, then the refusal
            RawClient.Message e = raw.readError();
            assertThat(e.field('C')).isEqualTo("3D000");
            assertThat(e.field('M')).isEqualTo("database \"nosuchdb\" does not exist");
            assertThat(raw.closedByServer()).isTrue();
        }
    }

    private static String awaitLog(String part) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (System.nanoTime() < deadline) {
            for (ILoggingEvent e : List.copyOf(logs.list)) {
                if (e.getFormattedMessage().contains(part)) {
                    return e.getFormattedMessage();
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no log line containing " + part);
    }

    private static void assertNoRawControlCharacters() {
        for (ILoggingEvent e : List.copyOf(logs.list)) {
            String line = e.getFormattedMessage();
            assertThat(line.chars().noneMatch(c -> c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)))
                    .as("log line without raw control characters: %s", line).isTrue();
        }
    }
}
