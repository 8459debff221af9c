"""Where the device turns score, threshold and SNR band into "unknown"
(``runtime.model.ModelRunner.predict``), at its boundaries (mutation round, ``scripts/mutation.sh
model``).

A tiny real ONNX model (zero weights, bias [0.5, 0.25, 0.25]) declared to output probabilities,
so the max-softmax score of every finite capture is exactly 0.5 (sum 1, no rounding): a threshold
of 0.5 accepts (``score < threshold`` is unknown), the next float above calls it unknown. Bands
are told apart by captures whose blind SNR estimate lies far on either side of the edge (white
noise, a tone 30 dB above it); the estimate is checked first with ``signals.snr`` itself, the
module the device reads it from (not the code under test here).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.backends import open_backend
from edgekit.bundle import load_bundle
from edgekit.errors import BundleError
from edgekit.runtime.model import ModelRunner, load_runner
from edgekit.signals.bands import BandThresholds
from edgekit.signals.ood import InputGuard
from edgekit.signals.preprocess import Pipeline
from edgekit.signals.snr import estimate_snr_db
from tests.runtime.bundles import pack_tiny_bundle

L = 256
RNG = np.random.default_rng(11)
UP = math.nextafter(0.5, 1.0)  # the next float above the score
DOWN = math.nextafter(0.5, 0.0)


def _model(path: Path, bias: list[float]) -> Path:
    g = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"]),
         helper.make_node("Gemm", ["flat", "W", "B"], ["probs"], transB=1)],
        "constant",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, L])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(np.zeros((3, 2 * L), np.float32), "W"),
         numpy_helper.from_array(np.array(bias, np.float32), "B")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _model(tmp_path_factory.mktemp("m") / "m.onnx", [0.5, 0.25, 0.25])


@pytest.fixture
def make(model_file: Path) -> Iterator:
    opened: list[ModelRunner] = []

    def _make(threshold: float | None, *, bands: BandThresholds | None = None,
              guard: InputGuard | None = None, input_name: str = "x", **kw) -> ModelRunner:
        r = ModelRunner("tiny", open_backend(model_file, threads=1), Pipeline.from_spec([]),
                        labels=["a", "b", "c"], input_name=input_name, output_index=0,
                        output_kind=kw.pop("output_kind", "probabilities"), ood_score="max_softmax",
                        ood_threshold=threshold, bands=bands, guard=guard, **kw)
        opened.append(r)
        return r

    yield _make
    for r in opened:
        r.close()


def _noise() -> np.ndarray:
    return RNG.normal(size=(1, 2, L)).astype(np.float32)


def _tone() -> np.ndarray:
    t = np.arange(L)
    noise = (RNG.normal(size=L) + 1j * RNG.normal(size=L)) / np.sqrt(2)
    z = 10 ** (30 / 20) * np.exp(2j * np.pi * 0.1 * t) + noise
    return np.stack([z.real, z.imag])[None].astype(np.float32)


NOISE, TONE = _noise(), _tone()


def _snr(x: np.ndarray) -> float:
    return float(np.atleast_1d(estimate_snr_db(x))[0])


def test_the_captures_lie_on_either_side_of_the_edge() -> None:
    assert _snr(NOISE) < -7.5 < _snr(TONE)


# --- one threshold --------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "unknown"), [(0.5, False), (UP, True), (DOWN, False),
                                                    (-math.inf, False), (1.0, True)])
def test_score_below_the_threshold_is_unknown_equal_is_not(make, threshold: float, unknown: bool) -> None:
    p = make(threshold).predict(NOISE)
    assert (p.score, p.confidence, p.label_index) == (0.5, 0.5, 0)
    assert p.unknown is unknown and p.guard is None


def test_no_threshold_never_calls_unknown(make) -> None:
    assert make(None).predict(NOISE).unknown is False


# --- per-band thresholds --------------------------------------------------------------------


def test_each_band_holds_the_capture_to_its_own_threshold(make) -> None:
    # the bundle's one threshold (1.0: everything unknown) is not used once there are bands
    r = make(1.0, bands=BandThresholds((-7.5,), (UP, 0.5)))
    assert r.predict(NOISE).unknown is True and r.predict(TONE).unknown is False
    r = make(1.0, bands=BandThresholds((-7.5,), (0.5, UP)))
    assert r.predict(NOISE).unknown is False and r.predict(TONE).unknown is True


def test_bands_apply_without_a_single_threshold(make) -> None:
    r = make(None, bands=BandThresholds((-7.5,), (UP, UP)))
    assert r.predict(TONE).unknown is True


def test_an_estimate_exactly_on_an_edge_takes_the_band_above(make) -> None:
    e = _snr(TONE)
    assert make(None, bands=BandThresholds((e,), (UP, 0.5))).predict(TONE).unknown is False
    assert make(None, bands=BandThresholds((math.nextafter(e, math.inf),), (UP, 0.5))
                ).predict(TONE).unknown is True


def test_three_bands_pick_the_middle_one(make) -> None:
    e = _snr(TONE)
    bt = BandThresholds((e - 1.0, e + 1.0), (0.5, UP, 0.5))
    assert make(None, bands=bt).predict(TONE).unknown is True
    bt = BandThresholds((e - 1.0, e + 1.0), (UP, 0.5, UP))
    assert make(None, bands=bt).predict(TONE).unknown is False


# --- the input guard in front ---------------------------------------------------------------

GUARD = InputGuard(rms_low=0.01, rms_high=100.0, silent_rms=1e-6, clip_level=1e9, max_clipped_fraction=0.5)


def test_a_refused_capture_is_unknown_whatever_the_score(make) -> None:
    silent = np.zeros((1, 2, L), np.float32)
    for threshold in (None, -math.inf, 0.5):
        p = make(threshold, guard=GUARD).predict(silent)
        assert p.unknown is True and p.guard == "silent"
        assert p.score == 0.5  # the model still ran: the journal keeps what it would have said
    p = make(0.5, guard=GUARD).predict(NOISE)
    assert p.unknown is False and p.guard is None


# --- what a prediction carries --------------------------------------------------------------


def test_the_label_is_the_top_output(make, tmp_path: Path) -> None:
    f = _model(tmp_path / "m2.onnx", [0.125, 0.25, 0.625])
    r = ModelRunner("m2", open_backend(f, threads=1), Pipeline.from_spec([]), labels=["a", "b", "c"],
                    input_name="x", output_index=0, output_kind="probabilities",
                    ood_score="max_softmax", ood_threshold=0.625)
    try:
        p = r.predict(NOISE)
        assert (p.label_index, p.confidence, p.score, p.unknown) == (2, 0.625, 0.625, False)
        assert p.preprocessed.shape == (1, 2, L) and np.array_equal(p.preprocessed, NOISE)
    finally:
        r.close()


def test_temperature_reaches_the_confidence(make, tmp_path: Path) -> None:
    # logits [0, ln 3, 0] at temperature 2: softmax top = sqrt(3) / (2 + sqrt(3))
    f = _model(tmp_path / "m3.onnx", [0.0, math.log(3.0), 0.0])
    r = ModelRunner("m3", open_backend(f, threads=1), Pipeline.from_spec([]), labels=["a", "b", "c"],
                    input_name="x", output_index=0, output_kind="logits", ood_score="max_softmax",
                    ood_threshold=None, temperature=2.0)
    try:
        p = r.predict(NOISE)
        want = math.sqrt(3.0) / (2.0 + math.sqrt(3.0))
        assert p.label_index == 1 and p.confidence == pytest.approx(want, rel=1e-6)
    finally:
        r.close()


def test_times_are_parts_of_the_call(make) -> None:
    r = make(0.5)
    t0 = time.perf_counter()
    p = r.predict(NOISE)
    wall = time.perf_counter() - t0
    # structure, not speed: each part is non-negative and the parts fit inside the call
    assert p.preprocess_s >= 0.0 and 0.0 <= p.score_s <= p.inference_s
    assert p.preprocess_s + p.inference_s <= wall


def test_a_single_output_model_runs_without_an_input_name(make) -> None:
    # output 0 and no features: the backend's own input, whatever the manifest named
    assert make(0.5, input_name="").predict(NOISE).score == 0.5


def test_non_finite_model_output_is_an_error_not_an_answer(make) -> None:
    x = NOISE.copy()
    x[0, 0, 3] = np.nan  # 0 * NaN = NaN: every output non-finite
    with pytest.raises(FloatingPointError, match=r"^tiny: the model returned non-finite scores$"):
        make(0.5).predict(x)


# --- refusals at load -----------------------------------------------------------------------


def _refuse(model_file: Path, **kw) -> str:
    args = {"labels": ["a", "b", "c"], "input_name": "x", "output_index": 0,
            "output_kind": "probabilities", "ood_score": "max_softmax", "ood_threshold": 0.5, **kw}
    b = open_backend(model_file, threads=1)
    try:
        with pytest.raises(BundleError) as e:
            ModelRunner("tiny", b, Pipeline.from_spec([]), **args)
    finally:
        b.close()
    return str(e.value)


def test_an_unknown_score_is_refused(model_file: Path) -> None:
    msg = _refuse(model_file, ood_score="odin")
    assert msg.startswith("tiny: OOD score 'odin' is unknown; accepted: max_softmax, ")


@pytest.mark.parametrize("kw", [{}, {"features_index": 1}])
def test_a_feature_score_needs_its_output_and_statistics(model_file: Path, kw: dict) -> None:
    msg = _refuse(model_file, ood_score="mahalanobis", **kw)
    assert msg == "tiny: OOD score 'mahalanobis' needs the features output and its statistics file"


def test_the_spectral_score_needs_its_statistics(model_file: Path) -> None:
    assert _refuse(model_file, ood_score="spectral") == "tiny: OOD score 'spectral' needs its statistics file"


@pytest.mark.parametrize("t", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_a_temperature_that_is_not_a_positive_number_is_refused(model_file: Path, t: float) -> None:
    assert _refuse(model_file, temperature=t) == f"tiny: temperature must be a number > 0, got {t!r}"


def test_the_smallest_positive_temperature_is_accepted(make) -> None:
    r = make(0.5, temperature=5e-324, output_kind="logits")
    assert r.temperature == 5e-324


# --- load_runner: which threshold and bands a bundle's variant gets --------------------------


def _bundle_runner(tmp: Path, model_file: Path, ood: dict) -> ModelRunner:
    return load_runner(load_bundle(pack_tiny_bundle(tmp, model_file, ood, {}, L)), None, threads=1)


def test_a_bundle_s_band_thresholds_reach_the_decision(tmp_path: Path, model_file: Path) -> None:
    # output kind logits in the tiny bundle: bias [0.5, 0.25, 0.25] as logits gives a top
    # softmax of e^.5 / (e^.5 + 2 e^.25); thresholds either side of it, per band
    top = math.exp(0.5) / (math.exp(0.5) + 2 * math.exp(0.25))
    ood = {"score": "max_softmax", "threshold": 0.0,
           "band_thresholds": {"snr_edges_db": [-7.5], "thresholds": [top + 1e-4, top - 1e-4]}}
    r = _bundle_runner(tmp_path, model_file, ood)
    try:
        assert r.bands == BandThresholds((-7.5,), (top + 1e-4, top - 1e-4))
        assert r.ood_threshold == 0.0 and r.temperature == 1.0
        low, high = r.predict(NOISE), r.predict(TONE)
        assert low.confidence == pytest.approx(top, rel=1e-6)
        assert low.unknown is True and high.unknown is False
    finally:
        r.close()
