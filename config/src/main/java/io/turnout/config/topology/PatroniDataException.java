package io.turnout.config.topology;

/** A Patroni key whose content cannot be used; the message goes into {@link ClusterState#lastError()}. */
public final class PatroniDataException extends Exception {
    private static final long serialVersionUID = 1L;

    public PatroniDataException(String message) {
        super(message);
    }
}
