"""Run in a fresh process by ``edgekit.builder.profile``: time one variant, print JSON on stdout."""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _peak_rss_kb() -> int:
    """Peak resident memory of this process, KiB.

    ``VmHWM`` belongs to the address space created by ``exec``; ``ru_maxrss`` would carry over
    the high-water mark of the (large) build process that forked this one.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _runtime_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    dists = {"onnxruntime": ["onnxruntime"], "tflite": ["ai-edge-litert", "tflite-runtime"]}
    for dist in dists.get(name, [name]):
        try:
            return f"({dist} {version(dist)})" if dist != name else version(dist)
        except PackageNotFoundError:
            continue
    return "(version unknown)"


def main(job_json: str) -> int:
    t0 = time.perf_counter()
    job = json.loads(job_json)
    import numpy as np

    from edgekit._deathsig import die_with_parent

    die_with_parent()  # after numpy, which has loaded ctypes: costs no import

    from edgekit.backends import open_backend
    from edgekit.signals.preprocess import Pipeline

    x = np.load(job["input"], allow_pickle=False)
    pipe = Pipeline.from_spec(job["preprocess"])
    backend = open_backend(
        Path(job["model"]), threads=int(job["threads"]), **job["backend_options"]
    )
    backend.run(pipe(x))
    cold_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(int(job["warmup"])):
        backend.run(pipe(x))
    times = []
    cpu = []
    for _ in range(int(job["runs"])):
        c = time.process_time()
        t = time.perf_counter()
        backend.run(pipe(x))
        times.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    peak_kb = _peak_rss_kb()
    info = _runtime_version(backend.name)
    print(
        json.dumps(
            {
                "cold_ms": cold_ms,
                "times_ms": times,
                "cpu_ms": cpu,
                "peak_rss_kb": peak_kb,
                "runtime": backend.name,
                "runtime_version": info,
            }
        )
    )
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
