package io.turnout.proxy.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.Transport;
import org.junit.jupiter.api.Test;

/** {@code workers: 0} leaves a core to the rest of the process and host; an explicit count is taken as given. */
class TransportsTest {

    @Test
    void theDefaultIsALoopPerCoreButOneAndAtLeastOne() {
        assertThat(Transports.defaultLoops(1)).isEqualTo(1);
        assertThat(Transports.defaultLoops(2)).isEqualTo(1);
        assertThat(Transports.defaultLoops(4)).isEqualTo(3);
        assertThat(Transports.defaultLoops(16)).isEqualTo(15);
    }

    @Test
    void workersStartThatManyLoops() {
        try (Transports transports = new Transports(0, Transport.NIO)) {
            assertThat(transports.loops()).hasSize(Transports.defaultLoops(Runtime.getRuntime().availableProcessors()));
        }
        try (Transports transports = new Transports(3, Transport.NIO)) {
            assertThat(transports.loops()).hasSize(3);
        }
    }
}
