"""The drift monitor's rules at their edges (written against the survivors of a mutation run):
the 1e-4 floor, values exactly on a quantile edge, merged edges, when a report runs, which
statistics take part, the threshold and its 80 % hysteresis exactly. Every PSI expected here is
the formula typed out on shares counted by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgekit.runtime.drift import DriftMonitor, DriftReport, psi, psi_quantile_bins


def _psi(expected: list[float], actual: list[float]) -> float:
    """PSI by hand, both sides floored at 1e-4."""
    return sum(
        (max(a, 1e-4) - max(e, 1e-4)) * math.log(max(a, 1e-4) / max(e, 1e-4))
        for e, a in zip(expected, actual, strict=True)
    )


def test_the_floor_is_1e_4_on_both_sides():
    assert psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(
        2 * (1 - 1e-4) * math.log(1e4), rel=1e-12
    )
    assert psi(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0
    assert psi(np.array([1e-5, 1.0]), np.array([5e-5, 1.0])) == 0.0  # both below the floor: equal


def test_a_value_on_an_edge_belongs_to_the_bin_above_it():
    levels, edges = [0.5], [1.0]
    assert psi_quantile_bins(levels, edges, np.array([1.0, 1.0, 0.0, 0.0])) == 0.0
    assert psi_quantile_bins(levels, edges, np.array([1.0, 1.0, 1.0, 0.0])) == pytest.approx(
        _psi([0.5, 0.5], [0.25, 0.75]), rel=1e-12
    )


def test_decreasing_edges_are_merged_into_the_last_one_with_the_highest_level():
    levels, edges = [0.2, 0.4, 0.6], [2.0, 1.0, 3.0]  # a non-monotone edge: merged into 2.0
    values = np.array([0.0, 1.5, 2.5, 2.5, 4.0])  # bins (<2, [2,3), >=3): 2, 2, 1 of 5
    assert psi_quantile_bins(levels, edges, values) == pytest.approx(
        _psi([0.4, 0.2, 0.4], [0.4, 0.4, 0.2]), rel=1e-12
    )


def test_no_values_read_as_empty_bins():
    got = psi_quantile_bins([0.5], [1.0], np.array([]))
    assert got == pytest.approx(_psi([0.5, 0.5], [0.0, 0.0]), rel=1e-12)


CONF_ONLY = {"confidence": {"quantiles": [0.5], "values": [0.5]}}


def _conf_monitor(**kw) -> DriftMonitor:
    return DriftMonitor(CONF_ONLY, ["a", "b"], **kw)


def test_a_report_runs_every_every_captures_once_a_window_is_held():
    mon = _conf_monitor(window=4, every=2)
    got = [mon.observe(None, "a", 0.9) is not None for _ in range(9)]
    assert got == [False, False, False, True, False, True, False, True, False]
    assert mon.last is not None and mon.last.window == 4  # the window holds the last 4


def test_the_report_names_the_worst_statistic_and_its_psi():
    ref = {**CONF_ONLY, "prediction_distribution": [0.5, 0.5]}
    mon = DriftMonitor(ref, ["a", "b"], window=4, every=4, threshold=10.0)
    for label, conf in (("a", 0.9), ("a", 0.1), ("a", 0.9), ("b", 0.1)):
        report = mon.observe(None, label, conf)
    pred = _psi([0.5, 0.5], [0.75, 0.25])
    assert report == DriftReport({"prediction": pytest.approx(pred), "confidence": 0.0}, "prediction",
                                 pytest.approx(pred), 10.0, 4, False, False)  # fmt: skip
    assert mon.statistics == ["prediction", "confidence"]


def test_labels_outside_the_model_and_no_label_are_left_out_of_the_prediction_share():
    ref = {"prediction_distribution": [0.5, 0.5]}
    mon = DriftMonitor(ref, ["a", "b"], window=4, every=4, threshold=10.0)
    for label in ("a", "zz", None, "b"):
        report = mon.observe(None, label, 0.5)
    assert report is not None and report.scores == {"prediction": 0.0}  # one a, one b


def _conf_psi(high: int, of: int) -> float:
    return _psi([0.5, 0.5], [(of - high) / of, high / of])


def _feed(mon: DriftMonitor, high: int, of: int) -> DriftReport:
    report = None
    for i in range(of):
        report = mon.observe(None, None, 0.9 if i < high else 0.1)
    assert report is not None
    return report


def test_drift_begins_above_the_threshold_not_at_it():
    at = _conf_psi(8, 10)  # 80 % of the confidences above the reference median
    mon = _conf_monitor(window=10, every=10, threshold=at)
    r = _feed(mon, 8, 10)
    assert r.worst_psi == pytest.approx(at, rel=1e-12) and not r.drifting and not r.changed
    mon = _conf_monitor(window=10, every=10, threshold=at * (1 - 1e-9))
    r = _feed(mon, 8, 10)
    assert r.drifting and r.changed and r.worst == "confidence"


def test_drift_ends_only_at_or_below_80_percent_of_the_threshold():
    threshold = _conf_psi(36, 40)
    inside = _conf_psi(35, 40)  # above 80 % of the threshold
    assert 0.8 * threshold < inside < threshold
    mon = _conf_monitor(window=40, every=40, threshold=threshold * (1 - 1e-9))
    assert _feed(mon, 36, 40).changed
    r = _feed(mon, 35, 40)
    assert r.drifting and not r.changed  # held by the hysteresis
    r = _feed(mon, 20, 40)
    assert not r.drifting and r.changed
    # exactly 80 % of the threshold: drift ends
    assert 0.8 * (inside / 0.8) == inside
    mon = _conf_monitor(window=40, every=40, threshold=inside / 0.8)
    mon.drifting = True
    r = _feed(mon, 35, 40)
    assert not r.drifting and r.changed


INPUT_REF = {
    "preprocessed": {"statistics": ["c0_mean", "c0_std"], "quantiles": [0.5], "values": [[0.0], [1.0]]},
}


def _capture(mean: float) -> np.ndarray:
    return np.full((1, 1, 4), mean, np.float32)  # std 0


def test_input_statistics_are_judged_on_channel_mean_and_std():
    mon = DriftMonitor(INPUT_REF, ["a"], window=4, every=2, threshold=10.0)
    assert mon.statistics == ["input.c0_mean", "input.c0_std"]
    report = None
    for mean in (1.0, 1.0, -1.0, 1.0):
        report = mon.observe(_capture(mean), "a", 0.5)
    assert report is not None
    assert report.scores == {
        "input.c0_mean": pytest.approx(_psi([0.5, 0.5], [0.25, 0.75]), rel=1e-12),
        "input.c0_std": pytest.approx(_psi([0.5, 0.5], [1.0, 0.0]), rel=1e-12),
    }
    assert report.worst == "input.c0_std"


def test_input_statistics_wait_for_half_a_window():
    """every=2 on a window of 4: the first report (4 captures) holds 4 input rows; with every=3
    and window 6 it holds 6; statistics flushed only at reports."""
    mon = DriftMonitor(INPUT_REF, ["a"], window=6, every=3, threshold=10.0)
    for _ in range(3):
        mon.observe(None, "a", 0.5)  # no inputs for the first 3
    report = None
    for _ in range(3):
        report = mon.observe(_capture(1.0), "a", 0.5)
    assert report is not None and set(report.scores) == {"input.c0_mean", "input.c0_std"}  # 3 = 6 // 2
    mon = DriftMonitor(INPUT_REF, ["a"], window=6, every=2, threshold=10.0)
    for i in range(6):
        report = mon.observe(_capture(1.0) if i >= 4 else None, "a", 0.5)
    assert report is not None and report.scores == {}  # 2 rows < 6 // 2: not judged
    mon = DriftMonitor(INPUT_REF, ["a"], window=5, every=5, threshold=10.0)
    for i in range(5):
        report = mon.observe(_capture(1.0) if i >= 3 else None, "a", 0.5)
    assert report is not None and set(report.scores) == {"input.c0_mean", "input.c0_std"}  # 2 = 5 // 2


def test_another_preprocessing_turns_input_drift_off():
    mon = DriftMonitor(INPUT_REF, ["a"], window=2, every=2, threshold=10.0)
    report = None
    for _ in range(2):
        report = mon.observe(np.zeros((1, 2, 4), np.float32), "a", 0.5)  # two channels, not one
    assert report is not None and report.scores == {} and mon.statistics == []
    assert report.worst == "" and report.worst_psi == 0.0 and not report.drifting


def test_psi_is_computed_in_float64_whatever_the_input():
    e, a = np.array([0.3, 0.7], np.float32), np.array([0.6, 0.4], np.float32)
    by_hand = _psi([float(v) for v in e], [float(v) for v in a])  # the float32 values, in float64
    assert psi(e, a) == pytest.approx(by_hand, rel=1e-13)


def test_levels_and_edges_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        psi_quantile_bins([0.25, 0.5], [1.0], np.array([0.0]))


def test_one_value_is_the_whole_window():
    got = psi_quantile_bins([0.5], [1.0], np.array([2.0]))
    assert got == pytest.approx(_psi([0.5, 0.5], [0.0, 1.0]), rel=1e-12)


def test_the_defaults_window_256_every_32_threshold_025():
    mon = DriftMonitor(CONF_ONLY, ["a", "b"])
    assert mon.labels == ["a", "b"] and mon.last is None
    reports = [mon.observe(None, None, 0.9) for _ in range(288)]
    at = [i + 1 for i, r in enumerate(reports) if r is not None]
    assert at == [256, 288]
    assert mon.last is not None and mon.last.threshold == 0.25 and mon.last.window == 256


def test_the_prediction_share_is_over_the_window_only():
    mon = DriftMonitor({"prediction_distribution": [0.5, 0.5]}, ["a", "b"], window=4, every=4, threshold=10.0)
    for _ in range(4):
        mon.observe(None, "a", 0.5)
    report = None
    for _ in range(4):
        report = mon.observe(None, "b", 0.5)
    assert report is not None and report.scores["prediction"] == pytest.approx(_psi([0.5, 0.5], [0.0, 1.0]))


def test_a_reference_that_gives_no_number_reads_as_no_drift():
    mon = DriftMonitor(
        {"prediction_distribution": [math.nan, 1.0]}, ["a", "b"], window=2, every=2, threshold=0.25
    )
    mon.observe(None, "a", 0.5)
    report = mon.observe(None, "b", 0.5)
    assert report is not None and math.isnan(report.scores["prediction"])
    assert report.worst_psi == 0.0 and not report.drifting
