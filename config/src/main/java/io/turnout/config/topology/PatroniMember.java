package io.turnout.config.topology;

/**
 * What Turnout uses from a Patroni {@code members/<name>} key.
 *
 * @param role as written: master (Patroni 3), primary (4), replica, promoted, demoted, standby_leader...
 * @param state postgres state: running, starting, stopped, restarting...
 * @param timeline 0 when absent (Patroni omits it while postgres is not running)
 */
public record PatroniMember(String name, Endpoint endpoint, String role, String state, long timeline, String apiUrl) {
}
