package io.turnout.config.topology;

import io.turnout.config.topology.ConsulHttp.Reply;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * A blocking query on one more key of a Patroni cluster in Consul ({@code failover}, {@code config},
 * {@code status}, {@code optime/leader}), whose value (null: absent) goes to {@code onChange} each time it
 * differs from the last one. A key of its own rather than a watch on the whole prefix: members rewrite their
 * keys every loop_wait, most of these change only when someone acts. Failures only back off: the leader watch
 * marks the cluster stale.
 */
final class ScopeKeyWatch extends ConsulWatch {
    private final Consumer<String> onChange;
    private boolean known;
    private String last;

    ScopeKeyWatch(ConsulHttp http, ScheduledExecutorService loop, String key, Duration wait, Duration minInterval,
            Consumer<String> onChange) {
        super(http, loop, key, "", wait, minInterval);
        this.onChange = onChange;
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
            onChange.accept(value);
        }
        next();
    }

    @Override
    protected void onFailure(String error) {
        // the leader watch reports the outage; this key keeps its last value
    }
}
