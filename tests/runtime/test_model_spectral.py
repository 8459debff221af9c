"""The daemon applies the bundle's ``spectral`` OOD score from the raw capture: a real bundle
(written and verified by edgekit.bundle) around a tiny ONNX model, its score equal to the one the
build's scoring computes on the same capture, and to scipy's Mahalanobis distance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from scipy.spatial.distance import mahalanobis

from edgekit.bundle import load_bundle
from edgekit.errors import BundleError
from edgekit.runtime.model import decode_iq, load_runner
from edgekit.signals.ood import FeatureStats, l2_normalise, save_stats
from edgekit.signals.scores import ood_scores
from edgekit.signals.snr import estimate_snr_db
from edgekit.signals.spectral import CP_BANK, cp_evidence, fit_spectral, psd_features, save_spectral
from tests.runtime.bundles import pack_tiny_bundle

L = 256
RNG = np.random.default_rng(0)
W = RNG.normal(size=(3, 2 * L)).astype(np.float32)


def _noise(n: int, lowpass: bool) -> np.ndarray:
    w = RNG.normal(size=(n, L + 1)) + 1j * RNG.normal(size=(n, L + 1))
    z = w[:, 1:] + w[:, :-1] if lowpass else w[:, 1:]
    return np.stack([z.real, z.imag], axis=1).astype(np.float32)


FIT_X = _noise(300, lowpass=False)
STATS = fit_spectral(FIT_X, np.zeros(300, int), 3, cp_bank=CP_BANK)  # with the optional column


def _model(path: Path) -> None:
    g = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"]),
         helper.make_node("Gemm", ["flat", "W"], ["logits"], transB=1)],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, L])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(W, "W")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))


def _bundle(tmp: Path, ood: dict, stats_file: str | None) -> Path:
    src = tmp / "src"
    src.mkdir()
    _model(src / "m.onnx")
    if stats_file == "spectral":
        save_spectral(STATS, src / "s.npz")
    elif stats_file == "features":
        save_stats(FeatureStats(np.zeros((3, 4)), np.eye(4), l2_normalise(np.ones((2, 4))), 1),
                   src / "s.npz")
    extra = {} if stats_file is None else {"variants/onnx-fp32.spectral.npz": src / "s.npz"}
    return pack_tiny_bundle(tmp, src / "m.onnx", ood, extra, L)


def test_the_device_computes_the_build_s_spectral_score_on_the_same_capture(tmp_path: Path):
    ind = STATS.score(_noise(200, lowpass=False))
    threshold = float(np.quantile(ind, 0.05))  # as the build's ood stage sets it
    ood = {"score": "spectral", "threshold": threshold, "temperature": 1.0, "features_output": None,
           "statistics": "variants/onnx-fp32.spectral.npz"}
    runner = load_runner(load_bundle(_bundle(tmp_path, ood, "spectral")), None, threads=1)
    try:
        for x, unknown in ((_noise(1, lowpass=False), False), (_noise(1, lowpass=True), True)):
            # the capture as the daemon gets it: int16 I/Q decoded at full scale 16
            iq = np.round(x[0].T / 16.0 * 32767).astype(np.int16)
            xd = decode_iq(iq, 16.0)
            p = runner.predict(xd)
            logits = W.astype(np.float64) @ xd.reshape(-1).astype(np.float64)
            _, build = ood_scores(logits[None, :], "spectral", "logits", raw=xd, spectral=STATS)
            assert p.score == pytest.approx(float(build[0]), rel=1e-9, abs=1e-9)
            # independently: the band from the blind SNR estimate, scipy's distance, standardised
            k = int(np.searchsorted(STATS.edges, estimate_snr_db(xd)[0], side="right"))
            # the PSD and the cyclic-prefix column (tested against its definition in
            # tests/signals/test_spectral.py)
            z = xd[:, 0].astype(np.float64) + 1j * xd[:, 1].astype(np.float64)  # (1, L)
            f = np.r_[psd_features(xd)[0], cp_evidence(z)]
            # each class: its own precision; log det of the covariance = -log det of it (numpy)
            d = -min(
                mahalanobis(f, m, prec) ** 2 - np.linalg.slogdet(prec)[1]
                for m, prec in zip(STATS.means[k], STATS.precision[k], strict=True)
            )
            assert p.score == pytest.approx((d - STATS.centre[k]) / STATS.scale[k], rel=1e-6)
            assert p.unknown is unknown and p.label_index == int(np.argmax(logits))
            # the score's time is counted in what the daemon records (inference_s) and apart
            assert 0.0 < p.score_s <= p.inference_s
    finally:
        runner.close()


def test_the_spectral_score_without_its_statistics_is_refused(tmp_path: Path):
    ood = {"score": "spectral", "threshold": -1.0}
    with pytest.raises(BundleError, match="'spectral' needs its statistics file"):
        load_runner(load_bundle(_bundle(tmp_path, ood, None)), None, threads=1)


def test_a_feature_statistics_file_is_not_taken_for_spectral_ones(tmp_path: Path):
    ood = {"score": "spectral", "threshold": -1.0, "statistics": "variants/onnx-fp32.spectral.npz"}
    with pytest.raises(BundleError, match=r"spectral\.npz: missing array 'kind'"):
        load_runner(load_bundle(_bundle(tmp_path, ood, "features")), None, threads=1)


@pytest.mark.parametrize("below", [True, False])
def test_band_thresholds_use_the_spectral_score_s_own_snr_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, below: bool
):
    """With the spectral score and per-band thresholds the device computes one blind SNR
    estimate per capture (the score's), not a second one, and holds the capture to its band's
    threshold: an edge 1 dB above the capture's estimate puts it in the low band, 1 dB below in
    the rest."""
    x = _noise(1, lowpass=False)
    s, snr = float(STATS.score(x)[0]), float(estimate_snr_db(x)[0])
    edge = snr + 1.0 if below else snr - 1.0
    # the low band's threshold is just above this capture's score, the rest's well below it
    ood = {"score": "spectral", "threshold": s - 1.0, "temperature": 1.0, "features_output": None,
           "statistics": "variants/onnx-fp32.spectral.npz",
           "band_thresholds": {"snr_edges_db": [edge], "thresholds": [s + 1e-6, s - 1.0]}}
    runner = load_runner(load_bundle(_bundle(tmp_path, ood, "spectral")), None, threads=1)

    def second_estimate(_x: np.ndarray) -> np.ndarray:
        raise AssertionError("a second SNR estimate for a capture the spectral score banded")

    monkeypatch.setattr("edgekit.runtime.model.estimate_snr_db", second_estimate)
    try:
        p = runner.predict(x)
        assert p.score == pytest.approx(s, rel=1e-9) and p.unknown is below
    finally:
        runner.close()
