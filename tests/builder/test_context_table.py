"""Results with context: Wilson intervals against the closed form, and the table's counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.builder.context_table import bin_label, context_table, wilson

Z95 = 1.959963984540054  # the 97.5 % normal quantile, as published in tables
Z90 = 1.6448536269514722


def _closed_form(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson (1927): (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(61, 100), (167, 273), (0, 10), (10, 10), (1, 3), (999, 1000)])
def test_wilson_matches_the_closed_form(k: int, n: int) -> None:
    lo, hi = wilson(k, n, 0.95)
    elo, ehi = _closed_form(k, n, Z95)
    assert lo == pytest.approx(elo, abs=1e-9) and hi == pytest.approx(ehi, abs=1e-9)
    lo90, hi90 = wilson(k, n, 0.90)
    assert (lo90, hi90) == pytest.approx(_closed_form(k, n, Z90), abs=1e-9)


def test_wilson_known_values() -> None:
    # 0 of 10: the upper bound 0.2775 is the textbook example (Brown, Cai & DasGupta 2001)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_table_counts_precision_per_label_and_bin() -> None:
    labels = ["a", "b"]
    snr = np.array([-20.0, -5, -5, 5, 5, 5, 15, 25, 25, np.nan])
    pred = np.array([0, 0, 0, 0, 0, 1, 0, 1, 1, 0])
    correct = np.array([0, 1, 0, 1, 1, 1, 1, 0, 1, 1], bool)
    accepted = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], bool)  # the last one said "unknown"
    cells = context_table(
        pred=pred, correct=correct, accepted=accepted, labels=labels,
        conditions={"snr_db": snr}, edges={"snr_db": [-10.0, 0.0, 10.0, 20.0]},
    )  # fmt: skip
    got = {(c.label, c.condition, c.bin): (c.n, c.correct) for c in cells}
    assert got[("a", "", "all")] == (6, 4)  # the unknown row is not an answer "a"
    assert got[("a", "snr_db", "< -10")] == (1, 0)
    assert got[("a", "snr_db", "[-10, 0)")] == (2, 1)
    assert got[("a", "snr_db", "[0, 10)")] == (2, 2)
    assert got[("a", "snr_db", "[10, 20)")] == (1, 1)
    assert got[("a", "snr_db", ">= 20")] == (0, 0)
    assert got[("b", "snr_db", ">= 20")] == (2, 1)
    c = next(c for c in cells if (c.label, c.condition, c.bin) == ("a", "snr_db", "[-10, 0)"))
    assert c.precision == 0.5 and (c.ci_low, c.ci_high) == pytest.approx(_closed_form(1, 2, Z95))
    empty = next(c for c in cells if (c.label, c.bin) == ("a", ">= 20"))
    assert empty.precision is None and (empty.ci_low, empty.ci_high) == (0.0, 1.0)
    assert len(cells) == 2 * (1 + 5)


def test_bin_labels() -> None:
    assert bin_label(None, -10.0) == "< -10"
    assert bin_label(0.0, 10.0) == "[0, 10)"
    assert bin_label(20.0, None) == ">= 20"
    assert bin_label(None, None) == "all"
