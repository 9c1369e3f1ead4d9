package io.turnout.protocol.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class Md5Test {
    /** PostgreSQL 15, password_encryption = 'md5': CREATE ROLE m PASSWORD 'secret'. */
    private static final String PG_M = "md5b52328d7451bfeace80c4b8c338106f9";
    /** PostgreSQL 15, password_encryption = 'md5': CREATE ROLE alice PASSWORD 'p@ss w0rd'. */
    private static final String PG_ALICE = "md59d0e81b797fdd5f30a0de16b5e5e569c";
    private static final byte[] SALT = {0x01, 0x02, (byte) 0xfe, (byte) 0xff};
    /** md5(hex-part of PG_M + SALT), computed independently with Python's hashlib. */
    private static final String RESPONSE_M = "md56ee5e0d8d48fe460e07e708670db369e";

    @Test
    void hashMatchesPostgres() {
        assertThat(Md5.hash("m", "secret")).isEqualTo(PG_M);
        assertThat(Md5.hash("alice", "p@ss w0rd")).isEqualTo(PG_ALICE);
        assertThat(Md5.hash("alice", "p@ss w0rD")).isNotEqualTo(PG_ALICE);
    }

    @Test
    void responseMatchesAnIndependentComputation() {
        assertThat(ascii(Md5.response("secret", "m", SALT))).isEqualTo(RESPONSE_M);
        assertThat(ascii(Md5.response(PG_M, "m", SALT))).isEqualTo(RESPONSE_M);
    }

    @Test
    void responseDependsOnSaltUserAndPassword() {
        byte[] base = Md5.response("secret", "m", SALT);
        assertThat(Md5.response("secret", "m", new byte[] {1, 2, 3, 4})).isNotEqualTo(base);
        assertThat(Md5.response("secret", "n", SALT)).isNotEqualTo(base);
        assertThat(Md5.response("secreT", "m", SALT)).isNotEqualTo(base);
        assertThat(ascii(base)).matches("md5[0-9a-f]{32}");
    }

    @Test
    void verifyAcceptsResponsesFromPlainOrHashedInputs() {
        for (String stored : new String[] {"secret", PG_M}) {
            for (String clientSide : new String[] {"secret", PG_M}) {
                assertThat(Md5.verify(stored, "m", SALT, Md5.response(clientSide, "m", SALT)))
                        .as("stored %s, client %s", stored, clientSide)
                        .isTrue();
            }
        }
    }

    @Test
    void verifyRejectsWrongPasswordUserSaltOrShape() {
        byte[] good = Md5.response("secret", "m", SALT);
        assertThat(Md5.verify(PG_M, "m", SALT, Md5.response("wrong", "m", SALT))).isFalse();
        assertThat(Md5.verify("secret", "other", SALT, good)).isFalse();
        assertThat(Md5.verify(PG_M, "m", new byte[] {0, 0, 0, 0}, good)).isFalse();
        assertThat(Md5.verify(PG_M, "m", SALT, Arrays.copyOf(good, good.length - 1))).isFalse();
        assertThat(Md5.verify(PG_M, "m", SALT, new byte[0])).isFalse();
        assertThat(Md5.verify(PG_M, "m", SALT, PG_M.getBytes(StandardCharsets.US_ASCII))).isFalse();
    }

    @Test
    void userIsIgnoredOnceTheSecretIsHashed() {
        // The user name is salted into the stored hash, so the one passed in cannot change the response.
        assertThat(Md5.response(PG_M, "someone-else", SALT)).isEqualTo(Md5.response(PG_M, "m", SALT));
    }

    @Test
    void verifyToleratesTheCStringTerminator() {
        byte[] good = Md5.response("secret", "m", SALT);
        assertThat(Md5.verify(PG_M, "m", SALT, Arrays.copyOf(good, good.length + 1))).isTrue();
    }

    @Test
    void refusesScramSecretsAndBadSalts() {
        assertThatThrownBy(() -> Md5.verify(ScramSecretTest.PG_SECRET, "r", SALT, new byte[35]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("SCRAM");
        assertThatThrownBy(() -> Md5.response("secret", "m", new byte[3])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void looksLikeMd5FollowsPostgresRule() {
        assertThat(Md5.looksLikeMd5(PG_M)).isTrue();
        assertThat(Md5.looksLikeMd5(PG_M.toUpperCase())).isFalse();
        assertThat(Md5.looksLikeMd5("md5B52328d7451bfeace80c4b8c338106f9")).isFalse();
        assertThat(Md5.looksLikeMd5(PG_M + "0")).isFalse();
        assertThat(Md5.looksLikeMd5("md5")).isFalse();
        assertThat(Md5.looksLikeMd5(null)).isFalse();
    }

    private static String ascii(byte[] b) {
        return new String(b, StandardCharsets.US_ASCII);
    }
}
