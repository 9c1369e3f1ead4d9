package io.turnout.bench.failover;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.FileAppender;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

    /** One event: its name (the first word), its key=value fields, and when it was logged. */
    record Event(long nanos, String name, Map<String, String> fields) {
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
        ctx.getLogger("io.turnout.proxy.server.ServerConnection").setLevel(Level.DEBUG);
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
            events.add(new Event(now, name, fields));
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

    /** How many events named {@code name} in [from, to) have {@code key} = {@code value}. */
    long count(String name, long from, long to, String key, String value) {
        synchronized (events) {
            return events.stream().filter(e -> e.nanos() >= from && e.nanos() < to && e.name().equals(name)
                    && value.equals(e.fields().get(key))).count();
        }
    }

    /** Events at or after {@code since} (for the per-round event list kept with --keep). */
    List<Event> since(long since) {
        synchronized (events) {
            return events.stream().filter(e -> e.nanos() >= since).toList();
        }
    }
}
