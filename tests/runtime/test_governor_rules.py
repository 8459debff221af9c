"""The governor's rule at its edges (written against the survivors of a mutation run): every
threshold exactly, each hysteresis exactly, the way back from critical, the cheaper variant's ties
and missing figures, the rate limit at exactly one interval. Expected states are the documented
rule (module docstring of ``edgekit.runtime.governor``) applied by hand."""

from __future__ import annotations

import math

import pytest

from edgekit.errors import UsageError
from edgekit.runtime.governor import Governor, GovernorDecision, pick_cheaper_variant
from edgekit.runtime.settings import GovernorSettings

SETTINGS = GovernorSettings(low_pct=20.0, critical_pct=10.0, hysteresis_pct=3.0, critical_min_interval_s=2.0)


def _walk(start: list[float], then: float) -> str:
    g = Governor(SETTINGS, primary="fp32", cheaper="int8")
    for soc in start:
        g.update(soc)
    return g.update(then).state


@pytest.mark.parametrize(
    ("start", "then", "state"),
    [
        ([], 20.0, "low"),  # at the low threshold
        ([], 20.000001, "normal"),
        ([], 10.0, "critical"),  # at the critical threshold
        ([], 10.000001, "low"),
        ([19.0], 22.999, "low"),  # low is left only 3 points above its threshold ...
        ([19.0], 23.0, "normal"),  # ... exactly there
        ([5.0], 12.999, "critical"),  # critical likewise
        ([5.0], 13.0, "low"),
        ([5.0], 21.0, "low"),  # above low but inside its hysteresis: critical -> low, not normal
        ([5.0], 23.0, "normal"),
        ([5.0], 19.0, "low"),
        ([19.0], 10.5, "low"),
        ([50.0], 21.0, "normal"),
    ],
)
def test_each_threshold_and_hysteresis_exactly(start, then, state):
    assert _walk(start, then) == state


def test_no_reading_or_disabled_keeps_the_state_and_reports_no_change():
    g = Governor(SETTINGS, primary="fp32", cheaper="int8")
    g.update(5.0)
    d = g.update(None)
    assert d == GovernorDecision("critical", "int8", 2.0, False, None)
    off = Governor(GovernorSettings(enabled=False, low_pct=20.0), primary="fp32", cheaper="int8")
    assert off.update(1.0) == GovernorDecision("normal", "fp32", None, False, 1.0)


def test_the_decision_carries_the_reading_and_whether_it_changed():
    g = Governor(SETTINGS, primary="fp32", cheaper="int8")
    assert g.update(50.0) == GovernorDecision("normal", "fp32", None, False, 50.0)
    assert g.update(15.0) == GovernorDecision("low", "int8", None, True, 15.0)
    assert g.update(14.0) == GovernorDecision("low", "int8", None, False, 14.0)
    assert g.update(9.0) == GovernorDecision("critical", "int8", 2.0, True, 9.0)
    assert g.decision() == GovernorDecision("critical", "int8", 2.0, False, None)


def test_critical_admits_at_exactly_one_interval_and_counts_from_the_last_admitted():
    g = Governor(SETTINGS, primary="a", cheaper="b")
    g.update(5.0)
    assert g.admit(100.0) is True  # the first one in critical: nothing inferred before
    assert [g.admit(t) for t in (101.999, 102.0, 103.0, 104.0)] == [False, True, False, True]


def test_normal_admits_everything_and_its_inferences_count_for_critical():
    g = Governor(SETTINGS, primary="a", cheaper="b")
    assert all(g.admit(t) for t in (0.0, 0.0, 1.0))
    g.update(5.0)
    assert [g.admit(t) for t in (2.5, 3.0)] == [False, True]  # 2 s after the one at 1.0


def _variant(name: str, mj: float, ms: float) -> dict:
    energy = {"energy_per_inference_mj": mj}
    return {"name": name, "passed": True, "energy": energy, "latency": {"p50_ms": ms}}


MANIFEST = {"variants": [_variant("fp32", 0.8, 3.0), _variant("int8", 0.8, 1.0)]}


def test_equal_energy_is_decided_by_latency():
    assert pick_cheaper_variant(MANIFEST, "fp32") == "int8"
    assert pick_cheaper_variant(MANIFEST, "int8") == "int8"


def test_nothing_strictly_cheaper_keeps_the_current_variant():
    same = {"variants": [{"name": "a", "passed": True}, {"name": "b", "passed": True}]}
    assert pick_cheaper_variant(same, "b") == "b"  # no figures at all: a tie, not "a"
    tie = {"variants": [dict(v, latency={"p50_ms": 1.0}) for v in MANIFEST["variants"]]}
    assert pick_cheaper_variant(tie, "fp32") == "fp32"


@pytest.mark.parametrize("bad", [math.nan, math.inf, "0.1", None])
def test_energy_that_is_not_a_finite_number_counts_as_unknown(bad):
    m = {
        "variants": [
            {"name": "a", "passed": True, "energy": {"energy_per_inference_mj": 0.5}},
            {"name": "b", "passed": True, "energy": {"energy_per_inference_mj": bad}},
        ]
    }
    assert pick_cheaper_variant(m, "a") == "a" and pick_cheaper_variant(m, "b") == "a"


@pytest.mark.parametrize("bad", [math.nan, math.inf, "1", None])
def test_latency_that_is_not_a_finite_number_counts_as_unknown(bad):
    m = {
        "variants": [
            {"name": "a", "passed": True, "latency": {"p50_ms": 2.0}},
            {"name": "b", "passed": True, "latency": {"p50_ms": bad}},
        ]
    }
    assert pick_cheaper_variant(m, "b") == "a" and pick_cheaper_variant(m, "a") == "a"


def test_integer_figures_count():
    m = {
        "variants": [
            {"name": "a", "passed": True, "energy": {"energy_per_inference_mj": 2}},
            {"name": "b", "passed": True, "energy": {"energy_per_inference_mj": 1}, "latency": {"p50_ms": 5}},
        ]
    }
    assert pick_cheaper_variant(m, "a") == "b"


def test_only_passing_variants_and_a_known_current_one_are_considered():
    m = {
        "variants": [
            {"name": "a", "passed": True, "energy": {"energy_per_inference_mj": 1.0}},
            {"name": "b", "energy": {"energy_per_inference_mj": 0.1}},  # no verdict: not passing
            {"name": "c", "passed": False, "energy": {"energy_per_inference_mj": 0.1}},
        ]
    }
    assert pick_cheaper_variant(m, "a") == "a"
    assert pick_cheaper_variant(m, "zz") == "zz"  # the current variant is not in the bundle
    assert pick_cheaper_variant({}, "a") == "a"
    assert pick_cheaper_variant({"variants": [m["variants"][1]]}, "b") == "b"  # nothing passed


def test_a_named_variant_is_taken_as_named_or_refused_with_what_the_bundle_has():
    assert pick_cheaper_variant(MANIFEST, "int8", "fp32") == "fp32"
    with pytest.raises(UsageError) as e:
        pick_cheaper_variant(MANIFEST, "fp32", "tflite")
    assert str(e.value) == "governor.low_variant 'tflite': not in the bundle; it has ['fp32', 'int8']"
