"""Run in a fresh interpreter by ``edgekit.bench.latency``: time one variant, print JSON on stdout.

A fresh process makes the cold start real (interpreter, imports, model load, first inference)
and the peak memory its own: ``VmHWM`` belongs to the address space ``exec`` created, whereas
``ru_maxrss`` would inherit the high-water mark of the bench process that forked this one.
"""

from __future__ import annotations

import json
import sys
import time

_START_MONOTONIC_S = time.monotonic()  # before the heavy imports: they are part of a cold start


def _peak_rss_kb() -> tuple[int, str]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), "VmHWM"
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss), "ru_maxrss"


def main(job_path: str) -> int:
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    import numpy as np

    from edgekit._deathsig import die_with_parent

    die_with_parent()  # after numpy, which has loaded ctypes: no import lands in the cold start
    from edgekit.backends import open_backend
    from edgekit.signals.preprocess import Pipeline

    inputs = np.load(job["inputs"], allow_pickle=False)
    batch = int(job["batch"])
    pipe = Pipeline.from_spec(job["preprocess"])
    t_load = time.monotonic()
    backend = open_backend(job["model"], threads=int(job["threads"]), **job["backend_options"])
    t_loaded = time.monotonic()
    backend.run(pipe(inputs[:batch]))
    t_first = time.monotonic()
    n = inputs.shape[0] // batch
    batches = [inputs[i * batch : (i + 1) * batch] for i in range(n)]
    for k in range(int(job["warmup"])):
        backend.run(pipe(batches[k % n]))
    times_ms = []
    cpu0 = time.process_time()
    for k in range(int(job["runs"])):
        t = time.perf_counter()
        backend.run(pipe(batches[k % n]))
        times_ms.append((time.perf_counter() - t) * 1e3)
    cpu_s = time.process_time() - cpu0
    peak_kb, peak_source = _peak_rss_kb()
    out = {
        "start_monotonic_s": _START_MONOTONIC_S,
        "load_start_monotonic_s": t_load,
        "loaded_monotonic_s": t_loaded,
        "first_result_monotonic_s": t_first,
        "times_ms": times_ms,
        "cpu_s": cpu_s,
        "peak_rss_kb": peak_kb,
        "peak_source": peak_source,
        "runtime": backend.name,
        "runtime_version": str(getattr(backend, "runtime_version", "")),
    }
    backend.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
