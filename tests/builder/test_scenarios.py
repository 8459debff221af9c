"""[[scenarios]]: filters, their accuracy, and each scenario as a budget of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.budget import check_scenarios
from edgekit.builder.scenarios import check_columns, evaluate_scenarios
from edgekit.config import ScenarioConfig, parse_config
from edgekit.errors import ConfigError
from edgekit.filters import FilterError, parse_filter
from edgekit.results import AccuracyResult, VariantResult
from tests.corpus._cli import assert_refused, run_in_process

META = {
    "snr_db": np.array([-8.0, -3.0, -1.0, 0.0, 2.0, 5.0, -6.0, 12.0], np.float32),
    "class": np.array(["bpsk", "bpsk", "qpsk", "bpsk", "bpsk", "am", "bpsk", "bpsk"]),
    "multipath": np.array([True, False, True, False, True, False, False, True]),
}
KEEP = np.ones(8, bool)


def test_filter_masks() -> None:
    f = parse_filter('snr_db < 0 and class = "bpsk"')
    m, counts = f.mask(META, KEEP)
    assert m.tolist() == [True, True, False, False, False, False, True, False]
    assert counts == [("snr_db < 0", 4), ("class = 'bpsk'", 6)]
    assert parse_filter("snr_db >= 0 and multipath = true").mask(META, KEEP)[0].tolist() == [
        False, False, False, False, True, False, False, True,
    ]  # fmt: skip
    assert int(parse_filter("class in ['am', 'qpsk']").mask(META, KEEP)[0].sum()) == 2
    assert int(parse_filter("snr_db != 0").mask(META, KEEP)[0].sum()) == 7


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("snr_db <", "ends early"),
        ("snr_db ~ 0", "cannot read"),
        ("class = bpsk", "quoted string"),
        ("snr_db < 0 or class = 'am'", "'and'"),
        ("", "empty"),
        ("< 3", "column name"),
    ],
)
def test_bad_syntax_is_one_line(text: str, why: str) -> None:
    with pytest.raises(FilterError, match=why):
        parse_filter(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("rssi < 0", "not a metadata column"),
        ("snr_db = 'low'", "numeric"),
        ("class < 3", "holds text"),
        ("class > 'a'", "not numeric"),
        ("multipath = 1", "true or false"),
    ],
)
def test_filter_against_the_data(text: str, why: str) -> None:
    with pytest.raises(FilterError, match=why):
        parse_filter(text).check(META)


def _scenario_variant(n_right: int, n: int, min_accuracy: float, min_size: int = 1):  # type: ignore[no-untyped-def]
    """A variant whose scenario rows are ``n`` captures of which ``n_right`` are right."""
    sc = ScenarioConfig("low-snr bpsk", "snr_db < 0", min_accuracy, min_size)
    meta = {"snr_db": np.array([-1.0] * n + [5.0] * 3)}
    correct = np.array([True] * n_right + [False] * (n - n_right) + [True] * 3)
    v = VariantResult("onnx-fp32", "onnxruntime", "fp32", "built")
    v.accuracy = AccuracyResult(n + 3, 0.5, 0.5, {}, 1.0, 0.0)
    v.scenarios = evaluate_scenarios([sc], meta, np.ones(n + 3, bool), correct)
    return v, sc


@pytest.mark.parametrize(
    ("right", "n", "limit", "status"),
    [
        (6, 10, 0.6, "pass"),  # exactly at the limit: 0.6 >= 0.6
        (7, 10, 0.6, "pass"),  # just over
        (5, 10, 0.6, "fail"),  # just under
        (599, 1000, 0.6, "fail"),  # 0.599, one capture short
        (600, 1000, 0.6, "pass"),
    ],
)
def test_scenario_budget_boundaries(right: int, n: int, limit: float, status: str) -> None:
    v, sc = _scenario_variant(right, n, limit)
    (check,) = check_scenarios(v, [sc])
    assert check.budget == "scenario:low-snr bpsk"
    assert check.status == status
    assert check.value == pytest.approx(right / n)
    assert check.is_minimum and check.excess == pytest.approx(limit - right / n)
    assert f"{right} of {n} right" in check.detail


def test_not_evaluated_when_the_filter_selects_nothing() -> None:
    sc = ScenarioConfig("impossible", 'snr_db < -20 and class = "bpsk"', 0.5)
    v = VariantResult("onnx-fp32", "onnxruntime", "fp32", "built")
    v.accuracy = AccuracyResult(8, 0.5, 0.5, {}, 1.0, 0.0)
    v.scenarios = evaluate_scenarios([sc], META, KEEP, np.ones(8, bool))
    (check,) = check_scenarios(v, [sc])
    assert check.status == "not_evaluated" and check.value is None
    assert "no in-distribution evaluation capture matches 'snr_db < -20'" in check.detail
    # each clause matches rows, together none: the counts say so
    sc2 = ScenarioConfig("disjoint", "snr_db > 10 and class = 'am'", 0.5)
    v.scenarios = evaluate_scenarios([sc2], META, KEEP, np.ones(8, bool))
    (check2,) = check_scenarios(v, [sc2])
    assert "all clauses together" in check2.detail and "snr_db > 10: 1" in check2.detail
    # too few rows for the scenario's min_size
    v3, sc3 = _scenario_variant(3, 3, 0.5, min_size=4)
    assert check_scenarios(v3, [sc3])[0].status == "not_evaluated"
    # no data at all
    bare = VariantResult("x", "onnxruntime", "fp32", "built")
    assert check_scenarios(bare, [sc])[0].detail == "no evaluation data"


def _cfg(scenarios: list[dict]):  # type: ignore[no-untyped-def,type-arg]
    return parse_config({"model": {"path": "m.onnx"}, "scenarios": scenarios}, source="e.toml")


def test_config_refuses_bad_scenarios_naming_the_key() -> None:
    ok = {"name": "a", "filter": "snr_db < 0", "min_accuracy": 0.6}
    assert _cfg([ok]).scenarios[0].min_accuracy == 0.6
    cases = [
        ({**ok, "filter": "snr_db <"}, "e.toml: scenarios[0].filter: filter ends early"),
        ({**ok, "min_accuracy": 60}, "e.toml: scenarios[0].min_accuracy: must be in [0, 1]"),
        ({"name": "a", "filter": "x = 1"}, "e.toml: scenarios[0].min_accuracy: missing"),
        ({**ok, "colour": 1}, "e.toml: scenarios[0].colour: unknown key"),
    ]
    for table, start in cases:
        with pytest.raises(ConfigError) as e:
            _cfg([table])
        assert str(e.value).startswith(start) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"scenarios\[1\].name: 'a' names two"):
        _cfg([ok, ok])


def test_unknown_column_is_refused_when_data_loads() -> None:
    cfg = _cfg([{"name": "a", "filter": "rssi < 0", "min_accuracy": 0.6}])
    with pytest.raises(ConfigError, match=r"scenarios\[0\].filter \(a\): 'rssi' is not a metadata column"):
        check_columns(cfg, META)
    check_columns(_cfg([{"name": "b", "filter": "snr_db < 0", "min_accuracy": 0.6}]), META)


def test_cli_exit_2_for_a_bad_filter_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "edgekit.toml"
    toml.write_text(
        '[model]\npath = "missing.onnx"\n[[scenarios]]\nname = "low"\nfilter = "snr_db << 0"\n'
        "min_accuracy = 0.6\n"
    )
    out = run_in_process(["build", str(toml), "--out", str(tmp_path / "out")], capsys)
    assert_refused(out, mentions=["scenarios[0].filter"])
    assert not (tmp_path / "out").exists()
