package io.turnout.proxy.admin;

import io.netty.buffer.ByteBuf;
import io.turnout.protocol.PgWrite;
import java.util.ArrayList;
import java.util.List;

/**
 * A result set the console sends: typed columns (PgBouncer's types: text, int4, numeric for counters
 * that may pass 2^63) and rows of text values.
 */
final class AdminResult {
    static final int TEXT = 25;
    static final int INT4 = 23;
    static final int INT8 = 20;
    static final int NUMERIC = 1700;

    private final List<String> names = new ArrayList<>();
    private final List<Integer> types = new ArrayList<>();
    private final List<List<String>> rows = new ArrayList<>();
    private final String tag;

    AdminResult(String tag) {
        this.tag = tag;
    }

    /** Columns as "name:type" pairs, e.g. {@code columns("database", TEXT, "cl_active", INT4)}. */
    AdminResult columns(Object... nameTypePairs) {
        for (int i = 0; i < nameTypePairs.length; i += 2) {
            names.add((String) nameTypePairs[i]);
            types.add((Integer) nameTypePairs[i + 1]);
        }
        return this;
    }

    /** A row; values are printed with {@link String#valueOf}, Java null is SQL NULL. */
    AdminResult row(Object... values) {
        if (values.length != names.size()) {
            throw new IllegalArgumentException("row of " + values.length + " values for " + names.size() + " columns");
        }
        List<String> r = new ArrayList<>(values.length);
        for (Object v : values) {
            r.add(v == null ? null : v instanceof Boolean b ? (b ? "1" : "0") : String.valueOf(v));
        }
        rows.add(r);
        return this;
    }

    List<String> names() {
        return names;
    }

    List<List<String>> rows() {
        return rows;
    }

    void writeTo(ByteBuf out) {
        int[] oids = types.stream().mapToInt(Integer::intValue).toArray();
        PgWrite.rowDescription(out, names, oids);
        for (List<String> r : rows) {
            PgWrite.dataRow(out, r);
        }
        PgWrite.commandComplete(out, tag);
    }
}
