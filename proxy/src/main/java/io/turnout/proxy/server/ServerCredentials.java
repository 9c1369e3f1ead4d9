package io.turnout.proxy.server;

/**
 * What a server login presents to PostgreSQL. {@code secret} is a plain password, an md5 hash or a SCRAM
 * verifier; with a verifier only, SCRAM needs the ClientKey recovered from a client's own SCRAM login
 * ({@code scramClientKey}, {@code scramServerKey}), exactly as PgBouncer does.
 */
public record ServerCredentials(String user, String secret, byte[] scramClientKey, byte[] scramServerKey) {

    public static ServerCredentials of(String user, String secret) {
        return new ServerCredentials(user, secret, null, null);
    }

    public boolean hasPlainPassword() {
        return secret != null && !secret.startsWith("SCRAM-SHA-256$")
                && !(secret.startsWith("md5") && secret.length() == 35);
    }

    @Override
    public String toString() {
        return "ServerCredentials[" + user + "]";
    }
}
