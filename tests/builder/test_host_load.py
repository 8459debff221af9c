from __future__ import annotations

from collections import namedtuple

from edgekit.builder.host_load import cpu_snapshot, load_between

Times = namedtuple("Times", "user nice system idle iowait irq softirq steal guest guest_nice")


def test_busy_and_steal_shares_from_counter_deltas() -> None:
    before = Times(100, 0, 50, 800, 10, 0, 0, 40, 0, 0)
    # +60 user, +20 system, +100 idle, +0 iowait, +20 steal: 200 s in all, 100 s not idle
    after = Times(160, 0, 70, 900, 10, 0, 0, 60, 0, 0)
    got = load_between(before, after, loadavg_1m=1.5)
    assert got.busy_pct == 50.0 and got.steal_pct == 10.0 and got.loadavg_1m == 1.5
    assert got.text() == "host during profiling: CPUs 50% busy, steal 10.0%, load average 1.50"


def test_no_elapsed_time_is_no_load() -> None:
    t = Times(1, 0, 1, 1, 0, 0, 0, 0, 0, 0)
    assert load_between(t, t, loadavg_1m=0.0).busy_pct == 0.0


def test_real_snapshot_has_counters() -> None:
    got = load_between(cpu_snapshot(), cpu_snapshot())
    assert 0.0 <= got.busy_pct <= 100.0 and got.loadavg_1m >= 0.0
