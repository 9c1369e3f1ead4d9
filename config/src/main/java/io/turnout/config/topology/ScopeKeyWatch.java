package io.turnout.config.topology;

import io.turnout.config.topology.ConsulHttp.Reply;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A blocking query on one more key of a Patroni cluster in Consul ({@code failover} or {@code config}), whose
 * value goes to the cluster's {@link ClusterTracker}. A key of its own rather than a watch on the whole
 * prefix: members rewrite their keys every loop_wait, these two change only when someone acts. Failures only
 * back off: the leader watch marks the cluster stale.
 */
final class ScopeKeyWatch extends ConsulWatch {
    /** What the tracker is told of this key's value (null: absent). */
    interface Sink {
        void value(ClusterTracker tracker, String value);
    }

    private final ClusterTracker tracker;
    private final Sink sink;
    private final Runnable afterChange;
    private boolean known;
    private String last;

    ScopeKeyWatch(ConsulHttp http, ScheduledExecutorService loop, String key, Duration wait, Duration minInterval,
            ClusterTracker tracker, Sink sink, Runnable afterChange) {
        super(http, loop, key, "", wait, minInterval);
        this.tracker = tracker;
        this.sink = sink;
        this.afterChange = afterChange;
    }

    @Override
    protected void handle(Reply r) {
        String value;
        try {
            value = r.status() == 404 ? null : ConsulKv.singleValue(r.body());
        } catch (IOException e) {
            failure(r.base(), "unreadable reply for " + key + ": " + e.getMessage());
            return;
        }
        if (!known || !java.util.Objects.equals(value, last)) {
            known = true;
            last = value;
            sink.value(tracker, value);
            tracker.republish();
            afterChange.run();
        }
        next();
    }

    @Override
    protected void onFailure(String error) {
        // the leader watch reports the outage; this key keeps its last value
    }
}
