"""``[[scenarios]]``: a stakeholder's filter on the metadata and the accuracy it must reach.

Each scenario becomes a budget of its own (``edgekit.budget.check_scenarios``). Columns and
value types are checked against the evaluation data when it is loaded, before any variant is
built, together with ``[context] observable`` (see :func:`check_columns`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edgekit.builder.context_table import wilson
from edgekit.config import BuildConfig, ScenarioConfig
from edgekit.errors import ConfigError
from edgekit.filters import FilterError, parse_filter
from edgekit.results import ScenarioResult
from edgekit.signals.observe import OBSERVABLES

__all__ = ["check_columns", "evaluate_scenarios"]


def check_columns(cfg: BuildConfig, meta: Mapping[str, np.ndarray]) -> None:
    """Every scenario filter fits the evaluation data's metadata; every observable is known.

    One :class:`ConfigError` line naming the key, so a bad filter stops the build before work."""
    for i, name in enumerate(cfg.context.observable):
        if name not in OBSERVABLES:
            raise ConfigError(
                f"{cfg.source}: context.observable[{i}]: {name!r} is not computable on the device; "
                f"accepted: {', '.join(OBSERVABLES)}"
            )
    for i, sc in enumerate(cfg.scenarios):
        try:
            parse_filter(sc.filter).check(meta)
        except FilterError as e:
            raise ConfigError(
                f"{cfg.source}: scenarios[{i}].filter ({sc.name}): {e} in {cfg.data.evaluation}"
            ) from e


def evaluate_scenarios(
    scenarios: Sequence[ScenarioConfig],
    meta: Mapping[str, np.ndarray],
    keep: np.ndarray,
    correct: np.ndarray,
    confidence: float = 0.95,
) -> list[ScenarioResult]:
    """Accuracy on the rows of ``keep`` (in-distribution) each scenario's filter selects."""
    out = []
    for sc in scenarios:
        f = parse_filter(sc.filter)
        m, counts = f.mask(meta, keep)
        n, k = int(m.sum()), int((m & correct).sum())
        why = ""
        if n == 0:
            empty = [text for text, c in counts if c == 0]
            why = (
                f"no in-distribution evaluation capture matches {empty[0]!r}"
                if empty
                else "no in-distribution evaluation capture matches all clauses together ("
                + ", ".join(f"{text}: {c}" for text, c in counts)
                + " of "
                + str(int(np.sum(keep)))
                + ")"
            )
        lo, hi = wilson(k, n, confidence) if n else (None, None)
        acc = k / n if n else None
        out.append(ScenarioResult(sc.name, sc.filter, sc.min_accuracy, n, k, acc, lo, hi, why))
    return out
