package io.turnout.config;

/** How a static comma list of hosts is used for new server connections (PgBouncer 1.24's load_balance_hosts). */
public enum LoadBalanceHosts implements ConfigKeyword {
    /** Always try the hosts in the order written; the next one only when a connection attempt fails. */
    DISABLE("disable"),
    /** Each new connection starts at the next host in the list (PgBouncer's default). */
    ROUND_ROBIN("round-robin");

    public static final String ALLOWED = "disable, round-robin";

    private final String key;

    LoadBalanceHosts(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    static LoadBalanceHosts of(String value) {
        return ConfigKeyword.lookup(values(), value);
    }
}
