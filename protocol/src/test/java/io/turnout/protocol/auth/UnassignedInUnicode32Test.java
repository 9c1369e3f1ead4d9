package io.turnout.protocol.auth;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Spot checks of RFC 3454 table A.1 at range boundaries (the table was checked whole against Python's stringprep). */
class UnassignedInUnicode32Test {

    @Test
    void rangeBoundaries() {
        assertThat(UnassignedInUnicode32.contains(0x0220)).isFalse();
        assertThat(UnassignedInUnicode32.contains(0x0221)).isTrue();   // single-point range
        assertThat(UnassignedInUnicode32.contains(0x0222)).isFalse();
        assertThat(UnassignedInUnicode32.contains(0x0233)).isFalse();
        assertThat(UnassignedInUnicode32.contains(0x0234)).isTrue();   // 0234-024F
        assertThat(UnassignedInUnicode32.contains(0x0240)).isTrue();
        assertThat(UnassignedInUnicode32.contains(0x024F)).isTrue();
        assertThat(UnassignedInUnicode32.contains(0x0250)).isFalse();
        assertThat(UnassignedInUnicode32.contains(0xEFFFD)).isTrue();  // last range E0080-EFFFD
        assertThat(UnassignedInUnicode32.contains(0xEFFFE)).isFalse(); // noncharacter, table C.4 instead
    }

    @Test
    void assignedAndLaterAssignedCharacters() {
        assertThat(UnassignedInUnicode32.contains('A')).isFalse();
        assertThat(UnassignedInUnicode32.contains(0x00E9)).isFalse();
        assertThat(UnassignedInUnicode32.contains(0x2168)).isFalse();
        assertThat(UnassignedInUnicode32.contains(0x4E2D)).isFalse();
        assertThat(UnassignedInUnicode32.contains(0x1F600)).isTrue();  // emoji, Unicode 6.1
        assertThat(UnassignedInUnicode32.contains(0x20BD)).isTrue();   // ruble sign, Unicode 7.0
        assertThat(UnassignedInUnicode32.contains(0x9FA6)).isTrue();   // CJK added in Unicode 4.1
        assertThat(UnassignedInUnicode32.contains(0xE0001)).isFalse(); // language tag, assigned in 3.1
    }
}
