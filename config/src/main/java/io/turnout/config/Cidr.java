package io.turnout.config;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** An address block such as {@code 10.0.0.0/8} or {@code ::1/128}; a bare address means just that one. */
public record Cidr(byte[] network, int prefix, String text) {

    /** Parses {@code a.b.c.d/n}, {@code v6/n} or a single address; literal addresses only, no DNS. */
    public static Cidr parse(String s) {
        String t = s.trim();
        int slash = t.indexOf('/');
        String addr = slash < 0 ? t : t.substring(0, slash);
        if (addr.isEmpty() || !(addr.indexOf(':') >= 0 || Character.isDigit(addr.charAt(0)))) {
            throw new IllegalArgumentException("'" + s + "' is not an address or address/prefix");
        }
        byte[] bytes;
        try {
            bytes = InetAddress.getByName(addr).getAddress(); // a literal: never a lookup
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + s + "' is not an address or address/prefix");
        }
        int bits = bytes.length * 8;
        int prefix = bits;
        if (slash >= 0) {
            try {
                prefix = Integer.parseInt(t.substring(slash + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + s + "' has a bad prefix length");
            }
            if (prefix < 0 || prefix > bits) {
                throw new IllegalArgumentException("'" + s + "': prefix length must be 0.." + bits);
            }
        }
        return new Cidr(bytes, prefix, t);
    }

    public boolean contains(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (b[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = 0xff << (8 - rest) & 0xff;
        return (b[full] & mask) == (network[full] & mask);
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }
}
