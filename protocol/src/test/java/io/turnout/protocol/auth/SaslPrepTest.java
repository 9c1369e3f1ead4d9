package io.turnout.protocol.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SaslPrepTest {

    @Test
    void rfc4013Examples() {
        assertThat(SaslPrep.prepare("I\u00ADX")).isEqualTo("IX");     // soft hyphen mapped to nothing
        assertThat(SaslPrep.prepare("user")).isEqualTo("user");
        assertThat(SaslPrep.prepare("USER")).isEqualTo("USER");        // no case folding
        assertThat(SaslPrep.prepare("\u00AA")).isEqualTo("a");         // NFKC
        assertThat(SaslPrep.prepare("\u2168")).isEqualTo("IX");        // NFKC
    }

    @Test
    void rfc4013ErrorExamplesFallBackToTheRawPassword() {
        // RFC 4013 says "Error"; PostgreSQL then uses the password as typed, and so do we.
        assertThat(SaslPrep.prepare("a\u0007\u00e9")).isEqualTo("a\u0007\u00e9");   // prohibited control character
        assertThat(SaslPrep.prepare("\u0627\u0031")).isEqualTo("\u0627\u0031");     // bidi: must end with RandALCat
        assertThat(SaslPrep.prepare("\u2168\u0007")).isEqualTo("\u2168\u0007");     // not "IX\u0007"
    }

    @Test
    void pureAsciiIsUntouchedEvenWithControlCharacters() {
        assertThat(SaslPrep.prepare("\u0007")).isEqualTo("\u0007");
        assertThat(SaslPrep.prepare("  tab\there ")).isEqualTo("  tab\there ");
    }

    @Test
    void mapsNonAsciiSpacesAndDropsInvisibleCharacters() {
        assertThat(SaslPrep.prepare("a\u3000b\u00A0c\u2003d")).isEqualTo("a b c d");
        assertThat(SaslPrep.prepare("x\u200Dy\uFE0Fz\u2060")).isEqualTo("xyz");
        // U+200B is both a space (C.1.2) and mapped to nothing (B.1); PostgreSQL makes it a space.
        assertThat(SaslPrep.prepare("a\u200Bb")).isEqualTo("a b");
    }

    @Test
    void passwordThatMapsToNothingIsUsedRaw() {
        assertThat(SaslPrep.prepare("\u00AD\u200D")).isEqualTo("\u00AD\u200D");
    }

    @Test
    void validRightToLeftPasswordIsNormalized() {
        // Arabic presentation form U+FEE1 (MEEM isolated) NFKC-normalizes to U+0645.
        assertThat(SaslPrep.prepare("\uFEE1\u0627")).isEqualTo("\u0645\u0627");
    }

    @Test
    void charactersUnassignedInUnicode32ForceTheRawPassword() {
        String grinning = new String(Character.toChars(0x1F600));
        assertThat(SaslPrep.prepare("\u2168" + grinning)).isEqualTo("\u2168" + grinning);
        assertThat(SaslPrep.prepare("cafe\u0301" + grinning)).isEqualTo("cafe\u0301" + grinning);
        assertThat(SaslPrep.prepare("caf\u00e9" + grinning)).isEqualTo("caf\u00e9" + grinning);
        assertThat(SaslPrep.prepare("cafe\u0301")).isEqualTo("caf\u00e9");
    }

    @Test
    void prohibitedCharactersAreCheckedBeforeNormalization() {
        // Private use, a noncharacter and a tagging character each force the raw password.
        assertThat(SaslPrep.prepare("\u2168\uE000")).isEqualTo("\u2168\uE000");
        assertThat(SaslPrep.prepare("\u2168\uFFFF")).isEqualTo("\u2168\uFFFF");
        assertThat(SaslPrep.prepare("\u2168" + new String(Character.toChars(0xE0041)))).startsWith("\u2168");
        assertThat(SaslPrep.prepare("\u2168\uD800")).isEqualTo("\u2168\uD800");  // lone surrogate
    }

    /**
     * Verifiers PostgreSQL 15 stored for {@code CREATE ROLE ... PASSWORD E'...'} (scram-sha-256, UTF8
     * database): ours must come out byte-identical from the same salt.
     */
    @Test
    void secretsMatchPostgresForNonAsciiPasswords() {
        String[][] cases = {
            {"I\u00ADX", "SCRAM-SHA-256$4096:Wz9k3lXwaSKrfpbiIi2nmg==$/xGZi1sDMG9Kwe/P8WuKEz0rdJfQbQeZomiRWSSTY9c=:RQvdJYhLB48RbqoAyyVSf5fp2wtL3v2lU9mPqFki36E="},
            {"p\u00e4ssw\u00f6rd", "SCRAM-SHA-256$4096:LaisKsbYpIkSEqvRwqBhBA==$TXSqPSivejlTSbcV+pt31drr9lB+5oMZEBDwNSAFkVI=:qhfLRCCsf+ikphmigfObNCjuK0N3ezx1W5zYt4CYYsU="},
            {"a\u0007b\u00e9", "SCRAM-SHA-256$4096:WpdCz6Gice03NJVP2dENtw==$PWM1DDxjOdMpOijQb8r4eAa8NZg6DAXUez7N7AHwoO4=:iDoGSMZDcP3KAk1Bw+ynE3zBVa1o1EVvcy9w1nbYiaM="},
            {"pa\u0308ssw\u00f6rd", "SCRAM-SHA-256$4096:dPhmWZJrBB3TzEfrMavduA==$A3SIykcpzX/gTlxfjZT47yMbJrM1wluLimnJFCK1uaY=:4jlof7zHywm3S3bBCp+QbomtxkHBKE49+UEvhEW50/8="},
            {"\u05D0x\u2168", "SCRAM-SHA-256$4096:yH87Qvjstza1JbaIhmAU3g==$nSjDz7Sr9y6ujXMI3+S7iyM2O2M3iC+5RARVjeHnX2c=:sIOldRhfoirq6TvaRce+pcDq/oQ0YCqNTfRUHgbGdmU="},
            {"\u2168", "SCRAM-SHA-256$4096:h3RH4/8nrHIGd8WOkTR7Gg==$p8ZCpnu8O+JwBknj1CGO71n4dOrNBTQczBGi6sBs8aY=:HFx0CHFsRa3QTnUud41WDPLhSjndM479lLYoyDF0cXo="},
            {"a\u3000b\u00e9", "SCRAM-SHA-256$4096:6FIGBfRhMg48NLMzh/8/nA==$3bvZEWs7DkMX75fjzQnZ4aqmM8aFyc5Zp593qMorUl4=:w16xSDjqfvbtg4XNOOugMqwWj/mZpwUSZBQTlFwx00M="},
            {"\u00AD\u200D", "SCRAM-SHA-256$4096:n1UnvCdmF8LA6FL6zE8LYA==$Ze0fc1Wtba0tXcBsKetL0VmD5rgQeO/hvxw8Qj3oEHI=:LV64mSGI3ADp/YOee63OTXnmz3vAkvrIh4r6rEQpP6U="},
            {"\u2168\u0007", "SCRAM-SHA-256$4096:YDxAPJo0qwBxIjXRd5sEnA==$i4mwmhOUgQ5Fflkkcw5VpEBgbVqBmUY7HTB+hA08Dq0=:75otznLd1Me/IiSet/HieNCkd7a8+XhBKk7lFc4YhQA="},
            // Emoji are unassigned in Unicode 3.2, so PostgreSQL hashes these raw (no "IX", no composed e-acute).
            {"\u2168\uD83D\uDE00", "SCRAM-SHA-256$4096:dIPkCk6svMB8ywsyKHW3dQ==$tvbiZmXxijIlegdmzlpHGKhsW+D9M3/2A28y5Fe2sA4=:Frn/gyTVQnxcbbUojDedPuWJp1OTl0l8ivPJamdaAHE="},
            {"cafe\u0301\uD83D\uDE00", "SCRAM-SHA-256$4096:GjyWDkCRWePbNOmuJCyT8g==$F7T4h7wslMC9Dy140XeZb32Gc7rvIlU2zMVEzmztMes=:Ors3qvv0MiY4PD8QqcBDtMa/ZqWLtPmRJmFyyY2BgLs="},
        };
        for (String[] c : cases) {
            ScramSecret pg = ScramSecret.parse(c[1]);
            assertThat(ScramSecret.fromPassword(c[0], pg.salt(), pg.iterations()))
                    .as("password %s", escape(c[0]))
                    .isEqualTo(pg);
        }
    }

    @Test
    void postgresSecretsDistinguishNormalizedFromRaw() {
        // Pins that the cases above are not vacuous: the mapped form is what PostgreSQL hashed for "I\u00ADX",
        // and the raw form (not NFKC's "IX\u0007") for the prohibited one.
        ScramSecret softHyphen = ScramSecret.parse("SCRAM-SHA-256$4096:Wz9k3lXwaSKrfpbiIi2nmg==$/xGZi1sDMG9Kwe/P8WuKEz0rdJfQbQeZomiRWSSTY9c=:RQvdJYhLB48RbqoAyyVSf5fp2wtL3v2lU9mPqFki36E=");
        assertThat(rawSecret("I\u00ADX", softHyphen)).isNotEqualTo(softHyphen);
        assertThat(ScramSecret.fromPassword("IX", softHyphen.salt(), 4096)).isEqualTo(softHyphen);

        ScramSecret prohibited = ScramSecret.parse("SCRAM-SHA-256$4096:YDxAPJo0qwBxIjXRd5sEnA==$i4mwmhOUgQ5Fflkkcw5VpEBgbVqBmUY7HTB+hA08Dq0=:75otznLd1Me/IiSet/HieNCkd7a8+XhBKk7lFc4YhQA=");
        assertThat(ScramSecret.fromPassword("IX\u0007", prohibited.salt(), 4096)).isNotEqualTo(prohibited);
        assertThat(rawSecret("\u2168\u0007", prohibited)).isEqualTo(prohibited);

        ScramSecret emoji = ScramSecret.parse("SCRAM-SHA-256$4096:dIPkCk6svMB8ywsyKHW3dQ==$tvbiZmXxijIlegdmzlpHGKhsW+D9M3/2A28y5Fe2sA4=:Frn/gyTVQnxcbbUojDedPuWJp1OTl0l8ivPJamdaAHE=");
        assertThat(ScramSecret.fromPassword("IX\uD83D\uDE00", emoji.salt(), 4096)).isNotEqualTo(emoji);
    }

    private static ScramSecret rawSecret(String password, ScramSecret like) {
        byte[] salted = ScramCrypto.hi(password.getBytes(StandardCharsets.UTF_8), like.salt(), like.iterations());
        return new ScramSecret(like.iterations(), like.salt(), ScramCrypto.sha256(ScramCrypto.clientKey(salted)),
                ScramCrypto.serverKey(salted));
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(cp -> b.append(cp < 0x80 && cp >= 0x20 ? String.valueOf((char) cp) : String.format("\\u%04X", cp)));
        return b.toString();
    }
}
