package io.turnout.protocol.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * PostgreSQL MD5 password authentication. A stored secret is "md5" + hex(md5(password + user)); the
 * client answers AuthenticationMD5Password with "md5" + hex(md5(hex-part + salt)). Strings are encoded as
 * UTF-8, PostgreSQL's usual server and client encoding.
 */
public final class Md5 {
    private static final int HASH_LENGTH = 35;
    private static final int SALT_LENGTH = 4;
    private static final HexFormat HEX = HexFormat.of();

    private Md5() {}

    /** The secret PostgreSQL stores for this role and password with password_encryption = md5. */
    public static String hash(String user, String password) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
        return "md5" + HEX.formatHex(md5((password + user).getBytes(StandardCharsets.UTF_8)));
    }

    /**
     * Whether {@code s} is an MD5 secret by PostgreSQL's rule: "md5" and 32 lowercase hex digits. As in
     * PostgreSQL, a plain password of that exact shape is indistinguishable from a hash and is taken as one.
     */
    public static boolean looksLikeMd5(String s) {
        if (s == null || s.length() != HASH_LENGTH || !s.startsWith("md5")) {
            return false;
        }
        for (int i = 3; i < HASH_LENGTH; i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        return true;
    }

    /**
     * The PasswordMessage payload (without its terminating NUL) answering AuthenticationMD5Password. The
     * input may be the plain password or an MD5 secret (which already has the user salted in, so then
     * {@code user} is not used); the 4-byte salt comes from the server.
     *
     * @throws IllegalArgumentException if the input is a SCRAM verifier, which cannot answer MD5
     */
    public static byte[] response(String storedMd5OrPlainPassword, String user, byte[] salt) {
        Objects.requireNonNull(storedMd5OrPlainPassword, "storedMd5OrPlainPassword");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(salt, "salt");
        if (salt.length != SALT_LENGTH) {
            throw new IllegalArgumentException("MD5 salt must be 4 bytes, got " + salt.length);
        }
        // Taken as a plain password, a SCRAM verifier would become a working MD5 password of its own.
        if (ScramSecret.looksLikeScram(storedMd5OrPlainPassword)) {
            throw new IllegalArgumentException("a SCRAM secret cannot be used for MD5 authentication");
        }
        String stored = looksLikeMd5(storedMd5OrPlainPassword)
                ? storedMd5OrPlainPassword
                : hash(user, storedMd5OrPlainPassword);
        byte[] hexPart = stored.substring(3).getBytes(StandardCharsets.US_ASCII);
        byte[] input = Arrays.copyOf(hexPart, hexPart.length + SALT_LENGTH);
        System.arraycopy(salt, 0, input, hexPart.length, SALT_LENGTH);
        return ("md5" + HEX.formatHex(md5(input))).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Checks a client's MD5 PasswordMessage payload in constant time. A trailing NUL, if the caller left
     * the C-string terminator on, is ignored.
     *
     * @throws IllegalArgumentException if the stored secret is a SCRAM verifier
     */
    public static boolean verify(String storedSecret, String user, byte[] salt, byte[] clientResponse) {
        Objects.requireNonNull(clientResponse, "clientResponse");
        byte[] expected = response(storedSecret, user, salt);
        byte[] actual = clientResponse.length > 0 && clientResponse[clientResponse.length - 1] == 0
                ? Arrays.copyOf(clientResponse, clientResponse.length - 1)
                : clientResponse;
        return MessageDigest.isEqual(expected, actual);
    }

    private static byte[] md5(byte[] data) {
        try {
            return MessageDigest.getInstance("MD5").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK lacks MD5", e);
        }
    }
}
