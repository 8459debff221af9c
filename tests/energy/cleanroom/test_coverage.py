"""Coverage: the reported interval holds the closed-form truth at the documented confidence.

docs/energy-files.md: total and dynamic energy per inference "with their intervals"; the event
log's ``attribution.confidence`` is 0.95 when the bench writes it, and the README says "each with a
95 % interval". A hundred trials (ten cases x ten seeds) through the CLI's entry point: each must
give a figure (no refusal: every case is within what the docs say is handled), state 95 %, and
hold the truth in at least 90 of 100 for the total and for the dynamic energy (P(<= 89 of 100)
is 0.6 % for a true 95 % interval), and no case may miss more than 3 of its 10 (a case with a
real bias would).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .cases import CASES, SLOW_CASES, Case
from .runner import attribute_inprocess, make

SEEDS = range(10)
# what the docs name as warnings (and the clock note a skewed trace gets: "any offset is found")
DOCUMENTED = {"idle drift", "regime", "precision", "clock", "events", "aliasing"}


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    folder = tmp_path_factory.mktemp("coverage")
    rows = []
    for case in CASES:
        for seed in SEEDS:
            rec = make(case, seed, folder)
            res = attribute_inprocess(rec.power, rec.events, "--json")
            truth = rec.schedule.truth
            row: dict[str, object] = {"case": case.name, "seed": seed, "rc": res.rc, "err": res.err}
            if res.rc == 0:
                d = res.data
                row.update(
                    d=d, n_true=truth.n, per_freq=truth.per_freq,
                    tot_in=d["spread_mj"][0] <= truth.total_j * 1e3 <= d["spread_mj"][1],
                    dyn_in=d["dynamic_spread_mj"][0] <= truth.dynamic_j * 1e3 <= d["dynamic_spread_mj"][1],
                )
            rows.append(row)
    return rows


def test_every_case_gives_a_figure(trials: list[dict[str, object]]) -> None:
    refused = [(r["case"], r["seed"], r["err"]) for r in trials if r["rc"] != 0]
    assert not refused


def test_interval_is_the_documented_95_percent(trials: list[dict[str, object]]) -> None:
    for r in trials:
        d = r["d"]
        assert d["confidence"] == 0.95  # type: ignore[index]
        lo, hi = d["spread_mj"]  # type: ignore[index]
        assert lo < d["energy_per_inference_mj"] < hi  # type: ignore[index]


def test_total_energy_coverage(trials: list[dict[str, object]]) -> None:
    held = sum(bool(r["tot_in"]) for r in trials)
    assert len(trials) == 100 and held >= 90, f"total energy: truth inside {held} of 100 intervals"


def test_dynamic_energy_coverage(trials: list[dict[str, object]]) -> None:
    held = sum(bool(r["dyn_in"]) for r in trials)
    assert held >= 90, f"dynamic energy: truth inside {held} of 100 intervals"


@pytest.mark.parametrize("case", [c.name for c in CASES])
def test_no_case_is_biased(trials: list[dict[str, object]], case: str) -> None:
    rows = [r for r in trials if r["case"] == case]
    missed = [r["seed"] for r in rows if not (r["tot_in"] and r["dyn_in"])]
    assert len(missed) <= 3, f"{case}: truth outside the interval for seeds {missed}"


def test_inference_count_is_exact(trials: list[dict[str, object]]) -> None:
    """N is counted from the events (batches by their n), never estimated."""
    for r in trials:
        assert r["d"]["n_inferences"] == r["n_true"], r["case"]  # type: ignore[index]


def test_warnings_are_documented_ones(trials: list[dict[str, object]]) -> None:
    for r in trials:
        causes = {w.split(":", 1)[0] for w in r["d"]["warnings"]}  # type: ignore[index]
        assert causes <= DOCUMENTED, (r["case"], causes)


def test_dvfs_step_is_named_from_the_env_events(trials: list[dict[str, object]]) -> None:
    """The env events say 1500 -> 600 MHz; the regime warning must name that, not guess."""
    for r in trials:
        if r["case"] != "dvfs-step":
            continue
        regime = [w for w in r["d"]["warnings"] if w.startswith("regime")]  # type: ignore[index]
        assert regime, "a 1500 -> 600 MHz step without a regime warning"
        assert any("1500 -> 600 MHz" in w for w in regime), regime


def test_per_regime_figures_hold_their_truth(trials: list[dict[str, object]]) -> None:
    """Each DVFS regime's dynamic energy interval holds that regime's truth (>= 8 of 10 each)."""
    held = {1500.0: 0, 600.0: 0}
    for r in trials:
        if r["case"] != "dvfs-step":
            continue
        regimes = r["d"]["regimes"]  # type: ignore[index]
        assert len(regimes) == 2
        for reg, freq in zip(regimes, (1500.0, 600.0), strict=True):
            held[freq] += bool(reg["dynamic_spread_mj"][0] <= r["per_freq"][freq][1] * 1e3  # type: ignore[index]
                               <= reg["dynamic_spread_mj"][1])
    assert min(held.values()) >= 8, held


def test_a_host_clock_is_not_moved_much(trials: list[dict[str, object]]) -> None:
    """The generator's host clock is exact: never 're-aligned as a meter clock', never a skew
    beyond 0.1 % (the old code found 'edges that do not line up' on short windows)."""
    host = {c.name for c in CASES if c.meter.clock == "host"}
    for r in trials:
        if r["case"] in host:
            clock = r["d"]["clock"]  # type: ignore[index]
            assert "meter clock" not in " ".join(r["d"]["warnings"]), r["case"]  # type: ignore[index]
            assert abs(clock["rate"] - 1.0) < 1e-3, (r["case"], clock)


@pytest.mark.parametrize("case", SLOW_CASES, ids=[c.name for c in SLOW_CASES])
def test_slow_meters_hold_the_truth_in_wide_intervals(tmp_path: Path, case: Case) -> None:
    """1 Hz and 10 Hz meters on 10 s windows: a figure whose interval holds the truth (>= 4 of 5
    seeds), only precision (and small clock) warnings, and the exact host clock kept (a 10 Hz
    point sampler was 'refined' to a 0.4 % skew before an edge's error counted the sampling)."""
    held = 0
    for seed in range(5):
        rec = make(case, seed, tmp_path)
        res = attribute_inprocess(rec.power, rec.events, "--json")
        assert res.rc == 0, res.err
        d, t = res.data, rec.schedule.truth
        held += (d["spread_mj"][0] <= t.total_j * 1e3 <= d["spread_mj"][1]
                 and d["dynamic_spread_mj"][0] <= t.dynamic_j * 1e3 <= d["dynamic_spread_mj"][1])
        causes = {w.split(":", 1)[0] for w in d["warnings"]}
        # a small host-clock refinement still happens now and then (AMBIGUITIES.md, left open 1)
        assert causes <= case.may_warn | {"clock"}, causes
        assert "meter clock" not in " ".join(d["warnings"])
        assert abs(d["clock"]["rate"] - 1.0) < 1e-3, d["clock"]
    assert held >= 4
