package io.turnout.protocol.auth;

import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.Objects;

/**
 * SASLprep (RFC 4013) of a SCRAM password, reproducing what PostgreSQL's pg_saslprep() and its callers do
 * in practice, because a secret built here must match one built by the server or by libpq:
 * <ul>
 *   <li>a pure ASCII password is used as-is, control characters included;</li>
 *   <li>otherwise non-ASCII spaces (RFC 3454 C.1.2) become U+0020, "commonly mapped to nothing" characters
 *       (B.1) are dropped, and the result is NFKC-normalized;</li>
 *   <li>if the mapped password is empty or contains prohibited, unassigned or bidi-violating characters, the
 *       raw password is used instead of failing. Like PostgreSQL, these checks look at the mapped string
 *       before NFKC, not at the normalized output.</li>
 * </ul>
 * Unassigned means unassigned in Unicode 3.2, as in PostgreSQL, so an emoji forces the raw password.
 * Bidi classes come from the JDK rather than Unicode 3.2; they differ only for a few hundred code points
 * (Braille, mostly) that matter only in a right-to-left password that NFKC would also change.
 */
public final class SaslPrep {
    /** Sorted inclusive ranges of RFC 3454 C.1.2 non-ASCII space characters. U+200B is also in B.1; the space wins, as in PostgreSQL. */
    private static final int[] NON_ASCII_SPACE = {
        0x00A0, 0x00A0, 0x1680, 0x1680, 0x2000, 0x200B, 0x202F, 0x202F, 0x205F, 0x205F, 0x3000, 0x3000,
    };

    /** RFC 3454 B.1, commonly mapped to nothing. */
    private static final int[] MAPPED_TO_NOTHING = {
        0x00AD, 0x00AD, 0x034F, 0x034F, 0x1806, 0x1806, 0x180B, 0x180D, 0x200B, 0x200D, 0x2060, 0x2060,
        0xFE00, 0xFE0F, 0xFEFF, 0xFEFF,
    };

    /**
     * The SASLprep prohibited-output tables C.1.2, C.2.2, C.5, C.6, C.7, C.8, C.9 and the BMP part of C.3,
     * merged. ASCII controls, C1 controls, noncharacters and planes 15-16 are tested arithmetically.
     */
    private static final int[] PROHIBITED = {
        0x0340, 0x0341, 0x06DD, 0x06DD, 0x070F, 0x070F, 0x1680, 0x1680, 0x180E, 0x180E, 0x2000, 0x200F,
        0x2028, 0x202F, 0x205F, 0x2063, 0x206A, 0x206F, 0x2FF0, 0x2FFB, 0x3000, 0x3000, 0xD800, 0xF8FF,
        0xFDD0, 0xFDEF, 0xFEFF, 0xFEFF, 0xFFF9, 0xFFFD, 0x1D173, 0x1D17A, 0xE0001, 0xE0001, 0xE0020, 0xE007F,
    };

    private SaslPrep() {}

    /** Returns the string whose UTF-8 encoding is the password input to SCRAM's Hi(). */
    public static String prepare(String password) {
        Objects.requireNonNull(password, "password");
        if (isAscii(password)) {
            return password;
        }
        StringBuilder mapped = new StringBuilder(password.length());
        for (int i = 0; i < password.length(); ) {
            int cp = password.codePointAt(i);
            i += Character.charCount(cp);
            if (inRanges(cp, NON_ASCII_SPACE)) {
                mapped.append(' ');
            } else if (!inRanges(cp, MAPPED_TO_NOTHING)) {
                mapped.appendCodePoint(cp);
            }
        }
        // PostgreSQL reports an empty result as prohibited, and its callers then hash the raw password.
        if (mapped.length() == 0 || !isAllowed(mapped)) {
            return password;
        }
        return Normalizer.normalize(mapped, Normalizer.Form.NFKC);
    }

    /** {@link #prepare} encoded as UTF-8, ready for Hi(). */
    static byte[] prepareBytes(String password) {
        return prepare(password).getBytes(StandardCharsets.UTF_8);
    }

    private static boolean isAllowed(CharSequence s) {
        boolean hasRandAL = false;
        boolean hasL = false;
        int[] cps = s.codePoints().toArray();
        for (int cp : cps) {
            if (isProhibited(cp) || UnassignedInUnicode32.contains(cp)) {
                return false;
            }
            hasRandAL |= isRandAL(cp);
            hasL |= Character.getDirectionality(cp) == Character.DIRECTIONALITY_LEFT_TO_RIGHT;
        }
        // RFC 3454 section 6: a string with right-to-left characters may hold no left-to-right ones,
        // and must start and end with a right-to-left character.
        return !hasRandAL || (!hasL && isRandAL(cps[0]) && isRandAL(cps[cps.length - 1]));
    }

    private static boolean isProhibited(int cp) {
        return cp < 0x20                       // C.2.1
                || (cp >= 0x7F && cp <= 0xA0)  // C.2.1 DEL, C.2.2 C1 controls, C.1.2 NBSP
                || (cp & 0xFFFE) == 0xFFFE     // C.4 the last two code points of every plane
                || cp >= 0xF0000               // C.3 planes 15 and 16 are private use
                || inRanges(cp, PROHIBITED);
    }

    private static boolean isRandAL(int cp) {
        byte d = Character.getDirectionality(cp);
        return d == Character.DIRECTIONALITY_RIGHT_TO_LEFT || d == Character.DIRECTIONALITY_RIGHT_TO_LEFT_ARABIC;
    }

    private static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) >= 0x80) {
                return false;
            }
        }
        return true;
    }

    private static boolean inRanges(int cp, int[] ranges) {
        for (int i = 0; i < ranges.length && cp >= ranges[i]; i += 2) {
            if (cp <= ranges[i + 1]) {
                return true;
            }
        }
        return false;
    }
}
