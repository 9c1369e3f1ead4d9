package io.turnout.config.topology;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one daemon thread a topology source runs on ({@code turnout-<dcs>-N}): every watch, every reply and
 * the listener run here, so a source's state needs no locks.
 */
final class SourceLoop {
    private static final AtomicInteger LOOPS = new AtomicInteger();

    private final ScheduledThreadPoolExecutor executor;
    private final AtomicReference<Thread> thread = new AtomicReference<>();

    SourceLoop(String dcs) {
        this.executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "turnout-" + dcs + "-" + LOOPS.incrementAndGet());
            t.setDaemon(true);
            thread.set(t);
            return t;
        });
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        executor.setRemoveOnCancelPolicy(true);
    }

    ScheduledExecutorService executor() {
        return executor;
    }

    void execute(Runnable task) {
        executor.execute(task);
    }

    boolean inLoop() {
        return Thread.currentThread() == thread.get();
    }

    /** Runs {@code last} (the watches' stop) and stops the thread; waits for it unless called from it. */
    void shutdown(Runnable last) {
        executor.execute(last);
        executor.shutdown();
        if (!inLoop()) {
            // from a listener (the loop thread itself) waiting would only stall
            try {
                executor.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
