"""The drift reference the build writes for the daemon: statistics of the in-distribution rows
only, recomputed here with plain numpy."""

from __future__ import annotations

import numpy as np

from edgekit.builder.runtime_fields import drift_reference
from edgekit.config import parse_config

CFG = parse_config({"model": {"path": "m.onnx"}}, source="x.toml")


def test_the_reference_covers_the_in_distribution_rows_per_channel():
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, (300, 2, 64)).astype(np.float32)
    x[200:] += 50.0  # out-of-distribution rows: far away, and they must not count
    scores = rng.normal(size=(300, 4))
    in_dist = np.arange(300) < 200
    pre = drift_reference(x, scores, in_dist, CFG)["preprocessed"]
    assert pre["statistics"] == ["c0_mean", "c0_std", "c1_mean", "c1_std"]
    assert pre["n"] == 200
    levels = pre["quantiles"]
    kept = x[:200].astype(np.float64)
    expected = [
        np.quantile(kept[:, 0].mean(axis=1), levels),
        np.quantile(kept[:, 0].std(axis=1), levels),
        np.quantile(kept[:, 1].mean(axis=1), levels),
        np.quantile(kept[:, 1].std(axis=1), levels),
    ]
    np.testing.assert_allclose(pre["values"], expected, rtol=1e-5, atol=1e-6)
    assert max(max(v) for v in pre["values"]) < 10  # the shifted rows stayed out


def test_no_evaluation_data_no_reference():
    assert drift_reference(None, None, None, CFG) == {}
    x = np.zeros((5, 2, 8), np.float32)
    assert drift_reference(x, np.zeros((5, 3)), np.zeros(5, bool), CFG) == {}
