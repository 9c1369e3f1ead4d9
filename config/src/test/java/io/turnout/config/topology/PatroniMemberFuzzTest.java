package io.turnout.config.topology;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Patroni's member JSON (conn_url, role, state, timeline, api_url, xlog_location, replication_state, tags) and
 * the status key's leader LSN, as any writer of the DCS could leave them.
 */
class PatroniMemberFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void member(byte[] json) {
        String text = new String(json, StandardCharsets.UTF_8);
        if (PatroniKeys.leaderLsn(text, null) < 0 || PatroniKeys.leaderLsn(null, text) < 0) {
            throw new AssertionError("a negative leader LSN from " + text);
        }
        try {
            PatroniMember m = PatroniKeys.member("m0", new String(json, StandardCharsets.UTF_8));
            if (m.endpoint() == null || m.endpoint().port() < 1 || m.endpoint().port() > 65535) {
                throw new AssertionError("accepted a member without a usable endpoint: " + m);
            }
            if (m.xlogLocation() < 0 || m.tags() == null) {
                throw new AssertionError("a negative WAL position or no tags: " + m);
            }
        } catch (PatroniDataException expected) {
            // recorded on the cluster, the watch carries on
        }
    }
}
