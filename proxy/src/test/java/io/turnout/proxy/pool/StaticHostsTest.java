package io.turnout.proxy.pool;

import static org.assertj.core.api.Assertions.assertThat;

import io.turnout.config.DatabaseConfig;
import io.turnout.config.LoadBalanceHosts;
import io.turnout.config.PoolMode;
import io.turnout.config.ReadRouting;
import io.turnout.config.TargetSessionAttrs;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A static host list's route from what each host said at login, and which hosts a probe asks when. */
class StaticHostsTest {
    private static final long SECOND = 1_000_000_000L;

    private static DatabaseConfig db(String hosts, TargetSessionAttrs target) {
        return db(hosts, target, LoadBalanceHosts.ROUND_ROBIN);
    }

    private static DatabaseConfig db(String hosts, TargetSessionAttrs target, LoadBalanceHosts balance) {
        return new DatabaseConfig("reports", hosts, 5432, "app", null, null, 10, 0, 0, PoolMode.TRANSACTION, 0, null,
                null, new ReadRouting(target, ReadRouting.NO_LAG_LIMIT, balance));
    }

    private static List<String> route(StaticHosts h) {
        return h.route().standbys().stream().map(ReadRoutes.Target::name).toList();
    }

    private static ReadRoutes.Target host(StaticHosts h, String name) {
        return h.targets().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void onlyListsAndNonPrimaryTargetsAreRoutedByRole() {
        assertThat(StaticHosts.of(db("a", TargetSessionAttrs.PRIMARY))).as("one host, primary: as before").isNull();
        assertThat(StaticHosts.of(db("a", TargetSessionAttrs.READ_WRITE))).isNull();
        assertThat(StaticHosts.of(db("a", TargetSessionAttrs.STANDBY))).isNotNull();
        assertThat(StaticHosts.of(db("a,b", TargetSessionAttrs.PRIMARY)).targets()).extracting(ReadRoutes.Target::name)
                .containsExactly("a", "b");
        StaticHosts h = StaticHosts.of(db("a,b", TargetSessionAttrs.STANDBY));
        assertThat(h.sameAs(db("a,b", TargetSessionAttrs.STANDBY))).isTrue();
        assertThat(h.sameAs(db("b,a", TargetSessionAttrs.STANDBY))).isFalse();
        assertThat(h.sameAs(db("a,b", TargetSessionAttrs.ANY))).isFalse();
    }

    @Test
    void eachTargetTakesTheHostsWhoseAnswerFitsInTheOrderWritten() {
        StaticHosts h = StaticHosts.of(db("a,b,c", TargetSessionAttrs.STANDBY));
        assertThat(h.route().standbys()).as("nothing heard yet").isEmpty();
        assertThat(h.route().leader()).isFalse();
        assertThat(h.route().holdReason()).isEqualTo("no host of database reports fits target_session_attrs standby:"
                + " a:5432 not heard from yet, b:5432 not heard from yet, c:5432 not heard from yet");
        assertThat(h.learnt(host(h, "a"), false, false, "in_hot_standby=off")).as("a primary: no change").isFalse();
        assertThat(h.learnt(host(h, "c"), true, false, "in_hot_standby=on")).isTrue();
        assertThat(h.learnt(host(h, "b"), true, false, "in_hot_standby=on")).isTrue();
        assertThat(route(h)).containsExactly("b", "c");
        assertThat(h.route().holdReason()).isNull();
        assertThat(h.whyNot(host(h, "a"))).isEqualTo("target_session_attrs standby");
        assertThat(h.whyNot(host(h, "b"))).isNull();

        assertThat(h.unreachable(host(h, "b"), "Connection refused")).isTrue();
        assertThat(route(h)).containsExactly("c");
        assertThat(h.role(host(h, "b"))).isEqualTo("unreachable (Connection refused)");
        assertThat(h.learnt(host(h, "c"), false, false, "pg_is_in_recovery() = false")).as("c promoted").isTrue();
        assertThat(route(h)).isEmpty();
        assertThat(h.route().holdReason()).contains("a:5432 primary, b:5432 unreachable (Connection refused),"
                + " c:5432 primary");
    }

    @Test
    void libpqMeaningsOfEachTarget() {
        // standby, read only (default_transaction_read_only=on on a primary)
        assertThat(StaticHosts.fits(TargetSessionAttrs.PRIMARY, false, true)).isTrue();
        assertThat(StaticHosts.fits(TargetSessionAttrs.READ_WRITE, false, true)).isFalse();
        assertThat(StaticHosts.fits(TargetSessionAttrs.READ_WRITE, false, false)).isTrue();
        assertThat(StaticHosts.fits(TargetSessionAttrs.READ_ONLY, false, true)).isTrue();
        assertThat(StaticHosts.fits(TargetSessionAttrs.READ_ONLY, true, false)).isTrue();
        assertThat(StaticHosts.fits(TargetSessionAttrs.READ_ONLY, false, false)).isFalse();
        assertThat(StaticHosts.fits(TargetSessionAttrs.STANDBY, false, false)).isFalse();
        assertThat(StaticHosts.fits(TargetSessionAttrs.ANY, false, false)).isTrue();
    }

    @Test
    void preferStandbyFallsBackToThePrimaryOnlyOnceEveryHostWasHeard() {
        StaticHosts h = StaticHosts.of(db("p,s", TargetSessionAttrs.PREFER_STANDBY));
        h.learnt(host(h, "p"), false, false, "in_hot_standby=off");
        assertThat(h.route().standbys()).as("s not heard yet: not the primary meanwhile").isEmpty();
        h.learnt(host(h, "s"), true, false, "in_hot_standby=on");
        assertThat(route(h)).containsExactly("s");
        h.unreachable(host(h, "s"), "Connection refused");
        assertThat(route(h)).as("the standby stopped").containsExactly("p");
        h.learnt(host(h, "s"), true, false, "in_hot_standby=on");
        assertThat(route(h)).as("the standby back").containsExactly("s");
    }

    @Test
    void disableTakesAHostOnlyOnceEveryHostWrittenBeforeItWasHeard() {
        StaticHosts h = StaticHosts.of(db("a,b", TargetSessionAttrs.ANY, LoadBalanceHosts.DISABLE));
        h.learnt(host(h, "b"), true, false, "in_hot_standby=on");
        assertThat(h.route().standbys()).as("a not heard yet: it may be the first that works").isEmpty();
        h.unreachable(host(h, "a"), "Connection refused");
        assertThat(route(h)).containsExactly("b");
        h.learnt(host(h, "a"), false, false, "in_hot_standby=off");
        assertThat(route(h)).as("in the order written: MemberShards takes the first that can serve")
                .containsExactly("a", "b");
        StaticHosts rr = StaticHosts.of(db("a,b", TargetSessionAttrs.ANY));
        rr.learnt(host(rr, "b"), true, false, "in_hot_standby=on");
        assertThat(route(rr)).as("round-robin: each host as soon as it answered").containsExactly("b");
    }

    @Test
    void probesAskHostsOutOfTheRouteAtOnceThenAfterBackoffOrTheCheckDelay() {
        StaticHosts h = StaticHosts.of(db("p,s", TargetSessionAttrs.STANDBY));
        long now = System.nanoTime();
        assertThat(h.dueForProbe(now, 30 * SECOND)).extracting(ReadRoutes.Target::name).containsExactly("p", "s");
        assertThat(h.dueForProbe(now, 30 * SECOND)).as("both being probed").isEmpty();
        h.learnt(host(h, "p"), false, false, "in_hot_standby=off");
        h.probeEnded(host(h, "p"));
        h.unreachable(host(h, "s"), "Connection refused");
        h.probeEnded(host(h, "s"));
        long at = System.nanoTime();
        assertThat(h.dueForProbe(at, 30 * SECOND)).as("too soon for both").isEmpty();
        assertThat(h.dueForProbe(at + SECOND / 10, 30 * SECOND)).extracting(ReadRoutes.Target::name)
                .as("the unreachable one after its first backoff").containsExactly("s");
        h.learnt(host(h, "s"), true, false, "in_hot_standby=on");
        h.probeEnded(host(h, "s"));
        assertThat(h.dueForProbe(at + 29 * SECOND, 30 * SECOND)).as("s is in the route: never probed").isEmpty();
        assertThat(h.dueForProbe(at + 31 * SECOND, 30 * SECOND)).extracting(ReadRoutes.Target::name)
                .as("the primary again after server_check_delay").containsExactly("p");
    }
}
