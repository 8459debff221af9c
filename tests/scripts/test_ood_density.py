"""The learned SNR estimate of ``scripts/ood_density.py`` (issue 13's candidates): its folded
ridge regressor recovers a known linear law, leaves the ``noise`` class out of its fit, and the
gate keeps the blind estimate where no signal was found. Expected values come from the toy's own
formula, not from the code under test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ood_density.py"


@pytest.fixture(scope="module")
def od() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ood_density_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _toy(od: ModuleType, n: int, seed: int, noise_target: float | None = None) -> object:
    """Feature rows and blind estimates drawn at random; the true SNR a known linear law of
    the first PSD bin and the blind estimate: 2 + 0.5 f0 + 0.8 blind (dB)."""
    rng = np.random.default_rng(seed)
    f = rng.normal(-3.5, 1.0, (n, 32))
    blind = rng.uniform(-15.0, 20.0, n)
    true = 2.0 + 0.5 * f[:, 0] + 0.8 * blind
    y = rng.integers(0, len(od.CLASSES), n)
    names = np.asarray(od.CLASSES)[y]
    if noise_target is not None:
        true = np.where(y == od.NOISE, noise_target, true)
    return od.Data(f, blind, true, y, names, np.ones(n, dtype=np.int64))


def test_ridge_recovers_a_known_linear_law(od: ModuleType) -> None:
    reg = od.SnrReg(_toy(od, 3000, 1), "psd sorted poly", "ridge", "out")
    new = _toy(od, 500, 2)
    want = 2.0 + 0.5 * new.f[:, 0] + 0.8 * new.snr
    got = reg(new, slice(None))
    assert np.max(np.abs(got - np.clip(want, -30.0, 60.0))) < 0.05


def test_noise_class_is_left_out_of_the_fit(od: ModuleType) -> None:
    # the noise rows carry an absurd target: left out, the law is still recovered
    reg = od.SnrReg(_toy(od, 3000, 3, noise_target=500.0), "psd", "ridge", "out")
    new = _toy(od, 300, 4)
    want = np.clip(2.0 + 0.5 * new.f[:, 0] + 0.8 * new.snr, -30.0, 60.0)
    assert np.max(np.abs(reg(new, slice(None)) - want)) < 0.05
    # with the target kept ("floor"), the same absurd rows pull the fit off the law
    bad = od.SnrReg(_toy(od, 3000, 3, noise_target=500.0), "psd", "ridge", "floor")
    assert np.max(np.abs(bad(new, slice(None)) - want)) > 5.0


def test_gate_keeps_the_blind_estimate_below_it(od: ModuleType) -> None:
    reg = od.SnrReg(_toy(od, 3000, 5), "psd", "ridge", "out", gate=0.0)
    new = _toy(od, 400, 6)
    got = reg(new, slice(None))
    low = new.snr < 0.0
    assert np.array_equal(got[low], new.snr[low])
    want = 2.0 + 0.5 * new.f[~low, 0] + 0.8 * new.snr[~low]
    assert np.max(np.abs(got[~low] - want)) < 0.05
