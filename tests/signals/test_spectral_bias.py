"""The blind SNR estimator's white-noise bias shipped in the spectral statistics file (version 2):
the value written is the one the build process used, it equals a fresh computation typed out here
on scipy's welch (a known answer independent of ``signals.snr``), a loaded file's value is the one
the device then uses without measuring its own, a version-1 file (no bias) still loads and
measures it as before, and malformed values are refused in one line naming the file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from edgekit.errors import BundleError
from edgekit.signals import snr
from edgekit.signals.spectral import SpectralStats, load_spectral, save_spectral

B = 32  # PSD bins: the estimator's segment length, so the score and the estimate share a PSD


def _fresh_bias(length: int, nperseg: int) -> float:
    """The documented bias computed here: 2000 captures of complex white noise from seed
    20261129 (all real parts, then all imaginary parts), scipy's two-sided Welch PSD, the mean
    of the lowest quarter of the bins over the mean of all of them, averaged."""
    rng = np.random.default_rng(20261129)
    z = rng.standard_normal((2000, length)) + 1j * rng.standard_normal((2000, length))
    p = signal.welch(z, nperseg=nperseg, detrend=False, return_onesided=False, axis=-1)[1]
    k = max(1, round(p.shape[1] / 4))
    return float(np.mean(np.sort(p, axis=1)[:, :k].mean(axis=1) / p.mean(axis=1)))


@pytest.fixture
def biases(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[int, int], float]:
    """An empty bias table for this test (a loaded file changes the whole process's)."""
    table: dict[tuple[int, int], float] = {}
    monkeypatch.setattr(snr, "_BIASES", table)
    return table


def _stats() -> SpectralStats:
    """Statistics of the right shapes (two bands, three classes, no cyclic-prefix column)."""
    rng = np.random.default_rng(3)
    return SpectralStats(np.array([0.0]), rng.normal(size=(2, 3, B)),
                         np.tile(np.eye(B), (2, 3, 1, 1)), np.zeros((2, 3)),
                         np.array([-40.0, -30.0]), np.array([7.0, 5.0]))


def _capture(length: int, seed: int) -> np.ndarray:
    """A tone 6 dB over complex white noise, (1, 2, length)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    z = 2.0 * np.exp(2j * np.pi * 0.13 * t) + rng.standard_normal(length) + 1j * rng.standard_normal(length)
    return np.stack([z.real, z.imag])[None]


@pytest.mark.parametrize(("length", "nperseg"), [(1024, 32), (100, 7), (40, 32)])
def test_the_measured_bias_is_the_documented_one(biases, length: int, nperseg: int):
    fresh = _fresh_bias(length, nperseg)
    assert snr.measure_white_noise_bias(length, nperseg) == pytest.approx(fresh, rel=1e-12)
    assert snr.white_noise_bias(length, nperseg) == pytest.approx(fresh, rel=1e-12)
    assert biases == {(length, nperseg): snr.measure_white_noise_bias(length, nperseg)}


def test_the_file_ships_the_bias_this_process_used_and_equals_a_fresh_computation(biases, tmp_path):
    used = snr.white_noise_bias(1024, 32)  # what the build's calibration read
    save_spectral(_stats(), tmp_path / "s.npz", capture_length=1024)
    with np.load(tmp_path / "s.npz") as z:
        assert int(z["version"]) == 2 and z["snr_bias"].dtype == np.float64
        length, nperseg, shipped = z["snr_bias"].tolist()
    assert (length, nperseg, shipped) == (1024, 32, used)
    assert shipped == pytest.approx(_fresh_bias(1024, 32), rel=1e-12)  # the known answer
    save_spectral(_stats(), tmp_path / "again.npz", capture_length=1024)
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "s.npz").read_bytes()


def test_a_new_process_uses_the_shipped_bias_and_measures_none(biases, tmp_path):
    """A fresh interpreter (as the daemon) loads the file and scores a capture with the
    measurement made to fail: the shipped value is the one in use, to the bit."""
    save_spectral(_stats(), tmp_path / "s.npz", capture_length=1024)
    shipped = snr.white_noise_bias(1024, 32)
    script = f"""
import json, numpy as np
from pathlib import Path
from edgekit.signals import snr
from edgekit.signals.spectral import load_spectral
def refuse(*a):
    raise RuntimeError("measured at load")
snr.measure_white_noise_bias = refuse
stats = load_spectral(Path({str(tmp_path / "s.npz")!r}))
stats.score_and_snr(np.zeros((1, 2, 1024)) + np.arange(1024) % 7)
print(json.dumps([[*k, v.hex()] for k, v in snr._BIASES.items()]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [[1024, 32, shipped.hex()]]


def test_the_loaded_bias_is_the_one_the_estimate_divides_by(biases, tmp_path):
    """A file whose bias is half the measured one: the noise floor doubles, so the linear
    (SNR + 1) = total x bias / floor halves."""
    x = _capture(1024, 5)
    before = float(snr.estimate_snr_db(x)[0])
    arrays = dict(np.load(_saved(tmp_path, 1024)))
    arrays["snr_bias"] = arrays["snr_bias"] * np.array([1.0, 1.0, 0.5])
    np.savez(tmp_path / "half.npz", **arrays)
    load_spectral(tmp_path / "half.npz")
    after = float(snr.estimate_snr_db(x)[0])
    assert 10 ** (after / 10) + 1 == pytest.approx((10 ** (before / 10) + 1) / 2, rel=1e-9)


def _saved(tmp_path: Path, length: int | None) -> Path:
    path = tmp_path / f"saved-{length}.npz"
    save_spectral(_stats(), path, capture_length=length)
    return path


def test_a_file_without_the_bias_loads_and_the_bias_is_measured_as_before(biases, tmp_path):
    arrays = dict(np.load(_saved(tmp_path, None)))
    assert "snr_bias" not in arrays and int(arrays["version"]) == 2
    version_1 = {k: v for k, v in arrays.items() if k != "version"}  # an earlier edgekit's file
    np.savez(tmp_path / "v1.npz", **version_1)
    for name in ("saved-None.npz", "v1.npz"):
        assert load_spectral(tmp_path / name).bins == B and biases == {}
    load_spectral(tmp_path / "v1.npz").score_and_snr(_capture(256, 1))
    assert biases[(256, 32)] == pytest.approx(_fresh_bias(256, 32), rel=1e-12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": np.array(3)}, r"version 3; this edgekit reads versions 1 to 2: a newer edgekit"),
        ({"version": np.array(0)}, r"version 0; this edgekit reads versions 1 to 2"),
        ({"snr_bias": np.array([1024.0, 32.0])}, r"snr_bias \[1024\.0, 32\.0\]; expected \[capture"),
        ({"snr_bias": np.array([1024.0, 16.0, 0.8])}, r"snr_bias .*min\(32, length\)"),
        ({"snr_bias": np.array([24.0, 32.0, 0.8])}, r"snr_bias \[24\.0, 32\.0, 0\.8\]"),
        ({"snr_bias": np.array([0.0, 0.0, 0.8])}, r"snr_bias \[0\.0, 0\.0, 0\.8\]"),
        ({"snr_bias": np.array([1024.5, 32.0, 0.8])}, r"whole length"),
        ({"snr_bias": np.array([1024.0, 32.0, 1.0])}, r"0 < bias < 1"),
        ({"snr_bias": np.array([1024.0, 32.0, 0.0])}, r"0 < bias < 1"),
        ({"snr_bias": np.array([1024.0, 32.0, np.nan])}, r"snr_bias \[1024\.0, 32\.0, nan\]"),
    ],
)
def test_a_bad_version_or_bias_is_refused_naming_the_file_and_nothing_is_used(
        biases, tmp_path, change, message):
    arrays = dict(np.load(_saved(tmp_path, 1024))) | change
    biases.clear()
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BundleError, match=message) as e:
        load_spectral(tmp_path / "bad.npz")
    assert str(e.value).startswith(f"{tmp_path / 'bad.npz'}: ") and "\n" not in str(e.value)
    assert biases == {}


def test_the_edges_of_an_accepted_bias(biases, tmp_path):
    """The shortest capture (one sample, one-sample segments) and a bias just inside (0, 1)."""
    arrays = dict(np.load(_saved(tmp_path, 1024)))
    for row in ([1.0, 1.0, 5e-324], [1.0, 1.0, np.nextafter(1.0, 0.0)], [33.0, 32.0, 0.5]):
        np.savez(tmp_path / "edge.npz", **(arrays | {"snr_bias": np.array(row)}))
        load_spectral(tmp_path / "edge.npz")
        assert biases[(int(row[0]), int(row[1]))] == row[2]


def test_the_bias_table_refuses_what_white_noise_cannot_give(biases):
    for length, nperseg, bias in ((32, 33, 0.5), (32, 0, 0.5), (32, 32, 1.0), (32, 32, 0.0),
                                  (32, 32, -0.1)):
        with pytest.raises(ValueError) as e:
            snr.use_white_noise_bias(length, nperseg, bias)
        assert str(e.value) == (f"white-noise bias {bias!r} for length {length}, segments "
                                f"{nperseg}; expected 0 < bias < 1 and 1 <= segments <= length")
    assert biases == {}
