package io.turnout.bench;

import io.turnout.protocol.auth.AuthException;
import io.turnout.protocol.auth.ScramClient;
import io.turnout.protocol.auth.ScramSecret;
import io.turnout.protocol.auth.ScramServer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One SCRAM-SHA-256 exchange checked against a verifier, as a login storm costs Turnout per client (issue 18):
 * the server side, plus a client whose SaltedPassword is cached, so no PBKDF2 runs in the measured loop on
 * either side; what remains is the nonce, the message parsing, three HMACs and two hashes per side.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class ScramLoginBenchmark {
    private static final String PASSWORD = "bench_password";

    private ScramSecret verifier;

    @Setup
    public void setUp() {
        verifier = ScramSecret.fromPassword(PASSWORD);
    }

    @Benchmark
    public byte[] exchangeFromVerifier() throws AuthException {
        ScramServer server = new ScramServer(verifier);
        ScramClient client = new ScramClient(PASSWORD);
        byte[] serverFirst = server.handleClientFirst(client.clientFirstMessage());
        byte[] serverFinal = server.handleClientFinal(client.handleServerFirst(serverFirst));
        client.verifyServerFinal(serverFinal);
        return serverFinal;
    }
}
