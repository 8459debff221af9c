"""The governor's documented rule: thresholds, hysteresis, the cheaper variant, the rate limit."""

from __future__ import annotations

import pytest

from edgekit.errors import UsageError
from edgekit.runtime.governor import Governor, pick_cheaper_variant
from edgekit.runtime.settings import GovernorSettings

MANIFEST = {
    "variants": [
        {"name": "fp32", "passed": True, "energy": {"energy_per_inference_mj": 0.8}},
        {"name": "int8", "passed": True, "energy": {"energy_per_inference_mj": 0.4}},
        {"name": "int8-bad", "passed": False, "energy": {"energy_per_inference_mj": 0.1}},
    ]
}


def test_cheaper_variant_is_the_lowest_energy_passing_one():
    assert pick_cheaper_variant(MANIFEST, "fp32") == "int8"
    assert pick_cheaper_variant(MANIFEST, "int8") == "int8"
    assert pick_cheaper_variant(MANIFEST, "fp32", "fp32") == "fp32"
    with pytest.raises(UsageError, match="not in the bundle"):
        pick_cheaper_variant(MANIFEST, "fp32", "tflite-int8")


def test_by_latency_when_no_energy_was_recorded():
    m = {
        "variants": [
            {"name": "a", "passed": True, "latency": {"p50_ms": 2.0}},
            {"name": "b", "passed": True, "latency": {"p50_ms": 1.0}},
        ]
    }
    assert pick_cheaper_variant(m, "a") == "b"


def test_states_follow_thresholds_with_hysteresis():
    g = Governor(
        GovernorSettings(low_pct=20, critical_pct=10, hysteresis_pct=3), primary="fp32", cheaper="int8"
    )
    seq = [
        (50, "normal"),
        (20, "low"),
        (21, "low"),
        (23, "normal"),
        (19, "low"),
        (10, "critical"),
        (12, "critical"),
        (13, "low"),
        (5, "critical"),
        (30, "normal"),
        (None, "normal"),
    ]
    got = [g.update(soc).state for soc, _ in seq]
    assert got == [s for _, s in seq]


def test_decision_names_the_variant_and_the_interval():
    g = Governor(GovernorSettings(critical_min_interval_s=2.0), primary="fp32", cheaper="int8")
    assert (g.update(50).variant, g.update(50).min_interval_s) == ("fp32", None)
    d = g.update(15)
    assert (d.state, d.variant, d.changed) == ("low", "int8", True)
    d = g.update(5)
    assert (d.state, d.variant, d.min_interval_s) == ("critical", "int8", 2.0)


def test_critical_admits_one_inference_per_interval():
    g = Governor(GovernorSettings(critical_min_interval_s=2.0), primary="a", cheaper="a")
    assert [g.admit(t) for t in (0.0, 0.5)] == [True, True]  # normal: every capture
    g.update(1)
    # the last inference was at 0.5 s: the next one is due from 2.5 s, then 2 s after that
    assert [g.admit(t) for t in (1.0, 1.5, 2.6, 3.0, 4.5, 4.7)] == [False, False, True, False, False, True]


def test_no_gauge_or_disabled_stays_normal():
    g = Governor(GovernorSettings(enabled=False), primary="a", cheaper="b")
    assert g.update(1).state == "normal"
