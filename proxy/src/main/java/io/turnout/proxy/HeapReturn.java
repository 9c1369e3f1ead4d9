package io.turnout.proxy;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Has G1 give the heap a login storm grew back to the OS once the storm is over. A pooler's working set is
 * small and steady, but 10,000 logins in a burst commit hundreds of MiB, and G1's defaults (MaxHeapFreeRatio
 * 70) keep them: bench/idle measured 7.6-9.6 KiB RSS per idle client with the defaults, 4.1-4.3 with these.
 * <p>
 * All three flags are manageable, so they are set at start without a launcher's help ({@code java -jar} is
 * enough), and only those the operator left at their defaults: a {@code -XX:} of theirs wins. Nothing is
 * changed under another collector (the shipped systemd units and image run ZGC, which uncommits by itself).
 */
final class HeapReturn {
    /** Shrink after a collection that resizes the heap (Remark, full) until at most 30% of it is free. */
    static final String MAX_FREE = "MaxHeapFreeRatio";
    static final String MIN_FREE = "MinHeapFreeRatio";
    /** A concurrent cycle, whose Remark shrinks, when no collection ran for a minute: an idle pooler's case. */
    static final String PERIODIC_GC = "G1PeriodicGCInterval";
    static final List<String[]> SETTINGS = List.of(
            new String[] {MIN_FREE, "10"}, // first: Min may not exceed Max
            new String[] {MAX_FREE, "30"},
            new String[] {PERIODIC_GC, "60000"});

    private HeapReturn() {
    }

    /** Applies the settings the operator left at their defaults; returns a log line's fields ("" off G1). */
    static String apply() {
        return apply(ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class));
    }

    static String apply(HotSpotDiagnosticMXBean vm) {
        if (!Boolean.parseBoolean(vm.getVMOption("UseG1GC").getValue())) {
            return "";
        }
        List<String> fields = new ArrayList<>();
        for (String[] s : SETTINGS) {
            VMOption o = vm.getVMOption(s[0]);
            if (o.getOrigin() == VMOption.Origin.DEFAULT) {
                vm.setVMOption(s[0], s[1]);
                fields.add(s[0] + "=" + s[1]);
            } else {
                fields.add(s[0] + "=" + o.getValue() + "(" + o.getOrigin().name().toLowerCase(java.util.Locale.ROOT) + ")");
            }
        }
        return String.join(" ", fields);
    }
}
