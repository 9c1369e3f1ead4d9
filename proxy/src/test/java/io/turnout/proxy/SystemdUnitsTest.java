package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.proxy.testing.DebianPackages;
import io.turnout.proxy.testing.Processes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * systemd/: {@code systemd-analyze verify} (which works without systemd as PID 1) on both units, the
 * directives a production pooler needs, and an ExecStart that matches bin/turnout's and the image's command.
 */
class SystemdUnitsTest {
    private static final Path SYSTEMD = DockerFilesTest.ROOT.resolve("systemd");
    private static final Path ANALYZE = Path.of("/usr/bin/systemd-analyze");

    /** Directive to value, the last one winning as in systemd (repeatable ones are joined with '\n'). */
    private static Map<String, String> directives(Path unit) throws Exception {
        Map<String, String> d = new LinkedHashMap<>();
        for (String line : Files.readAllLines(unit)) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && !line.startsWith("[") && eq > 0) {
                d.merge(line.substring(0, eq), line.substring(eq + 1), (a, b) -> a + "\n" + b);
            }
        }
        return d;
    }

    @Test
    void systemdAnalyzeVerifiesBothUnits() {
        DebianPackages.ensure("systemd", List.of(ANALYZE));
        for (String unit : List.of("turnout.service", "turnout@.service")) {
            Processes.Result r = Processes.run(Duration.ofSeconds(60),
                    List.of(ANALYZE.toString(), "verify", SYSTEMD.resolve(unit).toString()));
            assertThat(r.exitCode()).as(unit + ": " + r.stdout() + r.stderr()).isZero();
            assertThat(r.stdout() + r.stderr()).as(unit).isEmpty();
        }
    }

    @Test
    void bothUnitsCarryTheProductionDirectives() throws Exception {
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("Type", "exec"); // not notify: Turnout does not call sd_notify
        expected.put("User", "turnout");
        expected.put("Group", "turnout");
        expected.put("ExecReload", "/bin/kill -HUP $MAINPID"); // Turnout reloads on SIGHUP
        expected.put("KillSignal", "SIGTERM");
        expected.put("SuccessExitStatus", "143");
        expected.put("Restart", "on-failure");
        expected.put("LimitNOFILE", "200000");
        expected.put("NoNewPrivileges", "yes");
        expected.put("ProtectSystem", "strict");
        expected.put("ProtectHome", "yes");
        expected.put("PrivateTmp", "yes");
        expected.put("PrivateDevices", "yes");
        expected.put("ProtectKernelTunables", "yes");
        expected.put("ProtectKernelModules", "yes");
        expected.put("ProtectControlGroups", "yes");
        expected.put("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX");
        expected.put("ReadOnlyPaths", "/etc/turnout");
        expected.put("CapabilityBoundingSet", "");
        expected.put("AmbientCapabilities", "");
        for (String unit : List.of("turnout.service", "turnout@.service")) {
            Map<String, String> d = directives(SYSTEMD.resolve(unit));
            assertThat(d).as(unit).containsAllEntriesOf(expected);
            // the JIT writes executable code, which MemoryDenyWriteExecute would forbid
            assertThat(d).as(unit).doesNotContainKey("MemoryDenyWriteExecute");
            assertThat(Integer.parseInt(d.get("TimeoutStopSec"))).as(unit + ": outlasts the 300 s drain_timeout")
                    .isGreaterThan(300);
            assertThat(d.get("Environment")).startsWith("\"TURNOUT_JAVA_OPTS=").contains("-XX:+UseZGC");
        }
    }

    /** bin/turnout runs {@code $JAVA ${TURNOUT_JAVA_OPTS} -jar proxy/target/turnout.jar "$@"}; the units must too. */
    @Test
    void execStartIsBinTurnoutsCommandLine() throws Exception {
        String launcher = Files.readString(DockerFilesTest.ROOT.resolve("bin/turnout"));
        Matcher jar = Pattern.compile("JAR=\"\\$ROOT/proxy/target/([^\"]+)\"").matcher(launcher);
        assertThat(jar.find()).as("bin/turnout names its jar").isTrue();
        // exec "${RESET_HUP[@]}" "$JAVA" ...: env --default-signal=HUP goes first where coreutils has it
        assertThat(launcher).containsPattern("(?m)^exec (\"\\$\\{RESET_HUP\\[@]}\" )?\"\\$JAVA\" "
                + "\\$\\{TURNOUT_JAVA_OPTS:-} -jar \"\\$JAR\" \"\\$@\"$");
        String dockerfile = Files.readString(DockerFilesTest.DOCKER.resolve("Dockerfile"));
        assertThat(dockerfile).contains("exec java $TURNOUT_JAVA_OPTS -jar /opt/turnout/" + jar.group(1))
                .contains("CMD [\"--config\", \"/etc/turnout/turnout.yaml\"]");
        Map<String, String> plain = directives(SYSTEMD.resolve("turnout.service"));
        Map<String, String> template = directives(SYSTEMD.resolve("turnout@.service"));
        String prefix = "/usr/bin/java $TURNOUT_JAVA_OPTS -jar /opt/turnout/" + jar.group(1) + " --config ";
        assertThat(plain.get("ExecStart")).isEqualTo(prefix + "/etc/turnout/turnout.yaml");
        assertThat(template.get("ExecStart")).isEqualTo(prefix + "/etc/turnout/%i.yaml");
    }
}
