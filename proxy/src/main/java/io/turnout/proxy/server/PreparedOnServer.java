package io.turnout.proxy.server;

import java.util.Iterator;
import java.util.LinkedHashMap;

/**
 * The pooler-wide statement names prepared on one server connection, least recently used first, bounded by
 * max_prepared_statements. Touched only on the connection's event loop.
 */
public final class PreparedOnServer {
    private final LinkedHashMap<String, Boolean> names = new LinkedHashMap<>(16, 0.75f, true);

    /** True when {@code name} is prepared here (and marks it recently used). */
    public boolean has(String name) {
        return names.get(name) != null;
    }

    /**
     * Records {@code name} as prepared here; returns the least recently used name to Close when that takes
     * the connection past {@code max} statements, else null.
     */
    public String add(String name, int max) {
        names.put(name, Boolean.TRUE);
        if (names.size() <= max) {
            return null;
        }
        Iterator<String> eldest = names.keySet().iterator();
        String evicted = eldest.next();
        eldest.remove();
        return evicted;
    }

    /** A Parse of {@code name} failed, or a Close of it went out: it is not prepared here. */
    public void remove(String name) {
        names.remove(name);
    }

    /** DISCARD ALL or DEALLOCATE ALL ran: nothing is prepared here any more. */
    void clear() {
        names.clear();
    }

    public int size() {
        return names.size();
    }
}
