"""load_source: .npz paths (relative to a config folder) and synthetic recipes."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.data.dataset import load_source, save_npz
from edgekit.data.synth import generate
from edgekit.errors import DataError


def test_recipe_equals_generate():
    ds = load_source("synthetic:rf?n=120&seed=7&snr=-5,15&classes=bpsk,qpsk,ofdm")
    ref = generate(120, seed=7, snr_range_db=(-5.0, 15.0), classes=("bpsk", "qpsk", "ofdm"))
    np.testing.assert_array_equal(ds.x, ref.x)
    np.testing.assert_array_equal(ds.y, ref.y)
    assert set(ds.meta["class"]) == {"bpsk", "qpsk", "ofdm"}


def test_recipe_optional_params():
    ds = load_source("synthetic:rf?n=50&seed=1&cfo=0&multipath=0&drift=0")
    assert np.all(ds.meta["cfo_hz"] == 0) and not ds.meta["multipath"].any()
    default = load_source("synthetic:rf?seed=1&n=50")
    assert len(default) == 50 and "ofdm" not in set(default.meta["class"])


def test_path_relative_to_base_dir(tmp_path):
    ds = generate(10, seed=2)
    (tmp_path / "sub").mkdir()
    save_npz(ds, tmp_path / "sub" / "d.npz")
    back = load_source("sub/d.npz", base_dir=tmp_path)
    np.testing.assert_array_equal(back.x, ds.x)
    absolute = load_source(str(tmp_path / "sub" / "d.npz"), base_dir=tmp_path / "elsewhere")
    assert len(absolute) == 10
    with pytest.raises(DataError, match="no such dataset file"):
        load_source("sub/d.npz", base_dir=tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("http://example.com/d.npz", "unknown scheme 'http'"),
        ("synthetic:audio?n=5&seed=1", "unknown synthetic kind 'audio'"),
        ("synthetic:rf?seed=1", "missing required param 'n'"),
        ("synthetic:rf?n=5", "missing required param 'seed'"),
        ("synthetic:rf?n=5&seed=1&colour=red", "unknown param 'colour'"),
        ("synthetic:rf?n=five&seed=1", "n='five' is not an integer"),
        ("synthetic:rf?n=0&seed=1", "out of range"),
        ("synthetic:rf?n=5&seed=-1", "out of range"),
        ("synthetic:rf?n=5&seed=1&snr=3", "snr='3' must be two numbers"),
        ("synthetic:rf?n=5&seed=1&snr=9,3", "A <= B"),
        ("synthetic:rf?n=5&seed=1&classes=bpsk,wifi", "unknown class.*wifi.*accepted: noise"),
        ("synthetic:rf?n=5&seed=1&multipath=2", "multipath='2' is out of range"),
        ("synthetic:rf?n=5&seed=1&n=6", "given twice"),
    ],
)
def test_recipe_errors_name_spec_and_accepted(spec, message):
    with pytest.raises(DataError, match=message) as info:
        load_source(spec)
    text = str(info.value)
    assert spec in text and "\n" not in text
    if "param" in message or "out of range" in message:
        assert "accepted params: n, seed, snr, classes, cfo, multipath, drift" in text
