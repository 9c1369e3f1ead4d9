package io.turnout.config.topology;

import io.turnout.config.topology.ConsulHttp.Reply;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A recursive blocking query on {@code <ns>/<scope>/members/} in Consul, feeding every member's value to the
 * shard's {@link MemberTracker}. It wakes each time any member rewrites its key (every loop_wait: the WAL
 * position moves), which is the price of knowing each standby's lag; only scopes that serve reads pay it.
 * Failures only back off: the leader watch marks the cluster stale.
 */
final class MembersWatch extends ConsulWatch {
    private final MemberTracker tracker;

    MembersWatch(ConsulHttp http, ScheduledExecutorService loop, String namespace, String scope, Duration wait,
            Duration minInterval, MemberTracker tracker) {
        super(http, loop, PatroniKeys.scopePrefix(namespace, scope) + PatroniKeys.MEMBERS, "recurse", wait,
                minInterval);
        this.tracker = tracker;
    }

    @Override
    protected void handle(Reply r) {
        Map<String, String> values = new HashMap<>();
        if (r.status() != 404) {
            try {
                for (ConsulKv.Entry e : ConsulKv.entries(r.body())) {
                    String name = e.key().startsWith(key) ? e.key().substring(key.length()) : "";
                    // the folder key itself, or something nested deeper, is no member
                    if (!name.isEmpty() && name.indexOf('/') < 0) {
                        values.put(name, e.value());
                    }
                }
            } catch (IOException e) {
                failure(r.base(), "unreadable reply for " + key + ": " + e.getMessage());
                return;
            }
        }
        tracker.members(values);
        tracker.publish();
        next();
    }

    @Override
    protected void onFailure(String error) {
        // the leader watch reports the outage; the members keep their last values
    }
}
