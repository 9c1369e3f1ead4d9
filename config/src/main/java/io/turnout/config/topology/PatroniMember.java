package io.turnout.config.topology;

import java.util.Map;

/**
 * What Turnout uses from a Patroni {@code members/<name>} key.
 *
 * @param role as written: master (Patroni 3), primary (4), replica (both), promoted, demoted, standby_leader...
 * @param state postgres state: running, starting, stopped, restarting...
 * @param timeline 0 when absent (Patroni omits it while postgres is not running)
 * @param xlogLocation the member's WAL position in bytes (a primary's current LSN; a standby's larger of
 *        received and replayed LSN); 0 when absent (postgres not running)
 * @param replicationState a standby's {@code replication_state} (streaming, in archive recovery...), written
 *        by Patroni 3.0.4 and later; null when absent
 * @param tags the member's tags as text ({@code noloadbalance}, {@code nofailover}, custom ones)
 * @param noLoadBalance the {@code noloadbalance} tag is set, truthy as Python's bool() takes it (Patroni's rule)
 */
public record PatroniMember(String name, Endpoint endpoint, String role, String state, long timeline, String apiUrl,
        long xlogLocation, String replicationState, Map<String, String> tags, boolean noLoadBalance) {
    public PatroniMember {
        tags = Map.copyOf(tags);
    }
}
