package io.turnout.config;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** The configuration side of the README's Security section. */
class SecurityDefaultsTest {
    @TempDir
    Path dir;

    private static final String YAML = "listen_addr: 10.1.2.3\nauth_file: users.txt\nmetrics_port: 9127\n"
            + "databases: { d: { host: h } }\n";

    @Test
    void metricsListenOnListenAddrUnlessMetricsAddrSaysOtherwise() throws Exception {
        Files.writeString(dir.resolve("users.txt"), "\"alice\" \"pw\"\n");
        assertThat(ConfigLoader.parse(YAML, "turnout.yaml", null, dir).metricsAddr()).isEqualTo("10.1.2.3");
        assertThat(ConfigLoader.parse("metrics_addr: 127.0.0.1\n" + YAML, "turnout.yaml", null, dir).metricsAddr())
                .isEqualTo("127.0.0.1");
    }

    @Test
    void aWorldReadableAuthFileIsWarnedAboutWithoutItsSecrets() throws Exception {
        Path users = dir.resolve("users.txt");
        Files.writeString(users, "\"alice\" \"s3cret-never-logged\"\n");
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        Logger logger = (Logger) LoggerFactory.getLogger(ConfigLoader.class);
        logger.addAppender(logs);
        try {
            Files.setPosixFilePermissions(users, PosixFilePermissions.fromString("rw-r-----"));
            ConfigLoader.parse(YAML, "turnout.yaml", null, dir);
            assertThat(logs.list).noneMatch(e -> e.getFormattedMessage().startsWith("auth_file_world_readable"));

            Files.setPosixFilePermissions(users, PosixFilePermissions.fromString("rw-r--r--"));
            ConfigLoader.parse(YAML, "turnout.yaml", null, dir);
            assertThat(logs.list).anySatisfy(e -> assertThat(e.getFormattedMessage())
                    .startsWith("auth_file_world_readable file=" + users + " mode rw-r--r--"));
            assertThat(logs.list).noneMatch(e -> e.getFormattedMessage().contains("s3cret-never-logged"));
        } finally {
            logger.detachAppender(logs);
        }
    }
}
