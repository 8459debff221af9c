"""The cyclic-prefix evidence against its definition computed here by gathering each window's
samples, against the known answer of a noiseless CP-OFDM signal (its prefix energy), and on
white noise (about 1: each window's standardised squared sum has mean 1)."""

from __future__ import annotations

import numpy as np

from edgekit.signals.cyclic import CP_BANK, cp_evidence

L = 1024


def _iq(z: np.ndarray) -> np.ndarray:
    """Complex ``(N, L)`` -> I/Q ``(N, 2, L)`` float32."""
    return np.stack([z.real, z.imag], axis=1).astype(np.float32)


def _white(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n, L)) + 1j * rng.normal(size=(n, L))


def cp_by_definition(x: np.ndarray, bank: tuple[tuple[int, int], ...]) -> np.ndarray:
    """cp_evidence by its definition, one capture and numerology at a time: for each timing
    phase p, the sample indices q + k (n + c) of its window (q = p .. p + c - 1 circularly within
    a period, k over the whole periods) gathered and their lag-n products summed."""
    out = []
    for row in np.asarray(x, dtype=np.float64):
        z = row[0] + 1j * row[1]
        power = np.mean(np.abs(z) ** 2)
        best = 0.0
        for n, c in bank:
            period = n + c
            per = (len(z) - n) // period
            q = (np.arange(period)[:, None] + np.arange(c)[None, :]) % period  # (phase, j)
            idx = (q[:, :, None] + period * np.arange(per)[None, None, :]).reshape(period, -1)
            w = np.sum(z[idx] * np.conj(z[idx + n]), axis=1)
            best = max(best, float(np.abs(w).max()) / np.sqrt(c * per))
        out.append(np.log(best / power + 1e-10))
    return np.array(out)


def _cp_ofdm(rng: np.random.Generator, n: int, n_fft: int, n_cp: int, start: int) -> np.ndarray:
    """``n`` noiseless CP-OFDM captures of L samples (QPSK on every subcarrier), the first
    prefix starting at sample ``start``."""
    n_sym = L // (n_fft + n_cp) + 2
    sym = (rng.choice([-1.0, 1.0], (n, n_sym, n_fft)) + 1j * rng.choice([-1.0, 1.0], (n, n_sym, n_fft)))
    body = np.fft.ifft(sym, axis=2)
    frames = np.concatenate([body[:, :, -n_cp:], body], axis=2).reshape(n, -1)
    shift = (n_fft + n_cp - start) % (n_fft + n_cp)
    return frames[:, shift : shift + L]


def test_cp_evidence_of_noiseless_cp_ofdm_is_its_prefix_energy_and_white_noise_reads_about_one():
    rng = np.random.default_rng(9)
    n_fft, n_cp, start = 64, 16, 23
    z = _cp_ofdm(rng, 4, n_fft, n_cp, start)
    # noiseless: every prefix sample equals the sample n_fft later, so at the aligned phase the
    # window adds |z|^2 over the prefix samples of the 12 whole periods in (L - 64) samples
    period, per = n_fft + n_cp, (L - n_fft) // (n_fft + n_cp)
    idx = np.array([start + j + k * period for k in range(per) for j in range(n_cp)]) % (per * period)
    energy = np.array([np.sum(np.abs(row[idx]) ** 2) for row in z])
    want = np.log(energy / np.sqrt(n_cp * per) / np.mean(np.abs(z) ** 2, axis=1))
    np.testing.assert_allclose(cp_evidence(z, ((n_fft, n_cp),)), want, rtol=1e-9)
    assert np.all(want > np.log(0.9 * np.sqrt(n_cp * per)))  # ~ sqrt(192): far above noise
    # gain-free
    np.testing.assert_allclose(cp_evidence(1e3 * z, ((n_fft, n_cp),)), want, rtol=1e-9)
    # white noise: each phase's window, standardised, has E|w|^2 = 1 (a sum of c * per
    # independent products of power 1); the largest of 80 correlated phases stays a few times it
    w = _white(rng, 400) / np.sqrt(2)
    e = np.exp(cp_evidence(w, ((n_fft, n_cp),)))
    assert 1.0 < np.median(e) < 3.0 and np.all(e < 5.0)
    # OFDM without a 64 + 16 prefix (81-sample symbols, 1-sample prefix at lag 80) reads like noise
    no_cp = _cp_ofdm(rng, 4, n_fft + n_cp, 1, 0)
    assert np.all(cp_evidence(no_cp, ((n_fft, n_cp),)) < np.log(5.0))


def test_cp_evidence_equals_its_definition_computed_by_gathering():
    rng = np.random.default_rng(8)
    x = np.r_[_iq(_white(rng, 2)), _iq(_cp_ofdm(rng, 1, 64, 16, 7) + 0.3 * _white(rng, 1))]
    bank = ((32, 8), (64, 16), (256, 32))
    z = x[:, 0].astype(np.float64) + 1j * x[:, 1]
    np.testing.assert_allclose(cp_evidence(z, bank), cp_by_definition(x, bank), rtol=1e-9)
    assert np.all(cp_evidence(z, ()) == np.log(1e-10))  # no numerology: no evidence


def test_the_bank_is_the_common_numerologies():
    # FFT 32..256 samples, prefix 1/4 and 1/8 of it, the held-out family's 64 + 16 among them
    assert sorted(CP_BANK) == sorted((n, n // d) for n in (32, 64, 128, 256) for d in (4, 8))
    assert (64, 16) in CP_BANK and len(CP_BANK) == 8


def test_importing_the_spectral_score_does_not_import_numba():
    """The cyclic-prefix loop is compiled on first use: a daemon whose spectral score has no
    cyclic-prefix column (the default) never pays numba's import (~0.2 s, ~20 MiB) for it."""
    import subprocess
    import sys

    code = ("import sys, edgekit.signals.spectral, edgekit.runtime.model; "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
