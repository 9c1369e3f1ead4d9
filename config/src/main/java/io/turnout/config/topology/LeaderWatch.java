package io.turnout.config.topology;

import io.turnout.config.topology.ConsulHttp.Reply;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * Follows one Patroni cluster in Consul: a blocking query on {@code <ns>/<scope>/leader}, and on every
 * answer naming a leader a read of {@code members/<leader>} for its conn_url. Watching only the leader
 * key (not the whole prefix) keeps the loop quiet: members rewrite their keys every loop_wait.
 */
final class LeaderWatch extends ConsulWatch {
    private final String namespace;
    private final String scope;
    private final ClusterTracker tracker;
    /** Leader whose member key is being read; null otherwise. */
    private String reading;
    private int unresolved;

    LeaderWatch(ConsulHttp http, ScheduledExecutorService loop, String namespace, String scope, Duration wait,
            Duration minInterval, ClusterState initial, Consumer<ClusterState> publish) {
        super(http, loop, PatroniKeys.leaderKey(namespace, scope), "", wait, minInterval);
        this.namespace = namespace;
        this.scope = scope;
        this.tracker = new ClusterTracker("consul", scope, PatroniKeys.scopePrefix(namespace, scope), initial, publish,
                loop, true);
    }

    /** Reads the leader key now instead of waiting on the blocking query (a switchover request was cleared). */
    void readNow() {
        indexReset();
    }

    /** The cluster's tracker, which the failover and config key watches feed too. */
    ClusterTracker tracker() {
        return tracker;
    }

    @Override
    protected void handle(Reply r) {
        String name;
        if (r.status() == 404) {
            name = null;
        } else {
            try {
                name = PatroniKeys.leaderName(ConsulKv.singleValue(r.body()));
            } catch (IOException e) {
                failure(r.base(), "unreadable reply for " + key + ": " + e.getMessage());
                return;
            }
        }
        if (name == null) {
            unresolved = 0;
            tracker.noLeader(r.index());
            next();
            return;
        }
        // re-read the member even when the name is unchanged: the reply may be the wait timing out,
        // and a leader that restarted with a new connect_address keeps its name
        reading = name;
        long at = r.index();
        fetch(PatroniKeys.memberKey(namespace, scope, name), (base, m, error) -> memberRead(name, at, base, m, error));
    }

    private void memberRead(String name, long at, URI base, Reply m, String error) {
        if (error != null) {
            failure(base, "reading member " + name + ": " + error);
            return;
        }
        reading = null;
        String value;
        try {
            value = m.status() == 404 ? null : ConsulKv.singleValue(m.body());
        } catch (IOException e) {
            failure(base, "unreadable reply for member " + name + ": " + e.getMessage());
            return;
        }
        if (tracker.leader(name, value, at)) {
            unresolved = 0;
            next();
        } else {
            retryLater(++unresolved);
        }
    }

    @Override
    protected void onFailure(String error) {
        tracker.unreachable(error, reading);
        reading = null;
    }
}
