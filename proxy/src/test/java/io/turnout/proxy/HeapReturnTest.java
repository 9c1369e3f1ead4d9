package io.turnout.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import com.sun.management.VMOption;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class HeapReturnTest {
    private final HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);

    @Test
    void g1GetsTheRatiosAndThePeriodicCycleOnceAndAnOperatorsValueIsKept() {
        if (!Boolean.parseBoolean(vm.getVMOption("UseG1GC").getValue())) {
            assertThat(HeapReturn.apply(vm)).isEmpty(); // another collector: nothing to set
            return;
        }
        boolean untouched = vm.getVMOption(HeapReturn.MAX_FREE).getOrigin() == VMOption.Origin.DEFAULT;
        String first = HeapReturn.apply(vm);
        if (untouched) {
            assertThat(first).isEqualTo("MinHeapFreeRatio=10 MaxHeapFreeRatio=30 G1PeriodicGCInterval=60000");
        }
        assertThat(vm.getVMOption(HeapReturn.MIN_FREE).getValue()).isEqualTo("10");
        assertThat(vm.getVMOption(HeapReturn.MAX_FREE).getValue()).isEqualTo("30");
        assertThat(vm.getVMOption(HeapReturn.PERIODIC_GC).getValue()).isEqualTo("60000");
        // set now (origin MANAGEMENT), as an operator's -XX: is (COMMAND_LINE): left alone and reported
        vm.setVMOption(HeapReturn.MAX_FREE, "50");
        assertThat(HeapReturn.apply(vm)).contains("MaxHeapFreeRatio=50(management)")
                .contains("MinHeapFreeRatio=10(management)");
        assertThat(vm.getVMOption(HeapReturn.MAX_FREE).getValue()).isEqualTo("50");
    }
}
