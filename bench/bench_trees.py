"""Per-capture cost of the reference tree model, today's path against the new one, in one run.

Run: ``.venv/bin/python bench/bench_trees.py [--captures 200] [--rounds 5] [--library SO]``.

Measures, one capture at a time (batch 1, 1 thread, as the device runs it), interleaving the
methods round by round so that load on a shared host hits them alike:

- today: the float64 features (``tests/signals/reference_features.py``, the code before issue 16)
  + onnxruntime's TreeEnsemble on ``models/rfclass-gbt/model.onnx``;
- new: ``edgekit.signals.features`` (float32, numba kernels around two FFTs) + the compiled trees
  (``trees-compiled``, every tree, built here with Treelite + TL2cgen + gcc unless ``--library``);
- the trees alone on the same feature rows: onnxruntime vs the compiled library.

Prints medians per capture, the ratios (over all rounds, and the lowest and highest of the
per-round ratios, which show how much the shared host moved them), the load average before and
after, and the agreement of the new predictions with today's (argmax over ``--captures``
synthetic captures). Goals (issue 16): end to end >= 4x faster with agreement >= 99.9 %;
compiled trees at least as fast as onnxruntime's.

``--jit`` also measures what the compiled features cost to start, each in a fresh interpreter:
``import numba``; the first ``extract_features`` with an empty numba cache (``NUMBA_CACHE_DIR``
set to a new folder: every kernel compiled); and the same again with that cache filled.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the reference implementation lives with the tests

from edgekit.backends.compiled_trees import CompiledTreesBackend  # noqa: E402
from edgekit.data.synth import generate  # noqa: E402
from edgekit.signals.features import extract_features  # noqa: E402
from edgekit.signals.preprocess import Pipeline  # noqa: E402
from edgekit.trees.compile import compile_ensemble  # noqa: E402
from edgekit.trees.ensemble import read_ensemble  # noqa: E402
from tests.signals.reference_features import extract_features as reference_features  # noqa: E402

__all__ = ["main"]

MODEL = ROOT / "models" / "rfclass-gbt" / "model.onnx"
ALL = ("noise", "tone", "am", "fm", "bpsk", "qpsk", "8psk", "16qam", "gfsk", "chirp")


def _per_capture(fn: Callable[[np.ndarray], object], xs: np.ndarray) -> list[float]:
    out = []
    for i in range(len(xs)):
        one = xs[i : i + 1]
        t0 = time.perf_counter()
        fn(one)
        out.append(time.perf_counter() - t0)
    return out


def _jit_costs() -> None:
    """Start-up costs of the numba kernels, each in a fresh interpreter (see the docstring)."""
    first = (
        "import time; t0 = time.perf_counter(); import numpy as np; "
        "from edgekit.signals.features import extract_features; t1 = time.perf_counter(); "
        "extract_features(np.ones((1, 2, 1024), np.float32)); t2 = time.perf_counter(); "
        "print(f'{t1 - t0:.2f} {t2 - t1:.2f}')"
    )
    numba = "import time; t0 = time.perf_counter(); import numba; print(f'{time.perf_counter() - t0:.2f}')"
    with tempfile.TemporaryDirectory(prefix="bench-trees-numba-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}

        def run(code: str) -> list[str]:
            done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                                  capture_output=True, text=True)
            return done.stdout.split()

        imp = run(numba)[0]
        cold_import, cold_first = run(first)
        warm_import, warm_first = run(first)
    print(f"start-up: import numba {imp} s; import features + first call, empty cache "
          f"{cold_import} + {cold_first} s (compiles every kernel), cache filled "
          f"{warm_import} + {warm_first} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--library", type=Path, help="a trees-compiled .so of the full model (else built)")
    ap.add_argument("--jit", action="store_true", help="also measure numba's import and compile cost")
    args = ap.parse_args(argv)
    load_before = os.getloadavg()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(MODEL), opts, providers=["CPUExecutionProvider"])
    with tempfile.TemporaryDirectory(prefix="bench-trees-") as tmp:
        lib = args.library
        if lib is None:
            t0 = time.perf_counter()
            ens = read_ensemble(onnx.load(MODEL))
            lib = compile_ensemble(ens, Path(tmp) / "trees.so", work_dir=Path(tmp) / "src").path
            print(f"compiled {ens.n_trees} trees in {time.perf_counter() - t0:.0f} s")
        compiled = CompiledTreesBackend(lib, threads=1)

        ds = generate(args.captures, seed=2024, classes=ALL)
        x = Pipeline.from_spec([{"op": "rms_normalize"}])(ds.x).astype(np.float32)

        def today(one: np.ndarray) -> np.ndarray:
            return sess.run(["probabilities"], {"features": reference_features(one)})[0]

        def new(one: np.ndarray) -> np.ndarray:
            return compiled.run(extract_features(one))

        f_new = extract_features(x)
        methods: dict[str, tuple[Callable[[np.ndarray], object], np.ndarray]] = {
            "today: float64 features + onnxruntime trees": (today, x),
            "new: float32 features + compiled trees": (new, x),
            "features, float64 (today)": (reference_features, x),
            "features, float32 (new)": (extract_features, x),
            "trees, onnxruntime TreeEnsemble": (
                lambda f: sess.run(["probabilities"], {"features": f}), f_new),
            "trees, compiled (TL2cgen, ctypes)": (compiled.run, f_new),
        }
        for fn, data in methods.values():  # warm-up: imports, FFT plans, caches
            _per_capture(fn, data[:10])
        times: dict[str, list[float]] = {k: [] for k in methods}
        per_round: dict[str, list[float]] = {k: [] for k in methods}
        for _ in range(args.rounds):
            for name, (fn, data) in methods.items():
                got = _per_capture(fn, data)
                times[name] += got
                per_round[name].append(float(np.median(got)))
        med = {k: float(np.median(v)) * 1e6 for k, v in times.items()}

        old_pred = sess.run(["probabilities"], {"features": reference_features(x)})[0].argmax(1)
        new_pred = compiled.run(f_new).argmax(1)
        agreement = float(np.mean(old_pred == new_pred))
        compiled.close()

    load_after = os.getloadavg()
    n = args.captures * args.rounds
    print(f"{args.captures} captures x {args.rounds} rounds, one capture at a time, 1 thread; "
          f"median per capture ({n} timings each); load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after ({os.cpu_count()} CPUs, shared):")
    for name, us in med.items():
        print(f"  {name:46s} {us:8.1f} us")

    def ratio(old: str, new: str) -> str:
        rounds = [a / b for a, b in zip(per_round[old], per_round[new], strict=True)]
        return f"{med[old] / med[new]:.2f}x (rounds {min(rounds):.2f}-{max(rounds):.2f}x)"

    e2e = ratio("today: float64 features + onnxruntime trees", "new: float32 features + compiled trees")
    feat = ratio("features, float64 (today)", "features, float32 (new)")
    trees = ratio("trees, onnxruntime TreeEnsemble", "trees, compiled (TL2cgen, ctypes)")
    print(f"end to end: {e2e} faster (goal >= 4x); features {feat}; "
          f"compiled trees vs onnxruntime {trees} (goal >= 1x)")
    print(f"agreement of new predictions with today's: {agreement:.4f} on {len(x)} captures "
          f"(goal >= 0.999)")
    if args.jit:
        _jit_costs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
