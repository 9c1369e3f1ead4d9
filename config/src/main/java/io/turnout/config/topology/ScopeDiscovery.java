package io.turnout.config.topology;

import io.turnout.config.topology.ConsulHttp.Reply;
import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * Lists the scopes under the namespace ({@code GET /v1/kv/<ns>/?keys&separator=/}) for wildcard databases.
 * The prefix's index moves whenever any member of any cluster rewrites its key, so this query wakes
 * often; a longer minimum gap keeps that cheap while a new cluster still shows up within a second.
 */
final class ScopeDiscovery extends ConsulWatch {
    static final Duration MIN_INTERVAL = Duration.ofMillis(500);

    private final String prefix;
    private final Consumer<Set<String>> publish;

    ScopeDiscovery(ConsulHttp http, ScheduledExecutorService loop, String namespace, Duration wait,
            Consumer<Set<String>> publish) {
        super(http, loop, PatroniKeys.normalizeNamespace(namespace) + "/", "keys&separator=/", wait, MIN_INTERVAL);
        this.prefix = PatroniKeys.normalizeNamespace(namespace) + "/";
        this.publish = publish;
    }

    @Override
    protected void handle(Reply r) {
        Set<String> scopes = new TreeSet<>();
        if (r.status() == 200) {
            try {
                for (String k : ConsulKv.keys(r.body())) {
                    // "service/shard-a/" is a scope; "service/stray-key" is not
                    PatroniKeys.KeyPath p = k.startsWith(prefix) ? PatroniKeys.keyPath(k.substring(prefix.length())) : null;
                    if (p != null && p.rest().isEmpty()) {
                        scopes.add(p.scope());
                    }
                }
            } catch (IOException e) {
                failure(r.base(), "unreadable key list for " + prefix + ": " + e.getMessage());
                return;
            }
        }
        publish.accept(scopes);
        next();
    }

    @Override
    protected void onFailure(String error) {
        // the scopes seen last stay published; the leader watches report the outage
    }
}
