package io.turnout.config.topology;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;

/** Consul KV reply bodies: entries (?recurse), a single value, and ?keys listings. IOException only. */
class ConsulReplyFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void reply(FuzzedDataProvider data) {
        int which = data.consumeInt(0, 2);
        String body = data.consumeRemainingAsString();
        try {
            switch (which) {
                case 0 -> ConsulKv.entries(body);
                case 1 -> ConsulKv.singleValue(body);
                default -> ConsulKv.keys(body);
            }
        } catch (IOException expected) {
            // a bad reply counts as a failed read: stale, backoff, next address
        }
    }
}
