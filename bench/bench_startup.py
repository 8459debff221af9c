"""Start-up time of ``edgekit run``: from launch until it talks to the scanner, against a floor.

One run, alternating (so host load hits both alike), ``--runs`` times each:

1. The daemon: ``python -m edgekit run BUNDLE --port PTY`` on a silent pseudo-terminal, timed from
   ``Popen`` until its first bytes arrive on the pty (it opens the port last, once the bundle is
   verified, the model loaded and warmed up, the journal and metrics ready), then stopped with
   SIGTERM. Imports, verification, model load and warm-up all count.
2. The floor: a bare ``python -c`` that imports numpy and the variant's runtime (onnxruntime or
   ai_edge_litert), loads the same variant's file and runs it once on zeros: what any daemon on
   this runtime pays before its first answer.

With ``--before DIR`` (a source tree of another commit: ``git archive COMMIT edgekit
firmware_bridge | tar -x -C DIR``), that tree's daemon is timed too, in the same rounds, run with
``python -S`` and ``PYTHONPATH=DIR:site-packages`` so that the editable install does not
redirect its imports; the ratio after / before is printed.

Printed: the median and spread of each, their ratio (median daemon / median floor), the load
average, and the import breakdown of the run path (``python -X importtime``, the ten heaviest
top-level packages). The host is shared: compare ratios, not seconds.

    .venv/bin/python bench/bench_startup.py [--bundle out/rfclass-cnn/bundle] [--runs 7]
        [--before /tmp/edgekit-before]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import tty
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_PATH_IMPORTS = (
    "import edgekit.cli, edgekit.cli.run_cmd; from edgekit.bundle import load_bundle; "
    "from edgekit.runtime.daemon import Daemon; from edgekit.runtime.settings import load_settings"
)


def _python(tree: Path | None) -> tuple[list[str], Path, dict[str, str]]:
    """(interpreter command, working folder, environment) that imports edgekit from ``tree``
    (None: this checkout, through the venv as installed)."""
    if tree is None:
        return [sys.executable], REPO, dict(os.environ)
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{sysconfig.get_paths()['purelib']}")
    return [sys.executable, "-S"], tree, env


def _daemon_once(bundle: Path, tmp: Path, tree: Path | None = None, limit_s: float = 300.0) -> float:
    master, slave = os.openpty()
    tty.setraw(slave)
    link = tmp / "scanner"
    link.unlink(missing_ok=True)
    os.symlink(os.ttyname(slave), link)
    os.close(slave)
    python, cwd, env = _python(tree)
    cmd = [*python, "-m", "edgekit", "run", str(bundle.resolve()), "--port", str(link),
           "--journal", str(tmp / "journal.sqlite"), "--metrics-addr", "off"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.perf_counter() - t0 < limit_s:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr is not None else b""
                raise SystemExit(f"edgekit run exited {proc.returncode}: {err[-500:]!r}")
            ready, _, _ = select.select([master], [], [], 0.01)
            if ready:
                try:
                    if os.read(master, 4096):
                        return time.perf_counter() - t0
                except OSError:  # EIO until the daemon opens the slave
                    time.sleep(0.005)
        raise SystemExit(f"edgekit run did not open its port within {limit_s:.0f} s")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
        for name in ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"):
            (tmp / name).unlink(missing_ok=True)


def _floor_once(model: Path, runtime: str) -> float:
    if runtime == "tflite":
        code = (
            "import numpy as np; from ai_edge_litert.interpreter import Interpreter; "
            f"i = Interpreter(model_path={str(model)!r}, num_threads=1); i.allocate_tensors(); "
            "d = i.get_input_details()[0]; "
            "i.set_tensor(d['index'], np.zeros(d['shape'], d['dtype'])); i.invoke()"
        )
    else:
        code = (
            "import numpy as np, onnxruntime as ort; "
            f"s = ort.InferenceSession({str(model)!r}, providers=['CPUExecutionProvider']); "
            "i = s.get_inputs()[0]; "
            "s.run(None, {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], "
            "np.float32)})"
        )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def _imports(tree: Path | None = None) -> list[tuple[int, str]]:
    """(cumulative microseconds, package) of the run path's top-level imports, heaviest first."""
    python, cwd, env = _python(tree)
    err = subprocess.run([*python, "-X", "importtime", "-c", RUN_PATH_IMPORTS],
                         cwd=cwd, env=env, capture_output=True, text=True, check=True).stderr
    by_top: dict[str, int] = {}
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        if name.startswith("  "):  # not imported directly by the run path's modules
            continue
        by_top[name.strip()] = max(by_top.get(name.strip(), 0), int(parts[1]))
    return sorted(((us, n) for n, us in by_top.items()), reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", type=Path, default=REPO / "out" / "rfclass-cnn" / "bundle")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--before", type=Path, default=None, help="another source tree to compare")
    args = ap.parse_args()
    manifest_path = args.bundle / "manifest.json"
    if not manifest_path.is_file():
        raise SystemExit(f"{args.bundle}: no bundle (run: edgekit build models/rfclass-cnn/edgekit.toml)")
    manifest = json.loads(manifest_path.read_text())
    variant = next(v for v in manifest["variants"] if v["name"] == manifest["selected"])
    model = args.bundle / variant["file"]
    daemon: list[float] = []
    floor: list[float] = []
    before: list[float] = []
    with tempfile.TemporaryDirectory(prefix="edgekit-startup-") as tmp:
        for _ in range(args.runs):
            daemon.append(_daemon_once(args.bundle, Path(tmp)))
            floor.append(_floor_once(model, variant["runtime"]))
            if args.before is not None:
                before.append(_daemon_once(args.bundle, Path(tmp), args.before.resolve()))
    load = os.getloadavg()[0]
    d, f = statistics.median(daemon), statistics.median(floor)
    print(f"edgekit run start-up ({args.bundle}, variant {variant['name']}): median {d:.2f} s "
          f"(min {min(daemon):.2f}, max {max(daemon):.2f}, {args.runs} runs)")
    print(f"floor (python + numpy + {variant['runtime']}, load and run the variant once): median {f:.2f} s "
          f"(min {min(floor):.2f}, max {max(floor):.2f})")
    print(f"ratio daemon / floor: {d / f:.2f}; load average (1 min) {load:.1f}, host shared")
    if before:
        bm = statistics.median(before)
        print(f"before ({args.before}): median {bm:.2f} s (min {min(before):.2f}, max "
              f"{max(before):.2f}); ratio before / floor {bm / f:.2f}; after / before {d / bm:.2f}")
    trees = [("this tree", None)] + ([("before", args.before.resolve())] if before else [])
    for label, tree in trees:
        imports = _imports(tree)
        print(f"run-path imports, {label}: cumulative ms (python -X importtime, one run):")
        for us, name in imports[:8]:
            print(f"  {us / 1e3:8.0f}  {name}")


if __name__ == "__main__":
    main()
