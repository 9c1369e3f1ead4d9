package io.turnout.proxy.testing;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/** pgjdbc on Turnout's admin console (simple query mode, as with PgBouncer's): results as plain tables. */
public final class AdminClient implements AutoCloseable {
    /** One result: column names and type names in order, rows keyed by column name. */
    public record Table(List<String> columns, List<String> types, List<Map<String, String>> rows) {
        public List<Map<String, String>> where(String column, String value) {
            return rows.stream().filter(r -> value.equals(r.get(column))).toList();
        }

        public Map<String, String> only(String column, String value) {
            List<Map<String, String>> found = where(column, value);
            if (found.size() != 1) {
                throw new AssertionError("expected one row with " + column + "=" + value + ", got " + found
                        + " in " + rows);
            }
            return found.get(0);
        }
    }

    private final Connection connection;

    public AdminClient(TurnoutFixture turnout, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("preferQueryMode", "simple");
        this.connection = turnout.connect(user, password, "pgbouncer", p);
    }

    public Table query(String sql) throws SQLException {
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            ResultSetMetaData md = rs.getMetaData();
            List<String> cols = new ArrayList<>();
            List<String> types = new ArrayList<>();
            for (int i = 1; i <= md.getColumnCount(); i++) {
                cols.add(md.getColumnName(i));
                types.add(md.getColumnTypeName(i));
            }
            List<Map<String, String>> rows = new ArrayList<>();
            while (rs.next()) {
                Map<String, String> row = new LinkedHashMap<>();
                for (int i = 1; i <= cols.size(); i++) {
                    row.put(cols.get(i - 1), rs.getString(i));
                }
                rows.add(row);
            }
            return new Table(cols, types, rows);
        }
    }

    /** A command without a result set (PAUSE, RELOAD, SET ...). */
    public void execute(String sql) throws SQLException {
        try (Statement s = connection.createStatement()) {
            s.execute(sql);
        }
    }

    public Connection connection() {
        return connection;
    }

    @Override
    public void close() throws SQLException {
        connection.close();
    }
}
