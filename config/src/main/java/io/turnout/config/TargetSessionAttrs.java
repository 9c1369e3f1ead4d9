package io.turnout.config;

/**
 * Which servers a database's transactions may run on, in libpq's {@code target_session_attrs} vocabulary.
 * For a Patroni database the members' roles come from the DCS; for a static host list each host's role is
 * what it reports at login ({@code in_hot_standby}, {@code default_transaction_read_only}).
 */
public enum TargetSessionAttrs implements ConfigKeyword {
    /** Only a server that accepts writes: the leader (today's behaviour). */
    READ_WRITE("read-write"),
    /** Only the primary: the leader (the default). */
    PRIMARY("primary"),
    /** Only standbys; with none eligible, transactions are held like a missing leader, then fail with 08006. */
    STANDBY("standby"),
    /** Standbys while any is eligible, else the leader. */
    PREFER_STANDBY("prefer-standby"),
    /** Only servers that refuse writes; for a Patroni shard that is its standbys (a leader accepts writes). */
    READ_ONLY("read-only"),
    /** Any member: the leader and the eligible standbys together. */
    ANY("any");

    public static final String ALLOWED = "read-write, primary, standby, prefer-standby, read-only, any";

    private final String key;

    TargetSessionAttrs(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    /** True for the values that route every transaction to the leader alone. */
    public boolean leaderOnly() {
        return this == READ_WRITE || this == PRIMARY;
    }

    static TargetSessionAttrs of(String value) {
        return ConfigKeyword.lookup(values(), value);
    }
}
