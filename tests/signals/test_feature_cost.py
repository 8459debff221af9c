"""Per-feature cost table: every step timed, shared costs split so they add up, importance attached."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.data.synth import generate
from edgekit.signals.feature_cost import measure_feature_costs
from edgekit.signals.features import FEATURE_NAMES


def test_table_covers_every_feature_and_shares_add_up():
    x = generate(2, seed=5).x
    imp = {name: i / 100 for i, name in enumerate(FEATURE_NAMES)}
    tab = measure_feature_costs(x, repeats=3, importance=imp)
    assert [f.name for f in tab.features] == list(FEATURE_NAMES)
    assert all(f.own_us > 0 and f.shared_us > 0 for f in tab.features)
    assert [f.importance for f in tab.features] == [imp[n] for n in FEATURE_NAMES]
    assert tab.captures == 2 and tab.repeats == 3 and tab.extract_us > 0
    d = tab.to_dict()
    assert d["features"][0]["cost_us"] == pytest.approx(tab.features[0].total_us)


def test_shared_intermediates_are_split_not_counted_twice():
    # The six line features need the same chain (z, the envelope's |z|**2, the line FFT of
    # z, z**2, z**4, z**8) and nothing else shared, so their shares are equal.
    tab = measure_feature_costs(generate(1, seed=6).x, repeats=3)
    by = {f.name: f for f in tab.features}
    lines = ["line_z1", "line_z2", "line_z4", "line_z8", "line_z4_over_z2", "line_z8_over_z4"]
    assert len({round(by[n].shared_us, 9) for n in lines}) == 1
    # cum_c20 needs z and the moments (one pass): far less than the line features' 4 x 2L FFT
    assert by["cum_c20"].shared_us < by["line_z1"].shared_us


def test_rejects_a_non_capture_batch():
    with pytest.raises(ValueError, match=r"\(K, 2, L\)"):
        measure_feature_costs(np.zeros((3, 1024), np.float32))
