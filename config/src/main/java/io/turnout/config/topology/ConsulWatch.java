package io.turnout.config.topology;

import io.turnout.config.topology.ConsulHttp.Reply;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Consul blocking-query loop on one key (or prefix), following Consul's rules for watchers: the
 * index from X-Consul-Index, reset to 0 when it goes backwards and never left at 0 after a read; a read
 * timeout longer than wait*17/16; a minimum gap between queries; jittered exponential backoff on errors.
 * Everything runs on the source's loop thread; replies hop there from the HTTP client's threads.
 *
 * <p>A subclass handles each usable reply in {@link #handle} and must end it with exactly one of
 * {@link #next()}, {@link #retryLater(int)}, {@link #failure(URI, String)} or a {@link #fetch}.
 */
abstract class ConsulWatch {
    private static final Logger LOG = LoggerFactory.getLogger(ConsulWatch.class);
    /** Non-blocking reads (first read, member reads, reads after an error). */
    static final Duration READ_TIMEOUT = Duration.ofSeconds(10);
    /** Slack on top of wait*17/16 for the network and a busy server. */
    static final Duration WAIT_MARGIN = Duration.ofSeconds(5);

    /** What a {@link #fetch} hands back: a reply with status 200/404, or an error text. */
    interface Then {
        void accept(URI base, Reply reply, String error);
    }

    protected final ConsulHttp http;
    protected final ScheduledExecutorService loop;
    protected final String key;
    private final String query;
    private final Duration wait;
    private final long minIntervalNanos;
    /** 0 = the next query is a plain read, not a blocking one. */
    protected long index;
    private long lastSentNanos;
    private int failures;
    private CompletableFuture<?> inFlight;
    /** The HTTP exchange behind {@link #inFlight}, cancelled with it so a restarted query frees its connection. */
    private CompletableFuture<?> exchange;
    private ScheduledFuture<?> timer;
    private boolean stopped;

    ConsulWatch(ConsulHttp http, ScheduledExecutorService loop, String key, String query, Duration wait,
            Duration minInterval) {
        this.http = http;
        this.loop = loop;
        this.key = key;
        this.query = query;
        this.wait = wait;
        this.minIntervalNanos = minInterval.toNanos();
        this.lastSentNanos = System.nanoTime() - minIntervalNanos;
        http.register(this);
    }

    /** A reply with status 200 or 404 whose index was already taken into account. */
    protected abstract void handle(Reply reply);

    /** Consul could not be read (after the address was rotated); the subclass marks its state stale. */
    protected abstract void onFailure(String error);

    final void start() {
        if (!stopped && inFlight == null && timer == null) {
            send();
        }
    }

    final void stop() {
        stopped = true;
        http.unregister(this);
        if (timer != null) {
            timer.cancel(false);
        }
        if (inFlight != null) {
            inFlight.cancel(true);
        }
    }

    private void send() {
        timer = null;
        if (stopped) {
            return;
        }
        lastSentNanos = System.nanoTime();
        boolean blocking = index > 0;
        String q = blocking ? join(query, "index=" + index + "&wait=" + wait.toMillis() + "ms") : query;
        Duration timeout = blocking ? wait.plus(wait.dividedBy(16)).plus(WAIT_MARGIN) : READ_TIMEOUT;
        request(key, q, timeout, this::keyReply);
    }

    private void keyReply(URI base, Reply r, String error) {
        if (error != null) {
            failure(base, error);
            return;
        }
        if (r.index() < index) {
            // a snapshot restore or a new cluster: blocking on the old index could wait forever
            LOG.info("consul_index_reset key={} from={} to={}", key, index, r.index());
            index = 0;
            // every other watch is blocked on (or about to send) an index from before the restore and
            // would sleep through changes for up to `wait`: they start over too
            http.indexWentBackwards(this);
        } else {
            // Consul never means 0 after a read; blocking on 0 would return at once, in a loop
            index = Math.max(r.index(), 1);
        }
        handle(r);
    }

    /** A plain GET of another key in the same chain of work (e.g. the leader's member key). */
    protected final void fetch(String otherKey, Then then) {
        request(otherKey, "", READ_TIMEOUT, then);
    }

    /**
     * Another watch saw X-Consul-Index go backwards (a snapshot restore): this one's index is stale too. A
     * request in flight is re-sent even when it is a plain read (index 0): it may have been answered before
     * the restore, and its pre-restore index would then block the next query for a whole `wait`.
     */
    final void indexReset() {
        if (stopped) {
            return;
        }
        index = 0;
        if (inFlight != null) {
            CompletableFuture<?> f = inFlight;
            inFlight = null;
            f.cancel(true);
            exchange.cancel(true);
            send(); // a pending timer would send with index 0 anyway
        }
    }

    private void request(String k, String q, Duration timeout, Then then) {
        URI base = http.currentUrl();
        CompletableFuture<Reply> call = http.get(k, q, timeout);
        CompletableFuture<?>[] self = new CompletableFuture<?>[1];
        exchange = call;
        self[0] = inFlight = call.whenCompleteAsync((r, t) -> {
            if (inFlight != self[0]) {
                return; // restarted by indexReset(): this reply is from before the restore
            }
            inFlight = null;
            if (stopped || loop.isShutdown()) {
                return;
            }
            try {
                if (t != null) {
                    then.accept(base, null, DcsHttp.describe(t));
                } else if (r.status() == 200 || r.status() == 404) {
                    then.accept(base, r, null);
                } else {
                    if (r.status() == 403) {
                        http.reloadToken();
                    }
                    then.accept(base, null, "HTTP " + r.status() + " " + DcsHttp.snippet(r.body()));
                }
            } catch (RuntimeException e) {
                // a bug must not end the watch silently: log it and go round again after a pause
                LOG.error("consul_internal_error key={}", k, e);
                failure(base, e.toString());
            }
        }, loop);
    }

    /** Done with this reply: query again, but not sooner than the minimum gap after the last query. */
    protected final void next() {
        recovered();
        schedule(Math.max(0, lastSentNanos + minIntervalNanos - System.nanoTime()));
    }

    /** The reply was read but is not usable yet (e.g. a leader's member key is missing): re-read later. */
    protected final void retryLater(int attempt) {
        recovered();
        index = 0;
        schedule(Backoff.nanos(attempt));
    }

    /** Consul at {@code base} failed: move to the next address, mark stale, back off, and re-read plainly. */
    protected final void failure(URI base, String error) {
        failures++;
        // the first read after trouble does not block: it proves recovery at once and catches up
        index = 0;
        if (failures == 1 || failures % 20 == 0) {
            LOG.warn("consul_error url={} key={} error={} failures={}", base, key, error, failures);
        }
        http.failed(base);
        onFailure(error);
        schedule(Backoff.nanos(failures));
    }

    /**
     * Consul answered a whole round (key and follow-up reads). Counted here, not on the first good reply,
     * so that a round failing half-way keeps backing off instead of retrying every 50 ms.
     */
    private void recovered() {
        if (failures > 0) {
            LOG.info("consul_recovered url={} key={} after_failures={}", http.currentUrl(), key, failures);
            failures = 0;
        }
    }

    private void schedule(long delayNanos) {
        // a closing source shuts the loop down while replies may still be in hand
        if (!stopped && !loop.isShutdown()) {
            try {
                timer = loop.schedule(this::send, delayNanos, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException e) {
                // closed between the check and the call: nothing left to do
            }
        }
    }

    private static String join(String a, String b) {
        return a.isEmpty() ? b : a + "&" + b;
    }
}
