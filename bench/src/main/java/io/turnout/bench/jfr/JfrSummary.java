package io.turnout.bench.jfr;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;

/**
 * bench/race --jfr: bytes Turnout allocated per transaction and its GC pauses, from a JFR recording of one run.
 * Allocation comes from jdk.ThreadAllocationStatistics (each thread's exact allocated bytes, written when a
 * recording starts and stops): the growth per thread over the recording, summed, divided by the run's
 * transactions; the event loops' share is given apart. JDK only, so it runs as a single source file:
 *
 * <pre>java bench/src/main/java/io/turnout/bench/jfr/JfrSummary.java RECORDING.jfr TRANSACTIONS</pre>
 *
 * and prints {@code jfr: bytes_per_tx=N loop_bytes_per_tx=N gc_count=N gc_pause_total_ms=X gc_pause_max_ms=X}.
 */
public final class JfrSummary {
    private JfrSummary() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: JfrSummary RECORDING.jfr TRANSACTIONS");
            System.exit(2);
        }
        long tx = Long.parseLong(args[1]);
        Map<Long, long[]> perThread = new HashMap<>(); // thread id -> {min, max} allocated bytes
        Map<Long, Boolean> loopThread = new HashMap<>();
        int gcs = 0;
        Duration pauses = Duration.ZERO;
        Duration longest = Duration.ZERO;
        for (RecordedEvent e : RecordingFile.readAllEvents(Path.of(args[0]))) {
            switch (e.getEventType().getName()) {
                case "jdk.ThreadAllocationStatistics" -> {
                    var thread = e.getThread("thread");
                    if (thread == null) {
                        continue;
                    }
                    long id = thread.getJavaThreadId();
                    long bytes = e.getLong("allocated");
                    long[] mm = perThread.computeIfAbsent(id, k -> new long[] {bytes, bytes});
                    mm[0] = Math.min(mm[0], bytes);
                    mm[1] = Math.max(mm[1], bytes);
                    loopThread.put(id, thread.getJavaName() != null && thread.getJavaName().startsWith("turnout-loop"));
                }
                case "jdk.GarbageCollection" -> {
                    gcs++;
                    pauses = pauses.plus(e.getDuration("sumOfPauses"));
                    Duration l = e.getDuration("longestPause");
                    longest = l.compareTo(longest) > 0 ? l : longest;
                }
                default -> { }
            }
        }
        long all = 0;
        long loops = 0;
        for (Map.Entry<Long, long[]> t : perThread.entrySet()) {
            long grew = t.getValue()[1] - t.getValue()[0];
            all += grew;
            if (loopThread.getOrDefault(t.getKey(), false)) {
                loops += grew;
            }
        }
        double per = tx > 0 ? all / (double) tx : Double.NaN;
        double loopPer = tx > 0 ? loops / (double) tx : Double.NaN;
        System.out.printf(Locale.ROOT, "jfr: bytes_per_tx=%.0f loop_bytes_per_tx=%.0f gc_count=%d gc_pause_total_ms=%.2f"
                + " gc_pause_max_ms=%.2f%n", per, loopPer, gcs, pauses.toNanos() / 1e6, longest.toNanos() / 1e6);
    }
}
