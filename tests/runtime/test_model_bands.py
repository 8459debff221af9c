"""The daemon applies per-SNR-band thresholds (manifest ``ood.band_thresholds``) by the capture's
own blind SNR estimate, and a bundle with one threshold keeps working as before: a real bundle
(written and verified by edgekit.bundle) around a tiny ONNX model whose max-softmax confidence is
3/5 for every capture (zero weights, bias [0, ln 3, 0])."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgekit.bundle import load_bundle
from edgekit.errors import BundleError
from edgekit.runtime.model import load_runner
from tests.runtime.bundles import pack_tiny_bundle

L = 256
RNG = np.random.default_rng(3)


def _model(path: Path) -> None:
    g = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"]),
         helper.make_node("Gemm", ["flat", "W", "B"], ["logits"], transB=1)],
        "constant",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, L])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(np.zeros((3, 2 * L), np.float32), "W"),
         numpy_helper.from_array(np.array([0.0, math.log(3.0), 0.0], np.float32), "B")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))


def _runner(tmp: Path, ood: dict):
    src = tmp / "src"
    src.mkdir()
    _model(src / "m.onnx")
    return load_runner(load_bundle(pack_tiny_bundle(tmp, src / "m.onnx", ood, {}, L)), None, threads=1)


def _noise() -> np.ndarray:
    """White noise alone: no signal above the floor, the estimate far below -7.5 dB."""
    return RNG.normal(size=(1, 2, L)).astype(np.float32)


def _tone() -> np.ndarray:
    """A tone 30 dB above white noise: the estimate far above -7.5 dB."""
    t = np.arange(L)
    noise = (RNG.normal(size=L) + 1j * RNG.normal(size=L)) / np.sqrt(2)
    z = 10 ** (30 / 20) * np.exp(2j * np.pi * 0.1 * t) + noise
    return np.stack([z.real, z.imag])[None].astype(np.float32)


def test_each_capture_is_held_to_its_bands_threshold(tmp_path: Path):
    # confidence 0.6 everywhere: below -7.5 dB the threshold 0.7 calls it unknown, above 0.5 not
    ood = {"score": "max_softmax", "threshold": 0.5,
           "band_thresholds": {"snr_edges_db": [-7.5], "thresholds": [0.7, 0.5]}}
    runner = _runner(tmp_path, ood)
    try:
        low, high = runner.predict(_noise()), runner.predict(_tone())
        assert low.confidence == pytest.approx(0.6) and high.confidence == pytest.approx(0.6)
        assert low.unknown and not high.unknown
    finally:
        runner.close()


def test_a_bundle_with_one_threshold_applies_it_to_every_capture(tmp_path: Path):
    runner = _runner(tmp_path, {"score": "max_softmax", "threshold": 0.5})
    try:
        assert runner.bands is None
        assert not runner.predict(_noise()).unknown and not runner.predict(_tone()).unknown
    finally:
        runner.close()


def test_band_thresholds_the_device_cannot_apply_are_refused(tmp_path: Path):
    # one threshold short of the two bands: the bundle's schema check names the key (writing and
    # verifying it), so a daemon never meets it
    ood = {"score": "max_softmax", "threshold": 0.5,
           "band_thresholds": {"snr_edges_db": [-7.5], "thresholds": [0.7]}}
    with pytest.raises(BundleError, match=r"variants\[0\]\.ood\.band_thresholds: expected an object"):
        _runner(tmp_path, ood)
