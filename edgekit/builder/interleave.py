"""Interleaved timing of variants, and the signs that the host, not the model, shaped the figures.

A shared host's background load comes and goes. Timing variant A fully, then B, lets a burst of
load land on one of them only, so their tails differ by chance. Here every round times every
variant for a slice of its runs, in a new shuffled order per round: whatever the host does hits
all variants alike, and each figure pools all rounds.

The detector reads the timings (wall and CPU time per run, round by round) and the host's load
per round, and names each sign of interference it finds. Its thresholds are stated below with
the reason for each; the profile stage re-runs the timing (a bounded number of times) when it
finds any.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgekit.builder.host_load import HostLoad

__all__ = [
    "DESCHEDULED_MAX_SHARE",
    "ROUND_SPREAD_MAX",
    "STEAL_MAX_PCT",
    "TAIL_RATIO_MAX",
    "Timings",
    "descheduled",
    "detect_interference",
    "schedule",
]

# p99 above 3x p50: on a quiet host a single-threaded inference's p99 stays within ~2x its p50
# (the reference model: 0.37 -> 0.55 ms); beyond 3x the tail is the host's.
TAIL_RATIO_MAX = 3.0
# A run is "descheduled" when its wall time exceeds its CPU time per thread by more than half
# that CPU time and by more than 0.1 ms (below that, timer and scheduler granularity). More than
# 1 % of such runs reach the p99 by definition.
DESCHEDULED_GAP_SHARE = 0.5
DESCHEDULED_MIN_GAP_MS = 0.1
DESCHEDULED_MAX_SHARE = 0.01
# Round medians of one variant more than 1.5x apart: its speed changed during profiling (a
# neighbour's burst, frequency scaling), so which rounds it ran in would decide its figure.
ROUND_SPREAD_MAX = 1.5
# The hypervisor took more than 5 % of the CPUs for other guests in some round.
STEAL_MAX_PCT = 5.0


def schedule(
    names: Sequence[str], runs: int, rounds: int, rng: random.Random
) -> list[list[tuple[str, int]]]:
    """Rounds of ``(variant, runs in this slice)``: every variant in every round, in an order
    shuffled per round; each variant's slices add up to ``runs``. Fewer rounds when ``runs``
    cannot fill them (no slice is empty)."""
    rounds = max(1, min(rounds, runs))
    base, extra = divmod(runs, rounds)
    plan: list[list[tuple[str, int]]] = []
    for r in range(rounds):
        order = list(names)
        rng.shuffle(order)
        plan.append([(n, base + (1 if r < extra else 0)) for n in order])
    return plan


@dataclass
class Timings:
    """One variant's timed runs in run order: wall and CPU time (ms) and the round of each."""

    wall_ms: np.ndarray
    cpu_ms: np.ndarray
    round_of: np.ndarray

    @classmethod
    def empty(cls) -> Timings:
        return cls(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))

    def add(self, wall_ms: Sequence[float], cpu_ms: Sequence[float], round_index: int) -> None:
        self.wall_ms = np.concatenate([self.wall_ms, np.asarray(wall_ms, dtype=np.float64)])
        self.cpu_ms = np.concatenate([self.cpu_ms, np.asarray(cpu_ms, dtype=np.float64)])
        self.round_of = np.concatenate(
            [self.round_of, np.full(len(wall_ms), round_index, dtype=np.int64)]
        )


def descheduled(t: Timings, threads: int) -> np.ndarray:
    """Which runs spent a large part of their wall time off the CPU (see the thresholds)."""
    per_thread = t.cpu_ms / max(1, threads)
    gap = t.wall_ms - per_thread
    return (gap > DESCHEDULED_GAP_SHARE * per_thread) & (gap > DESCHEDULED_MIN_GAP_MS)


def _ms(x: float) -> str:
    return f"{x:.3g} ms"


def detect_interference(
    timings: dict[str, Timings], loads: Sequence[HostLoad], threads: int
) -> list[str]:
    """Each sign of host interference in ``timings`` and the per-round ``loads``, as a sentence;
    empty when none was seen."""
    signs: list[str] = []
    tail, off_cpu, uneven = [], [], []
    for name, t in timings.items():
        if len(t.wall_ms) == 0:
            continue
        p50, p99 = np.percentile(t.wall_ms, 50), np.percentile(t.wall_ms, 99)
        if p50 > 0 and p99 > TAIL_RATIO_MAX * p50:
            tail.append(f"{name} {_ms(p50)} -> {_ms(p99)}")
        share = float(np.mean(descheduled(t, threads)))
        if share > DESCHEDULED_MAX_SHARE:
            off_cpu.append(f"{name} {100 * share:.0f}%")
        medians = [float(np.median(t.wall_ms[t.round_of == r])) for r in np.unique(t.round_of)]
        if len(medians) > 1 and min(medians) > 0 and max(medians) > ROUND_SPREAD_MAX * min(medians):
            uneven.append(f"{name} {_ms(min(medians))}-{_ms(max(medians))}")
    if tail:
        signs.append(f"p99 above {TAIL_RATIO_MAX:g}x p50 ({', '.join(tail)})")
    if off_cpu:
        signs.append(
            f"runs descheduled (wall time well above CPU time) in more than "
            f"{100 * DESCHEDULED_MAX_SHARE:g}% of runs ({', '.join(off_cpu)})"
        )
    if uneven:
        signs.append(
            f"round medians more than {ROUND_SPREAD_MAX:g}x apart ({', '.join(uneven)})"
        )
    steal = max((ld.steal_pct for ld in loads), default=0.0)
    if steal > STEAL_MAX_PCT:
        signs.append(f"CPU steal up to {steal:.1f}% in a round (above {STEAL_MAX_PCT:g}%)")
    return signs
