package io.turnout.config;

/** How clients prove who they are to Turnout (PgBouncer's auth_type values). */
public enum AuthType implements ConfigKeyword {
    TRUST("trust"), PLAIN("plain"), MD5("md5"), SCRAM_SHA_256("scram-sha-256"),
    /** The TLS client certificate's CommonName is the user name (needs client_tls_ca_file). */
    CERT("cert");

    private final String key;

    AuthType(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    static AuthType of(String value) {
        AuthType t = ConfigKeyword.lookup(values(), value);
        if (t != null) {
            return t;
        }
        // PgBouncer calls cleartext "plain"; PostgreSQL's pg_hba calls it "password".
        return "password".equalsIgnoreCase(value) ? PLAIN : null;
    }
}
