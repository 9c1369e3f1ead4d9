package io.turnout.bench;

/** What the benchmark mains share to read their command lines. */
public final class CommandLine {
    private CommandLine() {
    }

    /** {@code v} as a whole number of at least {@code min}; IllegalArgumentException naming {@code option} otherwise. */
    public static int wholeNumber(String option, String v, int min) {
        try {
            int n = Integer.parseInt(v.strip());
            if (n >= min) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be a whole number of at least " + min + ", got '" + v + "'");
    }
}
