"""TFLite backend helpers that need no converted model: layout detection and quantisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit.backends.tflite import (
    TFLiteLayout,
    _dequantize,
    _quantize,
    channels_last_perm,
    detect_permutation,
    invert_perm,
    layout_sidecar_path,
)
from edgekit.errors import ModelError


def test_channels_last_perms():
    assert channels_last_perm(3) == (0, 2, 1)
    assert channels_last_perm(4) == (0, 2, 3, 1)
    assert invert_perm((0, 2, 3, 1)) == (0, 3, 1, 2)


def test_detect_permutation_ncw_to_nwc_with_dynamic_batch():
    assert detect_permutation(("N", 2, 1024), (-1, 1024, 2)) == (0, 2, 1)
    assert detect_permutation(("N", 2, 1024), (-1, 2, 1024)) is None
    assert detect_permutation(("N", 3, 32, 32), (1, 32, 32, 3)) == (0, 2, 3, 1)


def test_detect_permutation_prefers_identity_when_ambiguous():
    assert detect_permutation((1, 4, 4), (1, 4, 4)) is None


def test_detect_permutation_refuses_unrelated_shapes():
    with pytest.raises(ModelError, match="cannot relate"):
        detect_permutation(("N", 2, 1024), (1, 512, 4))
    with pytest.raises(ModelError, match="rank"):
        detect_permutation(("N", 2, 1024), (1, 2048))


def test_layout_json_round_trip(tmp_path):
    layout = TFLiteLayout(
        input_perms=((0, 2, 1),),
        output_perms=(None, (0, 3, 1, 2)),
        output_order=(1, 0),
        input_names=("x",),
        output_names=("a", "b"),
    )
    side = layout_sidecar_path(tmp_path / "m_fp32.tflite")
    assert side.name == "m_fp32.layout.json"
    side.write_text(layout.to_json())
    assert TFLiteLayout.from_json(side.read_text(), side) == layout


def test_malformed_layout_sidecar_names_the_file():
    with pytest.raises(ModelError, match=r"m\.layout\.json: malformed"):
        TFLiteLayout.from_json('{"input_perms": [["a"]]}', Path("m.layout.json"))


@pytest.mark.parametrize(("dtype", "zero"), [(np.int8, -3), (np.uint8, 128)])
def test_quantise_then_dequantise_is_within_half_a_step(dtype, zero):
    scale = 0.02
    detail = {"dtype": dtype, "quantization": (scale, zero)}
    info = np.iinfo(dtype)
    lo, hi = (info.min - zero) * scale, (info.max - zero) * scale
    x = np.random.default_rng(0).uniform(lo, hi, 1000).astype(np.float32)
    q = _quantize(x, detail)
    assert q.dtype == dtype
    back = _dequantize(q, detail)
    assert back.dtype == np.float32
    assert np.max(np.abs(back - x)) <= scale / 2 + 1e-6


def test_quantise_saturates_out_of_range():
    detail = {"dtype": np.int8, "quantization": (0.1, 0)}
    q = _quantize(np.array([1e6, -1e6], np.float32), detail)
    assert q.tolist() == [127, -128]


def test_float_tensors_pass_through():
    detail = {"dtype": np.float32, "quantization": (0.0, 0)}
    x = np.ones(3, np.float32)
    assert _quantize(x, detail) is x
    assert _dequantize(x.astype(np.float16), detail).dtype == np.float32
