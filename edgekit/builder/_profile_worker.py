"""Run in a fresh process by ``edgekit.builder.profile``: one variant, timed on request.

The job (JSON) is the first argument. The worker loads the model, runs it once (the cold start)
and ``warmup`` more times, and answers ``{"ready": ...}`` on stdout. Then each line on stdin is a
request: a number N times N runs and answers their wall and CPU times; ``quit`` (or the end of
stdin) answers the peak resident memory and exits. Between requests the worker blocks on stdin
and costs no CPU, so the parent can time every variant in turn, round after round.
"""

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


def _say(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


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
    _say({"ready": True, "cold_ms": cold_ms, "runtime": backend.name,
          "runtime_version": _runtime_version(backend.name)})
    for line in sys.stdin:
        request = line.strip()
        if request == "quit":
            break
        times: list[float] = []
        cpu: list[float] = []
        for _ in range(int(request)):
            # CPU time of this process (all its threads) beside the wall time: a run whose wall
            # time far exceeds its CPU time spent the difference descheduled, i.e. the host's.
            c = time.process_time()
            t = time.perf_counter()
            backend.run(pipe(x))
            times.append((time.perf_counter() - t) * 1e3)
            cpu.append((time.process_time() - c) * 1e3)
        _say({"times_ms": times, "cpu_ms": cpu})
    backend.close()
    _say({"peak_rss_kb": _peak_rss_kb()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
