package io.turnout.protocol.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails the test class during which Netty reported a leaked buffer. Registered for every test through
 * JUnit's extension auto-detection (see junit-platform.properties), with leak detection at PARANOID from
 * the surefire/failsafe argLine. The factory must be installed before the first buffer class loads,
 * which auto-detection guarantees: extensions load before any test class.
 */
public final class LeakCheck implements AfterAllCallback {
    private static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    static {
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        List<String> leaks = drainLeaks();
        if (!leaks.isEmpty()) {
            throw new AssertionError("Netty reported leaked buffers during " + context.getDisplayName() + ":\n"
                    + String.join("\n\n", leaks));
        }
    }

    /**
     * Makes Netty report what leaked so far and returns (and forgets) it. Leaks are reported when a
     * tracked buffer is collected and a later allocation polls the queue, hence GC plus probe allocations.
     */
    static List<String> drainLeaks() throws InterruptedException {
        for (int i = 0; i < 3 && LEAKS.isEmpty(); i++) {
            provoke();
        }
        List<String> leaks = List.copyOf(LEAKS);
        LEAKS.clear();
        return leaks;
    }

    /**
     * Leaks Netty reported in this test class so far, after making it report what is collectable now; they
     * stay counted for the class's own check. For tests that print leaked buffers per case.
     */
    public static int reportedSoFar() throws InterruptedException {
        for (int i = 0; i < 2; i++) {
            provoke();
        }
        return LEAKS.size();
    }

    private static void provoke() throws InterruptedException {
        System.gc();
        Thread.sleep(50);
        for (int j = 0; j < 64; j++) {
            ByteBuf probe = UnpooledByteBufAllocator.DEFAULT.directBuffer(1);
            probe.release();
            probe = io.netty.buffer.PooledByteBufAllocator.DEFAULT.buffer(1);
            probe.release();
        }
    }

    private static final class RecordingFactory extends ResourceLeakDetectorFactory {
        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval, long maxActive) {
            return new ResourceLeakDetector<>(resource, samplingInterval) {
                @Override
                protected void reportTracedLeak(String resourceType, String records) {
                    LEAKS.add("LEAK " + resourceType + records);
                    super.reportTracedLeak(resourceType, records);
                }

                @Override
                protected void reportUntracedLeak(String resourceType) {
                    LEAKS.add("LEAK " + resourceType + " (untraced)");
                    super.reportUntracedLeak(resourceType);
                }
            };
        }
    }
}
