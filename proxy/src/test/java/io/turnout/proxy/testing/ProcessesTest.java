package io.turnout.proxy.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProcessesTest {
    @Test
    void capturesExitCodeAndBothStreams() {
        Processes.Result r = Processes.run(Duration.ofSeconds(10), List.of("sh", "-c", "echo out; echo err >&2; exit 3"));
        assertThat(r.exitCode()).isEqualTo(3);
        assertThat(r.stdout()).isEqualTo("out\n");
        assertThat(r.stderr()).isEqualTo("err\n");
        assertThatThrownBy(r::orThrow).isInstanceOf(AssertionError.class).hasMessageContaining("exited with code 3")
                .hasMessageContaining("err");
    }

    @Test
    void feedsStdinAndChangesTheEnvironment() {
        Processes.Result r = Processes.run(Duration.ofSeconds(10),
                List.of("sh", "-c", "cat; echo \"[$FOO][${HOME:-unset}]\""),
                new java.util.HashMap<>(Map.of("FOO", "bar")) {{ put("HOME", null); }}, null, "hello\n");
        assertThat(r.orThrow().stdout()).isEqualTo("hello\n[bar][unset]\n");
    }

    @Test
    void killsAProcessThatOutlivesItsTimeoutWithItsChildren() {
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> Processes.run(Duration.ofMillis(500),
                List.of("sh", "-c", "echo started; sleep 60 & sleep 60; wait")))
                .isInstanceOf(Processes.TimeoutException.class)
                .hasMessageContaining("timed out")
                .hasMessageContaining("started")
                .satisfies(e -> assertThat(((Processes.TimeoutException) e).partial().exitCode()).isEqualTo(-1));
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    }
}
