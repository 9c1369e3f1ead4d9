package io.turnout.protocol.auth;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** The SCRAM-SHA-256 building blocks of RFC 5802 section 3, shared by the secret, server and client. */
final class ScramCrypto {
    static final int KEY_LENGTH = 32;
    /** PostgreSQL's SCRAM_RAW_NONCE_LEN: 18 random bytes encode to 24 base64 characters without padding. */
    private static final int RAW_NONCE_LENGTH = 18;
    static final SecureRandom RANDOM = new SecureRandom();

    private static final byte[] CLIENT_KEY = "Client Key".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SERVER_KEY = "Server Key".getBytes(StandardCharsets.US_ASCII);
    // A login does three HMACs and a hash: Mac.getInstance and MessageDigest.getInstance each walk the providers
    // (a storm of logins showed the lookups among the event loop's hottest frames), so each thread keeps one of
    // each and re-keys it. Never held across a call that could use it again (hi() keeps its own).
    private static final ThreadLocal<Mac> MAC = ThreadLocal.withInitial(() -> newMac());
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK lacks SHA-256", e);
        }
    });

    private ScramCrypto() {}

    static byte[] hmac(byte[] key, byte[] data) {
        Mac mac = MAC.get();
        init(mac, key);
        return mac.doFinal(data);
    }

    static byte[] sha256(byte[] data) {
        return SHA256.get().digest(data); // digest() resets it
    }

    /** Hi() of RFC 5802, i.e. PBKDF2-HMAC-SHA-256 with one output block, over raw bytes (SecretKeyFactory wants chars). */
    static byte[] hi(byte[] password, byte[] salt, int iterations) {
        Mac mac = newMac();
        init(mac, password);
        mac.update(salt);
        mac.update(new byte[] {0, 0, 0, 1});
        byte[] u = mac.doFinal();
        byte[] result = u.clone();
        try {
            for (int i = 1; i < iterations; i++) {
                mac.update(u);
                mac.doFinal(u, 0);
                for (int j = 0; j < result.length; j++) {
                    result[j] ^= u[j];
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        return result;
    }

    static byte[] clientKey(byte[] saltedPassword) {
        return hmac(saltedPassword, CLIENT_KEY);
    }

    static byte[] serverKey(byte[] saltedPassword) {
        return hmac(saltedPassword, SERVER_KEY);
    }

    static byte[] xor(byte[] a, byte[] b) {
        byte[] out = new byte[a.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) (a[i] ^ b[i]);
        }
        return out;
    }

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    static String randomNonce() {
        return b64(randomBytes(RAW_NONCE_LENGTH));
    }

    static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    /** Decodes base64, throwing IllegalArgumentException on bad input. */
    static byte[] unb64(String s) {
        return Base64.getDecoder().decode(s);
    }

    /** RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII except ','. */
    static boolean isPrintableNonce(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x21 || c > 0x7E || c == ',') {
                return false;
            }
        }
        return true;
    }

    /**
     * SCRAM messages are parsed as ISO-8859-1 so every byte maps to one char and back: the AuthMessage must
     * be rebuilt from exactly the bytes the peer sent, even if a username is not valid UTF-8.
     */
    static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    static byte[] latin1(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static Mac newMac() {
        try {
            return Mac.getInstance("HmacSHA256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK lacks HmacSHA256", e);
        }
    }

    private static void init(Mac mac, byte[] key) {
        try {
            mac.init(new SecretKeySpec(key, "HmacSHA256")); // re-keying resets it
        } catch (java.security.InvalidKeyException e) {
            throw new IllegalStateException("HMAC key rejected", e);
        }
    }
}
