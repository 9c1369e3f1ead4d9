package io.turnout.config.topology;

import io.turnout.config.topology.ConsulHttp.Reply;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows one Patroni cluster in Consul: a blocking query on {@code <ns>/<scope>/leader}, and on every
 * answer naming a leader a read of {@code members/<leader>} for its conn_url. Watching only the leader
 * key (not the whole prefix) keeps the loop quiet: members rewrite their keys every loop_wait.
 */
final class LeaderWatch extends ConsulWatch {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderWatch.class);

    private final String namespace;
    private final String scope;
    private final Consumer<ClusterState> publish;
    private ClusterState state;
    /** Leader whose member key is being read; null otherwise. */
    private String reading;
    private int unresolved;

    LeaderWatch(ConsulHttp http, ScheduledExecutorService loop, String namespace, String scope, Duration wait,
            Duration minInterval, ClusterState initial, Consumer<ClusterState> publish) {
        super(http, loop, PatroniKeys.leaderKey(namespace, scope), "", wait, minInterval);
        this.namespace = namespace;
        this.scope = scope;
        this.state = initial;
        this.publish = publish;
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
            // published at once: the proxy must stop sending new transactions to the old leader
            unresolved = 0;
            set(ClusterState.noLeader(scope, Instant.now(), r.index()));
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
        if (m.status() == 404) {
            unusable(name, "member key " + PatroniKeys.memberKey(namespace, scope, name) + " is missing", at);
            return;
        }
        try {
            PatroniMember member = PatroniKeys.member(name, ConsulKv.singleValue(m.body()));
            unresolved = 0;
            set(ClusterState.leader(scope, name, member, Instant.now(), at));
            next();
        } catch (PatroniDataException e) {
            unusable(name, e.getMessage(), at);
        } catch (IOException e) {
            failure(base, "unreadable reply for member " + name + ": " + e.getMessage());
        }
    }

    /**
     * The leader's member data cannot be used. Same leader as before: keep its endpoint and report the
     * error (Patroni rewrites the key within loop_wait). A new leader: publish it without an endpoint, so
     * the proxy holds transactions instead of sending them to the old one.
     */
    private void unusable(String name, String error, long at) {
        Instant now = Instant.now();
        if (state.hasLeader() && name.equals(state.leaderName())) {
            set(new ClusterState(scope, state.status(), name, state.leader(), state.role(), state.timeline(),
                    false, error, now, at));
        } else {
            set(ClusterState.unresolved(scope, name, error, now, at));
        }
        retryLater(++unresolved);
    }

    @Override
    protected void onFailure(String error) {
        Instant now = Instant.now();
        if (reading != null && !reading.equals(state.leaderName())) {
            // the leader key moved but the new member could not be read: the old endpoint is no longer right
            set(ClusterState.unresolved(scope, reading, error, now, state.index()).asStale(error, now));
        } else {
            set(state.asStale(error, now));
        }
        reading = null;
    }

    private void set(ClusterState next) {
        if (next.sameAs(state)) {
            return;
        }
        ClusterState prev = state;
        state = next;
        if (next.leaderDiffers(prev)) {
            switch (next.status()) {
                case LEADER -> LOG.info("consul_leader_changed scope={} leader={} endpoint={} role={} timeline={} index={}",
                        scope, next.leaderName(), next.leader(), next.role(), next.timeline(), next.index());
                case NO_LEADER -> LOG.info("consul_no_leader scope={} previous={} index={}", scope, prev.leaderName(), next.index());
                case UNRESOLVED -> LOG.warn("consul_leader_unresolved scope={} leader={} error={}", scope,
                        next.leaderName(), next.lastError());
                default -> LOG.info("consul_state scope={} state={}", scope, next);
            }
        } else if (next.stale() != prev.stale()) {
            LOG.info("consul_stale scope={} stale={} error={}", scope, next.stale(), next.lastError());
        } else if (!next.stale() && next.lastError() != null) {
            LOG.warn("patroni_member_unusable scope={} leader={} error={}", scope, next.leaderName(), next.lastError());
        }
        publish.accept(next);
    }
}
