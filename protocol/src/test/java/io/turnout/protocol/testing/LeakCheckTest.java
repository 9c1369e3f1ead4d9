package io.turnout.protocol.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Proves the build-breaking leak check sees a leak (and drains it, so this class itself passes). */
class LeakCheckTest {
    @Test
    void aDroppedBufferIsReported() throws Exception {
        LeakCheck.drainLeaks(); // start clean
        leakOne();
        List<String> leaks = new ArrayList<>();
        for (int i = 0; i < 20 && leaks.isEmpty(); i++) {
            leaks.addAll(LeakCheck.drainLeaks());
        }
        assertThat(leaks).isNotEmpty();
        assertThat(leaks.get(0)).startsWith("LEAK ").contains("leakOne");
    }

    private static void leakOne() {
        ByteBuf leaked = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        leaked.writeLong(42); // touched, never released, then unreachable
    }
}
