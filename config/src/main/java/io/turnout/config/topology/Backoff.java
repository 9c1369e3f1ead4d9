package io.turnout.config.topology;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** Retry delays shared by every DCS watcher: exponential from 50 ms to 5 s, with "equal jitter". */
final class Backoff {
    static final long MIN_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    static final long MAX_NANOS = TimeUnit.SECONDS.toNanos(5);

    private Backoff() {
    }

    /** The delay before retry number {@code attempt} (1 = first); half fixed, half random so that many watchers do not retry in step. */
    static long nanos(int attempt) {
        long d = MIN_NANOS << Math.min(Math.max(attempt - 1, 0), 20);
        d = Math.min(d, MAX_NANOS);
        return d / 2 + ThreadLocalRandom.current().nextLong(d / 2 + 1);
    }
}
