package io.turnout.protocol.auth;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * What a client sends in a SCRAM exchange: client-first-message, then client-final-message. Half the inputs
 * start from a well-formed client-first so the fuzzer also reaches the final message's parser. Only
 * AuthException may come out (the client gets 28P01); a wrong proof must never be accepted.
 */
class ScramServerFuzzTest {
    private static final ScramSecret SECRET = ScramSecret.fromPassword("pencil",
            "fixed-salt-16byt".getBytes(StandardCharsets.US_ASCII), 4096);
    private static final String SERVER_NONCE = "3rfcNHYJY1ZVvWVs7j";

    @FuzzTest(maxDuration = "3s")
    void exchange(FuzzedDataProvider data) {
        ScramServer server = new ScramServer(SECRET, SERVER_NONCE);
        byte[] first = data.consumeBoolean()
                ? ("n,,n=,r=" + data.consumeString(30)).getBytes(StandardCharsets.ISO_8859_1)
                : data.consumeBytes(200);
        try {
            server.handleClientFirst(first);
        } catch (AuthException expected) {
            return;
        }
        byte[] fin = data.consumeRemainingAsBytes();
        try {
            server.handleClientFinal(fin);
            throw new AssertionError("a fuzzed proof was accepted: " + new String(fin, StandardCharsets.ISO_8859_1));
        } catch (AuthException expected) {
            // a malformed message or a wrong proof
        }
    }
}
