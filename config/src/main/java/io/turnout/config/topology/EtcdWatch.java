package io.turnout.config.topology;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.turnout.config.topology.EtcdKv.Event;
import io.turnout.config.topology.EtcdKv.WatchReply;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps an {@link EtcdMirror} of one namespace current: a range read of the whole prefix, then one watch
 * stream on it from the next revision. When the stream breaks (refused, reset, an error message, a canceled
 * watch) it moves to the next address and, after a jittered backoff, resumes the watch from the revision
 * after the last one applied, so etcd replays what was missed; only a watch canceled because that revision
 * was compacted away needs a fresh read, and gets it at once. A stream that has been silent for a while is
 * probed with a small range, so an etcd that stopped answering without closing the connection (a frozen
 * host) is noticed within seconds. Runs on the source's loop thread; HTTP threads only parse and hand over.
 */
final class EtcdWatch {
    private static final Logger LOG = LoggerFactory.getLogger(EtcdWatch.class);
    static final Duration READ_TIMEOUT = Duration.ofSeconds(10);
    /** How long a stream may be silent before etcd is probed; the probe's own timeout is the same. */
    static final Duration PROBE_IDLE = Duration.ofSeconds(5);

    /** What the source learns; all calls come on the loop thread. */
    interface Listener {
        /**
         * The mirror is as current as etcd can make it (read afresh, or a watch resumed after an outage) at
         * {@code revision}: every watched scope re-checks, and stale states clear.
         */
        void refreshed(long revision);

        /** Events up to {@code revision} were applied; {@code scopes} had their leader or leader's member change. */
        void changed(Set<String> scopes, long revision);

        /** etcd could not be read from any address: the last states stay, marked stale. */
        void unreachable(String error);
    }

    private final EtcdHttp http;
    private final ScheduledExecutorService loop;
    private final String prefix;
    private final EtcdMirror mirror;
    private final Listener listener;
    private final long probeIdleNanos;
    /** Bumped by every (re)start: replies and stream messages of an older attempt are dropped. */
    private long attempt;
    private long revision;
    /** The mirror holds a read: a broken stream resumes from revision + 1 instead of reading again. */
    private boolean loaded;
    private int failures;
    private int compactions;
    private EtcdStream stream;
    private boolean established;
    private long lastHeardNanos;
    private boolean probing;
    private ScheduledFuture<?> timer;
    private ScheduledFuture<?> prober;
    private boolean stopped;

    EtcdWatch(EtcdHttp http, ScheduledExecutorService loop, String prefix, EtcdMirror mirror, Listener listener,
            Duration probeIdle) {
        this.probeIdleNanos = probeIdle.toNanos();
        this.http = http;
        this.loop = loop;
        this.prefix = prefix;
        this.mirror = mirror;
        this.listener = listener;
    }

    void start() {
        if (!stopped && prober == null) {
            long every = probeIdleNanos / 2;
            prober = loop.scheduleWithFixedDelay(this::probe, every, every, TimeUnit.NANOSECONDS);
            connect();
        }
    }

    void stop() {
        stopped = true;
        attempt++;
        closeStream();
        if (timer != null) {
            timer.cancel(false);
        }
        if (prober != null) {
            prober.cancel(false);
        }
    }

    /** Resumes the watch after the last revision applied, or reads everything first when there is none. */
    private void connect() {
        timer = null;
        if (stopped) {
            return;
        }
        if (loaded) {
            long a = ++attempt;
            closeStream();
            openStream(a, http.currentUrl(), revision + 1, true);
        } else {
            read();
        }
    }

    /** A fresh read of the whole prefix, then a watch from the revision after it. */
    private void read() {
        long a = ++attempt;
        closeStream();
        URI base = http.currentUrl();
        http.post("/v3/kv/range", EtcdKv.rangeRequest(prefix), READ_TIMEOUT).whenCompleteAsync((r, t) -> {
            if (a != attempt || stopped) {
                return;
            }
            try {
                if (t != null) {
                    failure(base, DcsHttp.describe(t));
                    return;
                }
                if (r.status() != 200) {
                    failure(base, "range answered HTTP " + r.status() + ": " + EtcdKv.error(r.body()));
                    return;
                }
                EtcdKv.Range range = EtcdKv.range(r.body());
                mirror.reset(range.kvs());
                revision = range.revision();
                loaded = true;
                listener.refreshed(revision);
                openStream(a, base, revision + 1, false);
            } catch (IOException e) {
                failure(base, "range: " + e.getMessage());
            } catch (RuntimeException e) {
                // a bug must not end the watch silently: log it and go round again after a pause
                LOG.error("etcd_internal_error prefix={}", prefix, e);
                failure(base, e.toString());
            }
        }, loop);
    }

    private void openStream(long a, URI base, long from, boolean resumed) {
        EtcdStream s = new EtcdStream(base, resumed, loop, json -> message(a, base, json), why -> ended(a, base, why));
        stream = s;
        established = false;
        lastHeardNanos = System.nanoTime();
        s.open(http.watch(base, EtcdKv.watchRequest(prefix, from), s, READ_TIMEOUT));
    }

    private void message(long a, URI base, JsonNode json) {
        if (a != attempt || stopped) {
            return;
        }
        lastHeardNanos = System.nanoTime();
        try {
            apply(base, json);
        } catch (RuntimeException e) {
            // a bug or a value etcd should never hold (bad base64) must not end the watch silently
            LOG.error("etcd_internal_error prefix={} message={}", prefix, EtcdKv.snippet(json), e);
            loaded = false;
            failure(base, e.toString());
        }
    }

    private void apply(URI base, JsonNode json) {
        WatchReply w;
        try {
            w = EtcdKv.watch(json);
        } catch (IOException e) {
            failure(base, "watch: " + e.getMessage());
            return;
        }
        if (w.canceled()) {
            if (w.compactRevision() > 0) {
                // the revision after our read is gone: what happened in between is lost, read again
                compactions++;
                LOG.info("etcd_compacted prefix={} watched_from={} compact_revision={}", prefix, revision + 1,
                        w.compactRevision());
                attempt++;
                closeStream();
                loaded = false;
                schedule(compactions == 1 ? 0 : Backoff.nanos(compactions - 1));
                return;
            }
            if (EtcdKv.isAuthError(w.cancelReason())) {
                http.tokenRejected();
            }
            failure(base, "watch canceled: " + w.cancelReason());
            return;
        }
        if (w.created() && !established) {
            established = true;
            if (failures > 0) {
                LOG.info("etcd_recovered url={} after_failures={} resumed_from={}", base, failures, revision + 1);
                failures = 0;
            }
            if (stream.resumed()) {
                // what was missed follows as events; until then the last state is the best there is
                listener.refreshed(revision);
            }
        }
        if (w.events().isEmpty()) {
            return;
        }
        compactions = 0;
        Set<String> changed = new LinkedHashSet<>();
        for (Event e : w.events()) {
            String scope = mirror.apply(e);
            if (scope != null) {
                changed.add(scope);
            }
            // the events' own revisions, not the header's: a catch-up batch carries the store's current
            // revision in its header while more events may follow, and a resume must not skip them
            revision = Math.max(revision, e.kv().modRevision());
        }
        listener.changed(changed, revision);
    }

    private void ended(long a, URI base, String why) {
        if (a == attempt && !stopped) {
            failure(base, "watch stream ended: " + why);
        }
    }

    /** etcd at {@code base} failed: next address, stale once every address failed in a row, back off, resume. */
    private void failure(URI base, String error) {
        failures++;
        attempt++;
        closeStream();
        if (failures == 1 || failures % 20 == 0) {
            LOG.warn("etcd_error url={} prefix={} error={} failures={}", base, prefix, error, failures);
        }
        http.failed(base);
        if (failures >= http.addresses()) {
            listener.unreachable(error);
        }
        schedule(Backoff.nanos(failures));
    }

    /**
     * Every probeIdle/2: when the established stream has said nothing for probeIdle, ask etcd for the
     * prefix's key count. No answer within probeIdle means etcd (or the path to it) is gone even though the
     * stream's connection looks open.
     */
    private void probe() {
        if (stopped || !established || probing || System.nanoTime() - lastHeardNanos < probeIdleNanos) {
            return;
        }
        probing = true;
        long a = attempt;
        URI base = stream.base();
        ObjectNode body = EtcdKv.rangeRequest(prefix).put("count_only", true);
        http.post("/v3/kv/range", body, Duration.ofNanos(probeIdleNanos)).whenCompleteAsync((r, t) -> {
            probing = false;
            if (a != attempt || stopped) {
                return;
            }
            String error = t != null ? DcsHttp.describe(t) : r.status() != 200 ? "HTTP " + r.status() + " "
                    + EtcdKv.error(r.body()) : null;
            if (error != null) {
                failure(base, "probe of a silent watch stream: " + error);
            }
        }, loop);
    }

    private void schedule(long delayNanos) {
        if (!stopped && !loop.isShutdown()) {
            try {
                timer = loop.schedule(this::connect, delayNanos, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                // closed between the check and the call: nothing left to do
            }
        }
    }

    private void closeStream() {
        if (stream != null) {
            stream.cancel();
            stream = null;
        }
        established = false;
    }
}
