package io.turnout.config;

/** client_tls_sslmode / server_tls_sslmode values, in increasing strictness (PgBouncer's and libpq's names). */
public enum SslMode implements ConfigKeyword {
    DISABLE("disable"), ALLOW("allow"), PREFER("prefer"), REQUIRE("require"), VERIFY_CA("verify-ca"),
    VERIFY_FULL("verify-full");

    public static final String ALLOWED = "disable, allow, prefer, require, verify-ca, verify-full";

    private final String key;

    SslMode(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    /** At least require: a peer without TLS is refused. */
    public boolean required() {
        return compareTo(REQUIRE) >= 0;
    }

    /** verify-ca or verify-full: the peer's certificate must chain to the CA file. */
    public boolean verifies() {
        return compareTo(VERIFY_CA) >= 0;
    }

    static SslMode of(String value) {
        return ConfigKeyword.lookup(values(), value);
    }
}
