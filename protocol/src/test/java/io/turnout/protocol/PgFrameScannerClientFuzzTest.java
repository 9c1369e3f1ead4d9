package io.turnout.protocol;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/** The client direction: an untyped startup packet first, then typed frames. */
class PgFrameScannerClientFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void scan(FuzzedDataProvider data) {
        FrameScanFuzz.run(data, true);
    }
}
