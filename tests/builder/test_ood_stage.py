"""The features and ood stages on the reference CNN with small data: the penultimate tensor is
found and carried, every score measured on the choice half and reported on the held-out half, the
choice follows the rule, and the statistics and temperature land where the bundle expects them."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from edgekit.builder.stages.context import BuildOptions, Run, StageTimer
from edgekit.builder.stages.load import load
from edgekit.builder.stages.ood import CHOICE_TIE, features, ood
from edgekit.builder.stages.ood_bands import apply_bands
from edgekit.builder.stages.validate import validate
from edgekit.builder.stages.variants import build_variants
from edgekit.config import load_config, parse_config
from edgekit.errors import ConfigError
from edgekit.results import OodScoreRow
from edgekit.signals.ood import load_stats
from edgekit.signals.snr import estimate_snr_db, white_noise_bias
from edgekit.signals.spectral import CP_BANK, SNR_EDGES_DB, SPECTRAL_BINS, load_spectral
from tests.builder.conftest import REF, reference_config


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("ood")
    # the reference config sets ood.low_snr_db = -7.5, so the per-band path is built
    cfg_path = reference_config(tmp, eval_n=720, runs=5, cal_n=600, audit=False)
    cfg = load_config(cfg_path)
    opts = BuildOptions(out_dir=tmp / "out", log=lambda _m: None)
    for d in ("staging/variants", "scratch"):
        (tmp / d).mkdir(parents=True)
    run = Run(cfg, opts, ["onnx-fp32"], StageTimer(opts), tmp / "staging",
              tmp / "staging" / "variants", tmp / "scratch", [], "now", time.perf_counter())
    for stage in (load, features, build_variants, validate, ood):
        run = stage(run)
    return run


def test_the_penultimate_tensor_is_the_gemm_input_and_an_output_of_the_variant(measured: Run):
    original = onnx.load(str(REF / "model.onnx"))
    gemms = [n for n in original.graph.node if n.op_type == "Gemm"]
    assert len(gemms) == 1  # the reference CNN has one linear layer: its input is the answer
    assert measured.features_tensor == gemms[0].input[0]
    variant = onnx.load(str(measured.work / "onnx-fp32.onnx"))
    names = [o.name for o in variant.graph.output]
    assert names[0] == "logits" and names[measured.features_index or 0] == gemms[0].input[0]


def test_every_score_measured_and_the_choice_follows_the_rule(measured: Run):
    vr = measured.built[0]
    rep = vr.ood_report
    assert rep is not None and rep.choice_family == "ofdm"
    assert rep.heldout_families == ["ofdm", "fhss"]
    assert [r.score for r in rep.rows] == ["max_softmax", "energy", "mahalanobis", "knn", "spectral"]
    assert all(r.available and r.auroc is not None and 0 <= r.auroc <= 1 for r in rep.rows)
    best = max(r.unknown_rate or 0 for r in rep.rows)
    chosen = [r for r in rep.rows if r.chosen]
    assert len(chosen) == 1 and (chosen[0].unknown_rate or 0) >= best - CHOICE_TIE
    # the halves: 720 rows, 60 per class, 600 in distribution split evenly by row parity
    assert rep.n_choice_in_distribution + rep.n_heldout_in_distribution == 600
    for r in rep.rows:
        # the threshold accepts 95 % of the choice half's 300 rows; the held-out half's share
        # is a fresh estimate (the 5 % tail of 300 rows is noisy: +-10 points seen here)
        assert r.heldout_accept_rate is not None and 0.8 <= r.heldout_accept_rate <= 1.0
        assert set(r.heldout_unknown) == {"ofdm", "fhss"}
    assert vr.accuracy is not None and vr.accuracy.ood is not None
    assert vr.accuracy.ood.score == chosen[0].score
    assert vr.accuracy.ood.threshold == chosen[0].threshold


def test_manifest_rule_statistics_and_temperature(measured: Run):
    vr = measured.built[0]
    rule = vr.meta["ood"]
    assert rule["score"] == next(r.score for r in (vr.ood_report.rows if vr.ood_report else []) if r.chosen)
    assert vr.calibration is not None and rule["temperature"] == vr.calibration.temperature > 0
    assert vr.calibration.n_fit == 600 and vr.calibration.ece_after >= 0
    if rule["score"] in ("mahalanobis", "knn"):
        stats = load_stats(measured.staging / rule["statistics"])
        assert stats.means.shape == (10, 96) and rule["statistics"] in [
            f"variants/{e}" for e in vr.meta["extra_files"]
        ]
    elif rule["score"] == "spectral":
        spectral = load_spectral(measured.staging / rule["statistics"])
        # the PSD bins, per SNR band and class; no cyclic-prefix column unless configured
        assert spectral.means.shape == (len(SNR_EDGES_DB) + 1, 10, SPECTRAL_BINS)
        assert spectral.bank == () and rule["statistics"] in [
            f"variants/{e}" for e in vr.meta["extra_files"]
        ]
    else:
        assert rule["statistics"] is None
    guard = rule["input_guard"]
    assert guard["rms_low"] < guard["rms_high"] and guard["clip_level"] == pytest.approx(0.999 * 16.0)
    assert vr.ood_report is not None and vr.ood_report.guard_false_reject_rate == 0.0
    assert all(v == 1.0 for v in vr.ood_report.guard.values())


def test_config_refuses_bad_ood_keys(tmp_path: Path):
    base = {"model": {"path": "m.onnx"}, "data": {"ood_classes": ["ofdm"]}}
    with pytest.raises(ConfigError, match=r"ood\.knn_k"):
        parse_config({**base, "ood": {"knn_k": 0}})
    with pytest.raises(ConfigError, match=r"ood\.choose_on"):
        parse_config({**base, "ood": {"choose_on": "fhss"}})
    with pytest.raises(ConfigError, match=r"ood\.score"):
        parse_config({**base, "ood": {"score": "odin"}})
    assert parse_config({**base, "ood": {"score": "spectral"}}).ood.score == "spectral"
    with pytest.raises(ConfigError, match=r"ood\.low_snr_db: must be in -30\.\.60 dB"):
        parse_config({**base, "ood": {"low_snr_db": -40}})
    with pytest.raises(ConfigError, match=r"ood\.low_snr_min_accept: must be in \(0, 1\]"):
        parse_config({**base, "ood": {"low_snr_min_accept": 0}})
    with pytest.raises(ConfigError, match=r"ood\.low_snr_db"):
        parse_config({**base, "ood": {"low_snr_db": "low"}})
    assert parse_config(base).ood.low_snr_db is None  # one threshold unless asked for
    assert parse_config(base).ood.cyclic_prefix is False  # no OFDM knowledge unless asked for
    assert parse_config({**base, "ood": {"cyclic_prefix": True}}).ood.cyclic_prefix is True
    with pytest.raises(ConfigError, match=r"ood\.cyclic_prefix"):
        parse_config({**base, "ood": {"cyclic_prefix": "yes"}})
    assert np.isfinite(parse_config({**base, "ood": {"score": "auto"}}).ood.target_in_distribution_accept)


def test_per_band_thresholds_are_what_the_device_reproduces(measured: Run):
    """The reference config's ood.low_snr_db = -7.5: the manifest carries two thresholds, the
    low band keeps its floor on the choice half, and the device's rule (the shipped statistics,
    the capture's own SNR estimate, the band's threshold) accepts exactly the evaluation rows the
    build counted as accepted."""
    vr = measured.built[0]
    rule = vr.meta["ood"]
    bands = rule["band_thresholds"]
    assert bands["snr_edges_db"] == [-7.5] and len(bands["thresholds"]) == 2
    assert rule["threshold"] == bands["thresholds"][1]
    row = next(r for r in (vr.ood_report.rows if vr.ood_report else []) if r.chosen)
    assert [b.band for b in row.bands] == ["< -7.5 dB", ">= -7.5 dB"]
    assert (row.bands[0].choice_accept_rate or 0) >= 0.85
    assert row.single_heldout_accept_rate is not None and set(row.single_heldout_unknown) == {"ofdm", "fhss"}
    assert rule["score"] == "spectral"  # the only score calling much OFDM unknown on this data
    x = measured.need(measured.eval_ds, "eval_ds").x
    score = load_spectral(measured.staging / rule["statistics"]).score(x)
    snr = estimate_snr_db(x)
    device = score >= np.where(snr < -7.5, bands["thresholds"][0], bands["thresholds"][1])
    assert np.array_equal(device, measured.accepted[vr.name])
    # the held-out acceptance is the band rows' own, weighted by their counts
    n = sum(b.n_heldout_in_distribution for b in row.bands)
    mean = sum((b.heldout_accept_rate or 0) * b.n_heldout_in_distribution for b in row.bands) / n
    assert row.heldout_accept_rate == pytest.approx(mean)


def test_the_spectral_file_ships_the_snr_bias_the_build_calibrated_with(measured: Run):
    """The build's thresholds were computed with this process's white-noise bias for its
    capture length; the file carries that value (float64, to the bit) for the device."""
    rule = measured.built[0].meta["ood"]
    assert rule["score"] == "spectral"
    length = measured.need(measured.eval_ds, "eval_ds").x.shape[2]
    with np.load(measured.staging / rule["statistics"]) as z:
        assert int(z["version"]) == 2
        assert z["snr_bias"].tolist() == [length, 32, white_noise_bias(length, 32)]


def test_band_thresholds_and_held_out_figures_counted_by_hand():
    """Choice half: 50 in-distribution scores 0..49 below -7.5 dB, 50 scores 100..149 above, and
    five OFDM scores 0.5..4.5 below. 90 % of 100 accepted leaves 10 to reject; five below the
    edge catch all five OFDM (fewer catch fewer), so the thresholds are 5 (the 6th lowest) and
    105 (the 6th lowest above). Held out: in-distribution 3 and 10 below (3 unknown), 104 and
    106 above (104 unknown); OFDM 4.9 below and 104.9 above, both unknown."""
    choice_s = np.r_[np.arange(50.0), np.arange(100.0, 150.0), np.arange(5) + 0.5]
    choice_snr = np.r_[np.full(50, -10.0), np.full(50, 0.0), np.full(5, -10.0)]
    choice_names = np.array(["a", "b"] * 50 + ["ofdm"] * 5)
    held_s = np.array([3.0, 10.0, 104.0, 106.0, 4.9, 104.9])
    held_snr = np.array([-10.0, -10.0, 0.0, 0.0, -10.0, 0.0])
    held_names = np.array(["a", "b", "a", "b", "ofdm", "ofdm"])
    s, snr, names = np.r_[choice_s, held_s], np.r_[choice_snr, held_snr], np.r_[choice_names, held_names]
    half = np.r_[np.ones(105, bool), np.zeros(6, bool)]
    row = OodScoreRow("spectral", True, threshold=0.0, heldout_accept_rate=1.0,
                      heldout_unknown={"ofdm": 0.0}, chosen=True)
    bt = apply_bands(row, s, snr, names, names != "ofdm", names == "ofdm", half, "ofdm", ["ofdm"],
                     edge_db=-7.5, target=0.9, min_low_accept=0.8)
    assert bt is not None and bt.thresholds == (5.0, 105.0) and row.threshold == 105.0
    assert row.heldout_accept_rate == 0.5 and row.heldout_unknown == {"ofdm": 1.0}
    assert row.single_heldout_accept_rate == 1.0 and row.single_heldout_unknown == {"ofdm": 0.0}
    low, rest = row.bands
    assert (low.band, low.threshold, low.choice_accept_rate) == ("< -7.5 dB", 5.0, 0.9)
    assert low.n_heldout_in_distribution == 2 and low.heldout_accept_rate == 0.5
    assert low.heldout_unknown == {"ofdm": 1.0}
    assert (low.heldout_worst_class, low.heldout_worst_class_accept) == ("a", 0.0)
    assert (rest.band, rest.threshold, rest.choice_accept_rate) == (">= -7.5 dB", 105.0, 0.9)
    assert (rest.heldout_accept_rate, rest.heldout_unknown) == (0.5, {"ofdm": 1.0})
    # one threshold rejecting 10 (the 11th lowest, 10) catches the five as well on the choice half
    assert "(5 against 5 with one threshold" in row.band_rule


class _Fitted(Exception):
    """Stops the stage right after the spectral fit was asked for."""


def test_the_cyclic_prefix_column_is_fitted_only_when_configured(
    measured: Run, monkeypatch: pytest.MonkeyPatch
):
    """ood.cyclic_prefix is the only way the OFDM numerology bank reaches the spectral fit."""
    banks: list[Any] = []

    def fit(raw: np.ndarray, y: np.ndarray, n_classes: int, cp_bank: Any = "default") -> Any:
        banks.append(cp_bank)
        raise _Fitted

    # the module, not the stage function the package exports under the same name
    monkeypatch.setattr(sys.modules["edgekit.builder.stages.ood"], "fit_spectral", fit)
    for flag in (False, True):
        cfg = replace(measured.cfg, ood=replace(measured.cfg.ood, cyclic_prefix=flag))
        with pytest.raises(_Fitted):
            ood(replace(measured, cfg=cfg))
    assert banks == [(), CP_BANK] and len(CP_BANK) == 8


def test_model_based_fits_read_at_most_model_fit_max_rows_spread_over_the_set():
    """Up to the cap every row, in order; above it exactly the cap, distinct, increasing, drawn
    from the whole set (both ends' tenths represented) and the same on every call."""
    from edgekit.builder.stages.ood import MODEL_FIT_MAX, model_fit_rows

    assert MODEL_FIT_MAX == 3000
    assert model_fit_rows(5).tolist() == [0, 1, 2, 3, 4]
    assert model_fit_rows(3000).tolist() == list(range(3000))
    rows = model_fit_rows(12000)
    assert len(rows) == 3000 == len(set(rows.tolist())) and np.all(np.diff(rows) > 0)
    assert rows.min() < 1200 and rows.max() >= 10800 and rows.min() >= 0 and rows.max() < 12000
    assert np.array_equal(rows, model_fit_rows(12000))
    assert len(model_fit_rows(3001)) == 3000 and model_fit_rows(10, cap=4).tolist() != [0, 1, 2, 3]
