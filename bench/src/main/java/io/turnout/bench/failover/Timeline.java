package io.turnout.bench.failover;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.FileAppender;
import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import org.slf4j.LoggerFactory;

/**
 * Turnout's own log events (it runs in this JVM), stamped with System.nanoTime() as they are logged, so a
 * swap can be split into its steps on the same clock as the key write and the clients' commits: the
 * Consul watch seeing the new leader ({@code consul_leader_changed}), the pools retargeted
 * ({@code topology_applied}), the first server logged in to the new leader ({@code server_login_ok}).
 * PoolShard's pool_slot_moved (DEBUG) is kept too, to count server logins thrown away during the swap.
 * Everything is also written to a log file; nothing goes to stdout, which carries the report.
 */
final class Timeline extends AppenderBase<ILoggingEvent> {
    private static final Pattern FIELD = Pattern.compile("(\\w+)=(\"[^\"]*\"|\\S+)");

    /** One event: its name (the first word), its key=value fields, the logging thread, and when it was logged. */
    record Event(long nanos, String name, Map<String, String> fields, String thread) {
        String get(String key) {
            return fields.getOrDefault(key, "");
        }
    }

    private final List<Event> events = new ArrayList<>();

    /**
     * Routes all logging to {@code logFile} plus this timeline. ServerConnection logs logins and PoolShard
     * slot moves at DEBUG: those two loggers alone are raised, as both are rare next to transactions.
     */
    static Timeline install(Path logFile) {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        ctx.reset(); // drops the console appender of Turnout's logback.xml
        PatternLayoutEncoder enc = new PatternLayoutEncoder();
        enc.setContext(ctx);
        enc.setPattern("%d{HH:mm:ss.SSS} %-5level [%thread] %logger{0} %msg%n");
        enc.start();
        FileAppender<ILoggingEvent> file = new FileAppender<>();
        file.setContext(ctx);
        file.setFile(logFile.toString());
        file.setEncoder(enc);
        file.start();
        Timeline timeline = new Timeline();
        timeline.setContext(ctx);
        timeline.start();
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.INFO);
        root.addAppender(file);
        root.addAppender(timeline);
        ctx.getLogger("io.netty").setLevel(Level.WARN);
        timeline.watchGc();
        ctx.getLogger("io.turnout.proxy.server").setLevel(Level.DEBUG); // server_login_ok (ServerLogin)
        // pool_slot_moved: a server closed to give its slot to another event loop (see Round's churn count)
        ctx.getLogger("io.turnout.proxy.pool.PoolShard").setLevel(Level.DEBUG);
        // investigation knob: -Dfailover.debug=io.turnout.proxy.pool,... adds DEBUG loggers
        for (String name : System.getProperty("failover.debug", "").split(",")) {
            if (!name.isBlank()) {
                ctx.getLogger(name.strip()).setLevel(Level.DEBUG);
            }
        }
        return timeline;
    }

    /**
     * Adds every GC pause of this JVM as a {@code gc_pause} event with {@code ms=}: Turnout, the Consul server
     * and the clients share the JVM, so a pause inside a swap stalls all of them and must be visible.
     */
    void watchGc() {
        // GC notifications carry JVM uptime in ms; anchor it to nanoTime once (ms precision is enough here)
        long anchorNanos = System.nanoTime();
        long anchorUptime = ManagementFactory.getRuntimeMXBean().getUptime();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (!(gc instanceof NotificationEmitter emitter)) {
                continue;
            }
            emitter.addNotificationListener((n, handback) -> {
                if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
                    return;
                }
                GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from(
                        (CompositeData) n.getUserData());
                if (info.getGcAction().contains("concurrent") || info.getGcName().contains("Concurrent")) {
                    return; // concurrent cycles do not stop the application; their pauses are reported apart
                }
                long start = anchorNanos + (info.getGcInfo().getStartTime() - anchorUptime) * 1_000_000;
                synchronized (events) {
                    events.add(new Event(start, "gc_pause", Map.of("ms", Long.toString(info.getGcInfo().getDuration()),
                            "cause", info.getGcCause().replace(' ', '_')), "gc"));
                    events.sort(java.util.Comparator.comparingLong(Event::nanos));
                }
            }, null, null);
        }
    }

    /** Sum of the {@code ms} field of events named {@code name} that started in [from, to). */
    long sumMs(String name, long from, long to) {
        synchronized (events) {
            return events.stream().filter(e -> e.nanos() >= from && e.nanos() < to && e.name().equals(name))
                    .mapToLong(e -> Long.parseLong(e.get("ms"))).sum();
        }
    }

    @Override
    protected void append(ILoggingEvent e) {
        long now = System.nanoTime();
        if (!e.getLoggerName().startsWith("io.turnout.")) {
            return;
        }
        String msg = e.getFormattedMessage();
        int sp = msg.indexOf(' ');
        String name = sp < 0 ? msg : msg.substring(0, sp);
        Map<String, String> fields = new java.util.HashMap<>();
        Matcher m = FIELD.matcher(msg);
        while (m.find()) {
            fields.put(m.group(1), m.group(2).replace("\"", ""));
        }
        synchronized (events) {
            events.add(new Event(now, name, fields, e.getThreadName()));
        }
    }

    /** The first event named {@code name} at or after {@code since} whose fields include {@code match}. */
    Event first(String name, long since, Map<String, String> match) {
        synchronized (events) {
            for (Event e : events) {
                if (e.nanos() >= since && e.name().equals(name)
                        && match.entrySet().stream().allMatch(kv -> kv.getValue().equals(e.fields().get(kv.getKey())))) {
                    return e;
                }
            }
        }
        return null;
    }

    /**
     * The first login to {@code dbname} at or after {@code since} that Turnout kept: PoolShard offers a
     * server as soon as it logs in, on the same event loop, and logs pool_slot_moved right then when it
     * closes it instead, so a login whose next event on its thread is pool_slot_moved was thrown away.
     */
    Event firstKeptLogin(String dbname, long since) {
        synchronized (events) {
            for (int i = 0; i < events.size(); i++) {
                Event e = events.get(i);
                if (e.nanos() < since || !e.name().equals("server_login_ok") || !dbname.equals(e.get("db"))) {
                    continue;
                }
                Event next = null;
                for (int j = i + 1; j < events.size() && next == null; j++) {
                    if (events.get(j).thread().equals(e.thread())) {
                        next = events.get(j);
                    }
                }
                if (next == null || !next.name().equals("pool_slot_moved")) {
                    return e;
                }
            }
        }
        return null;
    }

    /** How many events named {@code name} in [from, to) match {@code test}. */
    long count(String name, long from, long to, java.util.function.Predicate<Event> test) {
        synchronized (events) {
            return events.stream().filter(e -> e.nanos() >= from && e.nanos() < to && e.name().equals(name)
                    && test.test(e)).count();
        }
    }

    /** Events at or after {@code since} (for the per-round event list kept with --keep). */
    List<Event> since(long since) {
        synchronized (events) {
            return events.stream().filter(e -> e.nanos() >= since).toList();
        }
    }
}
