package io.turnout.proxy.pool;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Every distinct statement clients prepared by name, whatever they named it: one pooler-wide server-side
 * name per (query, parameter types), so a statement prepared on a server connection by one client serves
 * every client that prepares the same text. Shared by all loops.
 */
public final class PreparedStatements {
    /**
     * A statement and the body of the Parse that creates it (query, parameter count and types); the server
     * name is kept encoded too, since every Bind writes it.
     */
    public record Statement(String serverName, byte[] serverNameBytes, byte[] parseBody, Counters counters) {
        /** The SQL text, for SHOW PREPARED. */
        public String query() {
            int nul = 0;
            while (nul < parseBody.length && parseBody[nul] != 0) {
                nul++;
            }
            return new String(parseBody, 0, nul, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** Per-statement counts for SHOW PREPARED; LongAdders because clients on every loop share a statement. */
    public static final class Counters {
        public final LongAdder clientParses = new LongAdder();
        public final LongAdder serverParses = new LongAdder();
        public final LongAdder binds = new LongAdder();
    }

    private record Key(byte[] body, int hash) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.hash == hash && Arrays.equals(k.body, body);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    private final ConcurrentHashMap<Key, Statement> statements = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    public final LongAdder evictions = new LongAdder();

    /** The statement for a Parse body (everything after the statement name). */
    public Statement intern(byte[] parseBody) {
        Key key = new Key(parseBody, Arrays.hashCode(parseBody));
        return statements.computeIfAbsent(key, k -> {
            String name = "T_" + ids.incrementAndGet();
            return new Statement(name, name.getBytes(java.nio.charset.StandardCharsets.UTF_8), parseBody, new Counters());
        });
    }

    public int size() {
        return statements.size();
    }

    public java.util.Collection<Statement> all() {
        return statements.values();
    }
}
