package io.turnout.protocol.auth;

import java.util.Arrays;
import java.util.Objects;

/**
 * A SCRAM-SHA-256 verifier as PostgreSQL stores it in pg_authid.rolpassword:
 * {@code SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>}.
 * It lets a server check a client's proof without knowing the password. Arrays are copied in and out so
 * instances are immutable.
 */
public record ScramSecret(int iterations, byte[] salt, byte[] storedKey, byte[] serverKey) {
    /** PostgreSQL's default scram_iterations. */
    public static final int DEFAULT_ITERATIONS = 4096;
    /** PostgreSQL's SCRAM_DEFAULT_SALT_LEN. */
    public static final int DEFAULT_SALT_LENGTH = 16;

    private static final String PREFIX = "SCRAM-SHA-256$";

    public ScramSecret {
        if (iterations < 1) {
            throw new IllegalArgumentException("SCRAM iteration count must be positive, got " + iterations);
        }
        Objects.requireNonNull(salt, "salt");
        if (salt.length == 0) {
            throw new IllegalArgumentException("SCRAM salt must not be empty");
        }
        requireKey(storedKey, "StoredKey");
        requireKey(serverKey, "ServerKey");
        salt = salt.clone();
        storedKey = storedKey.clone();
        serverKey = serverKey.clone();
    }

    /** Parses a PostgreSQL SCRAM-SHA-256 verifier, throwing IllegalArgumentException saying what is wrong. */
    public static ScramSecret parse(String secret) {
        Objects.requireNonNull(secret, "secret");
        if (!secret.startsWith(PREFIX)) {
            throw new IllegalArgumentException("SCRAM secret must start with \"" + PREFIX + "\"");
        }
        String[] parts = secret.substring(PREFIX.length()).split("\\$", -1);
        if (parts.length != 2) {
            throw new IllegalArgumentException(
                    "SCRAM secret must look like SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
        }
        String[] iterSalt = parts[0].split(":", -1);
        String[] keys = parts[1].split(":", -1);
        if (iterSalt.length != 2 || keys.length != 2) {
            throw new IllegalArgumentException(
                    "SCRAM secret must look like SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
        }
        int iterations;
        try {
            iterations = Integer.parseInt(iterSalt[0]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("SCRAM secret has a non-numeric iteration count", e);
        }
        return new ScramSecret(iterations, decode(iterSalt[1], "salt"), decode(keys[0], "StoredKey"),
                decode(keys[1], "ServerKey"));
    }

    /** Whether {@code s} is a well-formed SCRAM-SHA-256 verifier (as PostgreSQL decides, by parsing it). */
    public static boolean looksLikeScram(String s) {
        return parseOrNull(s) != null;
    }

    /** {@code s} parsed when it is a well-formed SCRAM-SHA-256 verifier, else null (a plain or md5 secret). */
    public static ScramSecret parseOrNull(String s) {
        if (s == null || !s.startsWith(PREFIX)) {
            return null;
        }
        try {
            return parse(s);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Builds the verifier PostgreSQL would store for this password, salt and iteration count. */
    public static ScramSecret fromPassword(String password, byte[] salt, int iterations) {
        Objects.requireNonNull(password, "password");
        Objects.requireNonNull(salt, "salt");
        if (password.isEmpty()) {
            // PostgreSQL refuses empty passwords too, and HMAC keys cannot be empty in the JDK.
            throw new IllegalArgumentException("empty password");
        }
        if (iterations < 1) {
            throw new IllegalArgumentException("SCRAM iteration count must be positive, got " + iterations);
        }
        byte[] salted = ScramCrypto.hi(SaslPrep.prepareBytes(password), salt, iterations);
        return new ScramSecret(iterations, salt, ScramCrypto.sha256(ScramCrypto.clientKey(salted)),
                ScramCrypto.serverKey(salted));
    }

    /** Builds a verifier with a random 16-byte salt and 4096 iterations, PostgreSQL's defaults. */
    public static ScramSecret fromPassword(String password) {
        return fromPassword(password, ScramCrypto.randomBytes(DEFAULT_SALT_LENGTH), DEFAULT_ITERATIONS);
    }

    /** The PostgreSQL text form, accepted by {@link #parse} and by CREATE/ALTER ROLE ... PASSWORD. */
    public String encode() {
        return PREFIX + iterations + ':' + ScramCrypto.b64(salt) + '$' + ScramCrypto.b64(storedKey) + ':'
                + ScramCrypto.b64(serverKey);
    }

    @Override
    public byte[] salt() {
        return salt.clone();
    }

    @Override
    public byte[] storedKey() {
        return storedKey.clone();
    }

    @Override
    public byte[] serverKey() {
        return serverKey.clone();
    }

    // Package-private views without copies, for the SCRAM exchange classes that never leak or mutate them.
    byte[] saltRef() {
        return salt;
    }

    byte[] storedKeyRef() {
        return storedKey;
    }

    byte[] serverKeyRef() {
        return serverKey;
    }

    /**
     * True when {@code other} is this verifier (keys compared in constant time): checking a cleartext
     * password against a stored verifier must not tell an attacker how many leading bytes were right.
     */
    public boolean sameKeys(ScramSecret other) {
        boolean stored = java.security.MessageDigest.isEqual(storedKey, other.storedKey);
        boolean server = java.security.MessageDigest.isEqual(serverKey, other.serverKey);
        return stored & server & iterations == other.iterations & java.security.MessageDigest.isEqual(salt, other.salt);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScramSecret other
                && iterations == other.iterations
                && Arrays.equals(salt, other.salt)
                && Arrays.equals(storedKey, other.storedKey)
                && Arrays.equals(serverKey, other.serverKey);
    }

    @Override
    public int hashCode() {
        int h = Integer.hashCode(iterations);
        h = 31 * h + Arrays.hashCode(salt);
        h = 31 * h + Arrays.hashCode(storedKey);
        return 31 * h + Arrays.hashCode(serverKey);
    }

    /** The keys are withheld: with them one can impersonate the server or attack the password offline. */
    @Override
    public String toString() {
        return "ScramSecret[iterations=" + iterations + ", salt=" + ScramCrypto.b64(salt) + ", keys=<redacted>]";
    }

    private static byte[] decode(String b64, String what) {
        try {
            return ScramCrypto.unb64(b64);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("SCRAM secret has invalid base64 in its " + what, e);
        }
    }

    private static void requireKey(byte[] key, String what) {
        Objects.requireNonNull(key, what);
        if (key.length != ScramCrypto.KEY_LENGTH) {
            throw new IllegalArgumentException(
                    "SCRAM " + what + " must be " + ScramCrypto.KEY_LENGTH + " bytes, got " + key.length);
        }
    }
}
