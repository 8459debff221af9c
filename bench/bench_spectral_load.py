"""Peak resident memory of loading the spectral OOD score and scoring the first capture, as the
daemon and the build's profile worker do: before (the blind SNR estimator's white-noise bias
measured at first use on 2000 noise captures drawn at once: ``_old_bias`` below, a reference copy
of that code), with the bounded measurement (a version-1 file, no bias in it) and with the bias
shipped in the file (version 2). Each case runs in a fresh interpreter, one after the other.

    .venv/bin/python bench/bench_spectral_load.py

Prints, per case and with and without the cyclic-prefix column (``ood.cyclic_prefix``), the peak
resident memory (``VmHWM``, MiB) after importing numpy, after importing what the profile worker's
scorer imports (``signals.ood``, ``signals.scores``, ``signals.spectral``: scipy), and after
``load_spectral`` plus the first ``score_and_snr`` of one 1024-sample capture; "added" is the
last less the first (what the profile worker's "peak MiB with score" adds to "peak MiB"), and
the wall time of the load and first score. Memory does not depend on the host's load; the
times do (the host may be shared).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
from pathlib import Path

def hwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

import numpy as np
start = hwm_mib()  # the profile worker's "peak MiB" (the model alone) is taken before these
from edgekit.signals import snr
from edgekit.signals.ood import load_stats  # what the profile worker's scorer imports
from edgekit.signals.scores import ood_scores
from edgekit.signals.spectral import load_spectral

def _old_bias(length, nperseg):
    # the code before: all 2000 captures drawn at once, their PSD 200 at a time
    rng = np.random.default_rng(20261129)
    z = np.empty((2000, length), dtype=np.complex128)
    z.real = rng.standard_normal((2000, length))
    z.imag = rng.standard_normal((2000, length))
    ratios = [snr._low_mean(p) / p.mean(axis=1) for p in (snr._psd(z[i : i + 200], nperseg)
                                                          for i in range(0, len(z), 200))]
    return float(np.mean(np.concatenate(ratios)))

stats_path, capture_path, old = sys.argv[1], sys.argv[2], sys.argv[3] == "old"
if old:
    snr.measure_white_noise_bias = _old_bias
x = np.load(capture_path)
before = hwm_mib()
t0 = time.perf_counter()
stats = load_spectral(Path(stats_path))
stats.score_and_snr(x)
ms = (time.perf_counter() - t0) * 1e3
print(json.dumps({"start": start, "imports": before, "after": hwm_mib(), "ms": ms,
                  "bias": snr.white_noise_bias(x.shape[2], 32)}))
"""


def _files(tmp: Path, cyclic: bool) -> tuple[Path, Path, Path]:
    """(version-1 file, version-2 file with the bias, one capture) from a small fit."""
    from edgekit.data.synth import generate
    from edgekit.signals.spectral import CP_BANK, fit_spectral, save_spectral

    ds = generate(2000, seed=101)
    stats = fit_spectral(ds.x, ds.y, int(ds.y.max()) + 1, cp_bank=CP_BANK if cyclic else ())
    v2, v1 = tmp / f"v2-{cyclic}.npz", tmp / f"v1-{cyclic}.npz"
    save_spectral(stats, v2, capture_length=ds.x.shape[2])
    with np.load(v2) as z:  # an earlier edgekit's file: neither the version nor the bias
        np.savez(v1, **{k: z[k] for k in z.files if k not in ("version", "snr_bias")})
    capture = tmp / "capture.npy"
    np.save(capture, ds.x[:1])
    return v1, v2, capture


def _run(stats: Path, capture: Path, mode: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(stats), str(capture), mode],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> int:
    print(f"{'case':60} {'numpy':>6} {'imports':>8} {'peak':>6} {'added':>6} {'load+1st ms':>12}")
    with tempfile.TemporaryDirectory(prefix="bench-spectral-load-") as d:
        for cyclic in (False, True):
            v1, v2, capture = _files(Path(d), cyclic)
            cases = {
                "before: bias measured at load, all at once": (v1, "old"),
                "bounded measurement at load (version-1 file)": (v1, "new"),
                "bias shipped in the file (version 2)": (v2, "new"),
            }
            biases = set()
            for name, (path, mode) in cases.items():
                r = _run(path, capture, mode)
                biases.add(r["bias"])
                label = f"{name}{', cyclic prefix' if cyclic else ''}"
                print(f"{label:60} {r['start']:6.1f} {r['imports']:8.1f} {r['after']:6.1f} "
                      f"{r['after'] - r['start']:6.1f} {r['ms']:12.0f}")
            print(f"  the same bias in all three: {len(biases) == 1}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
