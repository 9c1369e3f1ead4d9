package io.turnout.config.testing;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Consul's KV store as its blocking queries see it: one raft-like index bumped by every write, per-entry
 * CreateIndex/ModifyIndex/LockIndex, and tombstones so that a prefix's index moves when a key under it is
 * deleted. Index rules follow Consul's state store: a present key answers with its ModifyIndex; a missing
 * key, and a prefix with nothing under it, answer with the whole table's index.
 */
final class ConsulTestKv {
    /** One stored key. Immutable: a write replaces it. */
    record Entry(String key, byte[] value, long createIndex, long modifyIndex, long lockIndex, long flags, String session) {
    }

    /** A read's outcome: entries (maybe empty) and the index to send as X-Consul-Index. */
    record Result(List<Entry> entries, long index) {
    }

    private final TreeMap<String, Entry> entries = new TreeMap<>();
    private final TreeMap<String, Long> tombstones = new TreeMap<>();
    private long index;
    /** Counts resetIndex calls (snapshot restores): blocked readers return when it changes. */
    private long restores;

    ConsulTestKv(long startIndex) {
        this.index = startIndex;
    }

    synchronized long index() {
        return index;
    }

    synchronized Entry get(String key) {
        return entries.get(key);
    }

    synchronized Result read(String key, boolean prefix) {
        if (!prefix) {
            Entry e = entries.get(key);
            return e != null ? new Result(List.of(e), e.modifyIndex()) : new Result(List.of(), index);
        }
        List<Entry> out = new ArrayList<>(under(entries, key).values());
        long idx = 0;
        for (Entry e : out) {
            idx = Math.max(idx, e.modifyIndex());
        }
        for (long t : under(tombstones, key).values()) {
            idx = Math.max(idx, t);
        }
        return new Result(out, key.isEmpty() || idx == 0 ? index : idx);
    }

    /**
     * Blocks until the read's index exceeds {@code minIndex} or the wait (plus Consul's up-to-wait/16
     * jitter) passes, or {@code abort} says the server stopped. Returns the read either way.
     */
    synchronized Result await(String key, boolean prefix, long minIndex, long waitMillis, java.util.function.BooleanSupplier abort)
            throws InterruptedException {
        long deadline = System.nanoTime() + (waitMillis + ThreadLocalRandom.current().nextLong(waitMillis / 16 + 1)) * 1_000_000;
        Result r = read(key, prefix);
        long epoch = restores;
        while (r.index() <= minIndex && !abort.getAsBoolean() && epoch == restores) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                break;
            }
            wait(left);
            r = read(key, prefix);
        }
        return r;
    }

    /** PUT; {@code cas} null = unconditional, 0 = only if absent, n = only if ModifyIndex is n. */
    synchronized boolean put(String key, byte[] value, Long cas, String acquire, String release, long flags) {
        Entry old = entries.get(key);
        if (cas != null && (cas == 0 ? old != null : old == null || old.modifyIndex() != cas)) {
            return false;
        }
        if (acquire != null && old != null && old.session() != null && !old.session().equals(acquire)) {
            return false; // locked by another session
        }
        if (release != null && (old == null || !release.equals(old.session()))) {
            return false;
        }
        index++;
        long lockIndex = old == null ? 0 : old.lockIndex();
        String session = old == null ? null : old.session();
        if (acquire != null && !acquire.equals(session)) {
            lockIndex++;
            session = acquire;
        } else if (release != null) {
            session = null;
        }
        entries.put(key, new Entry(key, value, old == null ? index : old.createIndex(), index, lockIndex, flags, session));
        tombstones.remove(key);
        notifyAll();
        return true;
    }

    synchronized boolean delete(String key, boolean prefix, Long cas) {
        Entry old = entries.get(key);
        if (cas != null && (old == null || old.modifyIndex() != cas)) {
            return false;
        }
        Set<String> gone = new LinkedHashSet<>(prefix ? under(entries, key).keySet() : old != null ? Set.of(key) : Set.of());
        if (gone.isEmpty()) {
            return true; // the KV table (whose index readers see) did not change
        }
        index++;
        for (String k : gone) {
            entries.remove(k);
            tombstones.put(k, index);
        }
        notifyAll();
        return true;
    }

    /**
     * A snapshot restore or a rebuilt cluster: the index drops to {@code n} and nothing stored claims a
     * newer one. Waiters are not woken, as on a real server: they see the lower index when their wait ends.
     */
    synchronized void resetIndex(long n) {
        // like a snapshot restore in Consul: the state store is replaced, every blocking query returns now
        // with the (lower) index, and clients must notice it went backwards
        restores++;
        notifyAll();
        index = n;
        entries.replaceAll((k, e) -> new Entry(k, e.value(), Math.min(e.createIndex(), n), Math.min(e.modifyIndex(), n),
                e.lockIndex(), e.flags(), e.session()));
        tombstones.replaceAll((k, t) -> Math.min(t, n));
    }

    /** Wakes blocked readers so they can notice the server stopping. */
    synchronized void wakeAll() {
        notifyAll();
    }

    private static <V> Map<String, V> under(TreeMap<String, V> map, String prefix) {
        return prefix.isEmpty() ? map : map.subMap(prefix, true, prefix + Character.MAX_VALUE, false);
    }
}
