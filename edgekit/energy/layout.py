"""The shape an event log must have to be attributed: windows of calls with idle on both sides.

Checked before any energy is computed, with one line naming the file, line or time at fault:
windows sorted and disjoint, calls one at a time (no overlap), every call inside one window,
every window holding at least one inference and having an idle segment before and after it
that overlaps no window.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from edgekit.energy.events import EventLog
from edgekit.errors import DataError

__all__ = ["Layout", "layout_of"]

_EPS = 1e-9


@dataclass(frozen=True)
class Layout:
    """Windows, calls as rows (start, end, n), idle segments used, and per window its neighbours."""

    windows: list[tuple[float, float]]
    calls: np.ndarray
    idle: list[tuple[float, float]]
    before: list[int]  # index into ``idle`` of the segment before each window
    after: list[int]


def layout_of(log: EventLog) -> Layout:
    """Validate ``log`` and return its layout; ``DataError`` naming what is wrong and where."""
    src = log.source
    windows = sorted(log.windows)
    if not windows:
        raise DataError(f"{src}: no window events; nothing to attribute")
    for (_, e0), (s1, _) in itertools.pairwise(windows):
        if s1 < e0 - _EPS:
            raise DataError(f"{src}: windows overlap at {s1:.6f} s (the previous ends at {e0:.6f} s)")
    starts, ends, n = log.call_start_s, log.call_end_s, log.call_n
    w_start = np.array([w[0] for w in windows])
    w_end = np.array([w[1] for w in windows])
    wi = np.searchsorted(w_start, starts + _EPS, side="right") - 1
    wc = np.clip(wi, 0, None)
    outside = (wi < 0) | (ends > w_end[wc] + _EPS) | (starts < w_start[wc] - _EPS)
    if np.any(outside):
        i = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{log.where_call(i)}: inference at {starts[i]:.6f}-{ends[i]:.6f} s lies outside "
            "every window (each inference must fall inside a window event)"
        )
    # calls run one at a time: an overlap would count the shared time twice in the busy time that
    # total energy charges idle power for (and is more often a mis-paired start/end than threads)
    overlap = np.flatnonzero(starts[1:] < ends[:-1] - _EPS)
    if overlap.size:
        i = int(overlap[0]) + 1
        raise DataError(
            f"{log.where_call(i)}: inference at {starts[i]:.6f} s starts before the previous one "
            f"ends ({ends[i - 1]:.6f} s, {log.where_call(i - 1)}); inferences and batches run one "
            "at a time, so each must start at or after the previous one's end"
        )
    counts = np.bincount(wi, minlength=len(windows)) if wi.size else np.zeros(len(windows), int)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        k = int(empty[0])
        raise DataError(f"{src}: window {k} ({windows[k][0]:.6f} s) holds no inference")
    idle = sorted(log.idle)
    for s, e in idle:
        clash = (w_start < e - _EPS) & (w_end > s + _EPS)
        if np.any(clash):
            raise DataError(f"{src}: idle segment {s:.6f}-{e:.6f} s overlaps a window")
    before, after = [], []
    for k, (ws, we) in enumerate(windows):
        prior = [j for j, (_, e) in enumerate(idle) if e <= ws + _EPS]
        later = [j for j, (s, _) in enumerate(idle) if s >= we - _EPS]
        if not prior or not later:
            side = "before" if not prior else "after"
            raise DataError(
                f"{src}: window {k} ({ws:.6f}-{we:.6f} s) has no idle segment {side} it; "
                "dynamic energy needs idle measured on both sides of every window"
            )
        before.append(prior[-1])
        after.append(later[0])
    used = sorted(set(before) | set(after))
    remap = {j: i for i, j in enumerate(used)}
    calls = np.column_stack((starts, ends, n.astype(np.float64)))
    return Layout(
        windows=windows,
        calls=calls,
        idle=[idle[j] for j in used],
        before=[remap[j] for j in before],
        after=[remap[j] for j in after],
    )
