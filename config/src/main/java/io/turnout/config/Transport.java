package io.turnout.config;

/** The event-loop transport (the {@code transport} key). */
public enum Transport {
    /**
     * io_uring where it loads, else epoll, else NIO: io_uring won {@code bench/race --transport} (1.10-1.22 of
     * epoll's TPS at 72-74% of its CPU per transaction).
     */
    AUTO,
    /** Linux io_uring; falls back to epoll (then NIO) with a log line when it does not load. */
    IO_URING,
    /** Linux native epoll; falls back to NIO with a log line when it does not load. */
    EPOLL,
    /** The JDK's NIO selector: every platform, no TCP_USER_TIMEOUT. */
    NIO;

    public String key() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    static Transport of(String value) {
        for (Transport t : values()) {
            if (t.key().equalsIgnoreCase(value)) {
                return t;
            }
        }
        return null;
    }
}
