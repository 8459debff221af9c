"""``attribute_intervals``: the function-level form of attribution, for callers that hold arrays.

The daemon's rolling windows (and any other caller that already has samples and inference times in
memory) should not have to write files: this builds the trace and the event log from plain arrays
and calls the same ``attribute`` as the bench and ``edgekit energy attribute``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from edgekit.energy.attribute import AttributionOptions, attribute
from edgekit.energy.events import EventRecorder
from edgekit.energy.meters.model import BoardProfile
from edgekit.energy.provenance import Provenance
from edgekit.energy.result import EnergyResult
from edgekit.energy.tracefile import PowerTrace, TraceHeader

__all__ = ["attribute_intervals"]


def attribute_intervals(
    timestamps_s: np.ndarray,
    power_w: np.ndarray,
    inferences: Iterable[tuple[float, float] | tuple[float, float, int]],
    windows: Sequence[tuple[float, float]],
    idle: Sequence[tuple[float, float]],
    *,
    header: TraceHeader | None = None,
    events_header: Mapping[str, Any] | None = None,
    options: AttributionOptions | None = None,
    profile: BoardProfile | None = None,
    provenance: Provenance | None = None,
) -> EnergyResult:
    """Attribute ``inferences`` (start, end[, n]) inside ``windows`` against the samples, with idle
    measured in the ``idle`` segments (at least one before and one after each window).

    Times are one clock: the host's monotonic seconds unless ``header.clock == "meter"``.
    ``header`` says what the samples are (meter, averaging, board, bundle ID); the default is an
    unnamed host-clocked point sampler, whose figures are ``unverified``. Raises what ``attribute``
    raises: ``DataError`` for a malformed layout, ``EnergyRefused`` naming a cause.
    """
    rec = EventRecorder(dict(events_header or {}))
    for a, b in idle:
        rec.idle(a, b)
    for a, b in windows:
        rec.window(a, b)
    for call in inferences:
        rec.call(call[0], call[1], int(call[2]) if len(call) > 2 else 1)
    trace = PowerTrace(np.asarray(timestamps_s, dtype=np.float64), np.asarray(power_w, dtype=np.float64),
                       header or TraceHeader(clock="host"), source="samples in memory")
    log = rec.log()
    log.source = "intervals in memory"
    return attribute(trace, log, options=options, profile=profile, provenance=provenance)
