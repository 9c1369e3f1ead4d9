package io.turnout.config;

/** An enum value written in the configuration as a keyword (sslmode's {@code verify-full}, {@code round-robin}). */
interface ConfigKeyword {
    /** How the value is spelled in turnout.yaml and pgbouncer.ini. */
    String key();

    /** The value spelled {@code value} (any case, surrounding blanks ignored), or null when none is. */
    static <E extends Enum<E> & ConfigKeyword> E lookup(E[] values, String value) {
        String wanted = value.trim();
        for (E e : values) {
            if (e.key().equalsIgnoreCase(wanted)) {
                return e;
            }
        }
        return null;
    }
}
