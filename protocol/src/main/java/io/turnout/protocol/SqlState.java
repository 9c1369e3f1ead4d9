package io.turnout.protocol;

/** The SQLSTATE codes Turnout itself raises (PostgreSQL Appendix A). */
public final class SqlState {
    public static final String PROTOCOL_VIOLATION = "08P01";
    public static final String CONNECTION_FAILURE = "08006";
    public static final String CONNECTION_EXCEPTION = "08000";
    public static final String SQLSERVER_REJECTED_ESTABLISHMENT = "08004";
    public static final String INVALID_PASSWORD = "28P01";
    public static final String INVALID_AUTHORIZATION = "28000";
    public static final String INVALID_CATALOG_NAME = "3D000";
    public static final String TOO_MANY_CONNECTIONS = "53300";
    public static final String FEATURE_NOT_SUPPORTED = "0A000";
    public static final String ADMIN_SHUTDOWN = "57P01";
    public static final String CANNOT_CONNECT_NOW = "57P03";
    public static final String QUERY_CANCELED = "57014";
    public static final String IDLE_IN_TRANSACTION_TIMEOUT = "25P03";
    public static final String ACTIVE_SQL_TRANSACTION = "25001";
    public static final String INTERNAL_ERROR = "XX000";
    public static final String SYNTAX_ERROR = "42601";
    public static final String INSUFFICIENT_PRIVILEGE = "42501";
    public static final String INVALID_PARAMETER_VALUE = "22023";
    public static final String OBJECT_NOT_IN_PREREQUISITE_STATE = "55000";
    public static final String CONFIG_FILE_ERROR = "F0000";
    public static final String CONFIGURATION_LIMIT_EXCEEDED = "53400";

    private SqlState() {
    }
}
