"""Interleaved rounds and the interference detector, on synthetic timings (no clock is read)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from edgekit.builder.host_load import HostLoad
from edgekit.builder.interleave import Timings, descheduled, detect_interference, schedule

NAMES = ["a", "b", "c", "d"]


def test_every_round_times_every_variant_once_and_slices_add_up_to_runs() -> None:
    plan = schedule(NAMES, runs=203, rounds=10, rng=random.Random(1))
    assert len(plan) == 10
    for slices in plan:
        assert sorted(n for n, _ in slices) == NAMES  # each variant once per round
    totals: Counter[str] = Counter()
    for slices in plan:
        for n, k in slices:
            totals[n] += k
    assert totals == {n: 203 for n in NAMES}
    sizes = {k for slices in plan for _, k in slices}
    assert sizes == {20, 21}  # 203 = 3 rounds of 21 + 7 of 20: slices differ by one at most


def test_the_order_is_shuffled_per_round_and_fixed_by_the_seed() -> None:
    plan = schedule(NAMES, runs=200, rounds=20, rng=random.Random(7))
    orders = {tuple(n for n, _ in slices) for slices in plan}
    assert len(orders) > 1  # not the same order every round
    firsts = Counter(slices[0][0] for slices in plan)
    assert len(firsts) > 1  # no variant always runs first (right after the host's pause)
    again = schedule(NAMES, runs=200, rounds=20, rng=random.Random(7))
    assert again == plan


def test_fewer_runs_than_rounds_gives_fewer_rounds_never_an_empty_slice() -> None:
    plan = schedule(["x", "y"], runs=3, rounds=10, rng=random.Random(0))
    assert len(plan) == 3
    assert all(k == 1 for slices in plan for _, k in slices)


def _timings(wall: list[float], cpu: list[float] | None = None, rounds: int = 10) -> Timings:
    t = Timings.empty()
    cpu = wall if cpu is None else cpu
    per = len(wall) // rounds
    for r in range(rounds):
        t.add(wall[r * per:(r + 1) * per], cpu[r * per:(r + 1) * per], r)
    return t


QUIET = HostLoad(busy_pct=50.0, steal_pct=0.0, loadavg_1m=1.0)


def test_a_quiet_run_shows_no_interference() -> None:
    rng = np.random.default_rng(0)
    wall = list(0.30 + 0.02 * rng.random(200))  # 0.30-0.32 ms, CPU time equal to wall time
    got = detect_interference({"a": _timings(wall), "b": _timings(wall)}, [QUIET] * 10, threads=1)
    assert got == []


def test_preempted_runs_are_found_from_wall_against_cpu_time() -> None:
    # 4 of 200 runs (2 %) lost 8 ms off the CPU: their CPU time stayed 0.3 ms.
    wall = [0.3] * 196 + [8.3] * 4
    cpu = [0.3] * 200
    got = detect_interference({"a": _timings(wall, cpu)}, [QUIET] * 10, threads=1)
    kinds = [s.split(" (")[0] for s in got]
    assert any(k.startswith("runs descheduled") for k in kinds)
    assert any("a 2%" in s for s in got)
    assert int(descheduled(_timings(wall, cpu), threads=1).sum()) == 4


def test_a_slow_model_with_cpu_equal_to_wall_is_not_called_descheduled() -> None:
    wall = [5.0] * 200  # slow, but every millisecond of it on the CPU
    assert not descheduled(_timings(wall, wall), threads=1).any()
    # two threads: CPU time twice the wall time is the model using both, not the host
    assert not descheduled(_timings(wall, [10.0] * 200), threads=2).any()


def test_one_descheduled_run_in_200_stays_below_the_share() -> None:
    wall = [0.3] * 199 + [9.0]
    got = detect_interference({"a": _timings(wall, [0.3] * 200)}, [QUIET] * 10, threads=1)
    assert not any(s.startswith("runs descheduled") for s in got)


def test_a_heavy_tail_is_named_with_its_p50_and_p99() -> None:
    wall = [0.2] * 190 + [2.0] * 10  # p99 = 2.0 ms, 10x the p50
    got = detect_interference({"m": _timings(wall)}, [QUIET] * 10, threads=1)
    assert "p99 above 3x p50 (m 0.2 ms -> 2 ms)" in got


def test_round_medians_far_apart_are_named() -> None:
    wall = [0.3] * 100 + [0.6] * 100  # the second half of the rounds ran at half speed
    got = detect_interference({"a": _timings(wall)}, [QUIET] * 10, threads=1)
    assert "round medians more than 1.5x apart (a 0.3 ms-0.6 ms)" in got


@pytest.mark.parametrize(("steal", "found"), [(4.9, False), (5.1, True)])
def test_steal_above_five_percent_in_any_round(steal: float, found: bool) -> None:
    wall = [0.3] * 200
    loads = [QUIET] * 9 + [HostLoad(60.0, steal, 2.0)]
    got = detect_interference({"a": _timings(wall)}, loads, threads=1)
    assert any(s.startswith("CPU steal") for s in got) is found


def test_each_variant_keeps_the_signs_that_name_it_and_the_host_wide_ones() -> None:
    from edgekit.builder.profile import _naming

    signs = [
        "p99 above 3x p50 (onnx-fp32 0.4 ms -> 9 ms, onnx-fp32-big 1 ms -> 9 ms)",
        "runs descheduled (wall time well above CPU time) in more than 1% of runs (tflite-int8 4%)",
        "CPU steal up to 7.0% in a round (above 5%)",
    ]
    assert _naming(signs, "onnx-fp32") == [signs[0], signs[2]]
    assert _naming(signs, "tflite-int8") == [signs[1], signs[2]]
    assert _naming(signs, "onnx-fp16") == [signs[2]]
