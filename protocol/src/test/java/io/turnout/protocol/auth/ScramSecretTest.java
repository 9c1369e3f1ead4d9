package io.turnout.protocol.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import org.junit.jupiter.api.Test;

class ScramSecretTest {
    /** Produced by PostgreSQL 15: SET password_encryption = 'scram-sha-256'; CREATE ROLE r PASSWORD 'secret'. */
    static final String PG_SECRET = "SCRAM-SHA-256$4096:Ojhr3AnTXIMgSx76COaXjg==$"
            + "KZBIh2n/Rj6SD8vQv2+NVMofOneN5CVzVAB1snTtHUM=:t032rqHl7F5cbN5DdcKQX1IslUN40YML2NZJJz+z7lk=";

    @Test
    void parsesPostgresVerifier() {
        ScramSecret secret = ScramSecret.parse(PG_SECRET);

        assertThat(secret.iterations()).isEqualTo(4096);
        assertThat(secret.salt()).isEqualTo(Base64.getDecoder().decode("Ojhr3AnTXIMgSx76COaXjg=="));
        assertThat(secret.storedKey()).isEqualTo(Base64.getDecoder().decode("KZBIh2n/Rj6SD8vQv2+NVMofOneN5CVzVAB1snTtHUM="));
        assertThat(secret.serverKey()).isEqualTo(Base64.getDecoder().decode("t032rqHl7F5cbN5DdcKQX1IslUN40YML2NZJJz+z7lk="));
        assertThat(secret.encode()).isEqualTo(PG_SECRET);
    }

    @Test
    void fromPasswordMatchesPostgres() {
        ScramSecret pg = ScramSecret.parse(PG_SECRET);

        ScramSecret ours = ScramSecret.fromPassword("secret", pg.salt(), pg.iterations());

        assertThat(ours).isEqualTo(pg).hasSameHashCodeAs(pg);
        assertThat(ours.encode()).isEqualTo(PG_SECRET);
        assertThat(ScramSecret.fromPassword("Secret", pg.salt(), pg.iterations())).isNotEqualTo(pg);
    }

    @Test
    void fromPasswordMatchesRfc7677Keys() {
        // RFC 7677 does not print the keys; they are pinned by its exchange in ScramServerTest, so here we
        // check the derivation chain itself: StoredKey = H(HMAC(SaltedPassword, "Client Key")).
        ScramSecret secret = ScramTestSupport.rfcSecret();
        byte[] salted = ScramCrypto.hi(ScramTestSupport.bytes("pencil"), ScramTestSupport.SALT, 4096);

        assertThat(secret.storedKey()).isEqualTo(ScramCrypto.sha256(ScramCrypto.clientKey(salted)));
        assertThat(secret.serverKey()).isEqualTo(ScramCrypto.serverKey(salted));
    }

    @Test
    void randomSecretsUsePostgresDefaultsAndFreshSalts() {
        ScramSecret a = ScramSecret.fromPassword("pw");
        ScramSecret b = ScramSecret.fromPassword("pw");

        assertThat(a.iterations()).isEqualTo(4096);
        assertThat(a.salt()).hasSize(16);
        assertThat(a.salt()).isNotEqualTo(b.salt());
        assertThat(a).isNotEqualTo(b);
        assertThat(ScramSecret.fromPassword("pw", a.salt(), 4096)).isEqualTo(a);
    }

    @Test
    void encodeParseRoundTrip() {
        ScramSecret secret = ScramSecret.fromPassword("round trip", new byte[] {9, 8, 7}, 15000);

        String encoded = secret.encode();

        assertThat(encoded).startsWith("SCRAM-SHA-256$15000:CQgH$");
        assertThat(ScramSecret.parse(encoded)).isEqualTo(secret);
        assertThat(ScramSecret.looksLikeScram(encoded)).isTrue();
    }

    @Test
    void rejectsMalformedVerifiersWithClearMessages() {
        String key = "KZBIh2n/Rj6SD8vQv2+NVMofOneN5CVzVAB1snTtHUM=";
        String[][] cases = {
            {"md5b52328d7451bfeace80c4b8c338106f9", "must start with"},
            {"SCRAM-SHA-1$4096:c2FsdA==$" + key + ":" + key, "must start with"},
            {"SCRAM-SHA-256$4096:c2FsdA==", "must look like"},
            {"SCRAM-SHA-256$4096:c2FsdA==$" + key, "must look like"},
            {"SCRAM-SHA-256$4096$" + key + ":" + key, "must look like"},
            {"SCRAM-SHA-256$4096:c2FsdA==$" + key + ":" + key + "$x", "must look like"},
            {"SCRAM-SHA-256$many:c2FsdA==$" + key + ":" + key, "non-numeric iteration count"},
            {"SCRAM-SHA-256$0:c2FsdA==$" + key + ":" + key, "must be positive"},
            {"SCRAM-SHA-256$4096:c2F*dA==$" + key + ":" + key, "salt"},
            {"SCRAM-SHA-256$4096:$" + key + ":" + key, "salt must not be empty"},
            {"SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:" + key, "StoredKey must be 32 bytes"},
            {"SCRAM-SHA-256$4096:c2FsdA==$" + key + ":!", "invalid base64 in its ServerKey"},
        };
        for (String[] c : cases) {
            assertThatThrownBy(() -> ScramSecret.parse(c[0]))
                    .as("parse %s", c[0])
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(c[1]);
            assertThat(ScramSecret.looksLikeScram(c[0])).as("looksLikeScram %s", c[0]).isFalse();
        }
    }

    @Test
    void looksLikeScramOnlyForWellFormedVerifiers() {
        assertThat(ScramSecret.looksLikeScram(PG_SECRET)).isTrue();
        assertThat(ScramSecret.looksLikeScram(null)).isFalse();
        assertThat(ScramSecret.looksLikeScram("")).isFalse();
        assertThat(ScramSecret.looksLikeScram("SCRAM-SHA-256$ plain password that starts oddly")).isFalse();
    }

    @Test
    void parseOrNullGivesTheVerifierOrNullForAnyOtherSecret() {
        ScramSecret parsed = ScramSecret.parseOrNull(PG_SECRET);
        assertThat(parsed).isNotNull();
        assertThat(parsed.sameKeys(ScramSecret.parse(PG_SECRET))).isTrue();
        assertThat(parsed.iterations()).isEqualTo(ScramSecret.parse(PG_SECRET).iterations());
        assertThat(ScramSecret.parseOrNull(null)).isNull();
        assertThat(ScramSecret.parseOrNull("plain password")).isNull();
        assertThat(ScramSecret.parseOrNull("md5" + "0".repeat(32))).isNull();
        assertThat(ScramSecret.parseOrNull("SCRAM-SHA-256$ plain password that starts oddly")).isNull();
    }

    @Test
    void isImmutableAndComparesByContent() {
        byte[] salt = {1, 2, 3};
        byte[] stored = new byte[32];
        byte[] server = new byte[32];
        ScramSecret secret = new ScramSecret(10, salt, stored, server);
        ScramSecret same = new ScramSecret(10, salt.clone(), stored.clone(), server.clone());

        salt[0] = 99;
        stored[0] = 99;
        secret.serverKey()[0] = 99;

        assertThat(secret).isEqualTo(same).hasSameHashCodeAs(same);
        assertThat(secret.salt()).containsExactly(1, 2, 3);
        assertThat(secret).isNotEqualTo(new ScramSecret(11, same.salt(), same.storedKey(), same.serverKey()));
    }

    @Test
    void toStringWithholdsKeys() {
        ScramSecret secret = ScramSecret.parse(PG_SECRET);

        assertThat(secret.toString())
                .contains("4096", "Ojhr3AnTXIMgSx76COaXjg==")
                .doesNotContain("KZBIh2n", "t032rqHl");
    }

    @Test
    void validatesComponents() {
        assertThatThrownBy(() -> new ScramSecret(1, new byte[1], new byte[31], new byte[32]))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ScramSecret.fromPassword("", new byte[1], 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ScramSecret.fromPassword("pw", new byte[1], 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
