package io.turnout.protocol.auth;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * SCRAM's SaltedPassword (4096 rounds of HMAC, about a millisecond) remembered per (password, salt,
 * iterations): every server of a pool, and every replica made by pg_basebackup, answers with the same
 * salt, so only the first server login of a user pays for it, not each one on the event loop. The
 * cache holds nothing more sensitive than the passwords Turnout already keeps; it is bounded.
 */
final class SaltedPasswords {
    private static final int MAX = 1024;

    private record Key(byte[] password, byte[] salt, int iterations) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.iterations == iterations && Arrays.equals(k.password, password)
                    && Arrays.equals(k.salt, salt);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * Arrays.hashCode(password) + Arrays.hashCode(salt)) + iterations;
        }
    }

    private static final ConcurrentHashMap<Key, byte[]> CACHE = new ConcurrentHashMap<>();

    private SaltedPasswords() {
    }

    /** Hi(password, salt, iterations), computed once per distinct triple; the caller gets its own copy. */
    static byte[] get(byte[] password, byte[] salt, int iterations) {
        Key key = new Key(password.clone(), salt.clone(), iterations);
        byte[] salted = CACHE.get(key);
        if (salted == null) {
            salted = ScramCrypto.hi(password, salt, iterations);
            if (CACHE.size() >= MAX) {
                CACHE.clear(); // ever-changing salts (a misbehaving server): stay bounded, lose only speed
            }
            CACHE.put(key, salted);
        }
        return salted.clone();
    }
}
