package io.turnout.protocol;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/** The server direction: typed frames from the first byte. */
class PgFrameScannerServerFuzzTest {
    @FuzzTest(maxDuration = "3s")
    void scan(FuzzedDataProvider data) {
        FrameScanFuzz.run(data, false);
    }
}
