package io.turnout.config.topology;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/** Patroni's member JSON (conn_url, role, state, timeline, api_url), as any writer of the DCS could leave it. */
class PatroniMemberFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void member(byte[] json) {
        try {
            PatroniMember m = PatroniKeys.member("m0", new String(json, StandardCharsets.UTF_8));
            if (m.endpoint() == null || m.endpoint().port() < 1 || m.endpoint().port() > 65535) {
                throw new AssertionError("accepted a member without a usable endpoint: " + m);
            }
        } catch (PatroniDataException expected) {
            // recorded on the cluster, the watch carries on
        }
    }
}
