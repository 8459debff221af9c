"""Run in a fresh process by ``edgekit.builder.profile``: one variant, timed on request.

The job (JSON) is the first argument. The worker loads the model, runs it once (the cold start)
and ``warmup`` more times, and answers ``{"ready": ...}`` on stdout. Then each line on stdin is a
request: a number N times N runs and answers their wall and CPU times; ``quit`` (or the end of
stdin) answers the peak resident memory and exits.

With a ``score`` in the job (the chosen OOD score: kind, statistics file, temperature, output
and features indices), each run also scores the model's outputs as the daemon does
(``runtime.model.ModelRunner.predict``), timed apart: the answer then carries ``score_ms`` and
``score_cpu_ms`` per run, and ``ready`` the peak resident memory before the score was loaded.

Between requests the worker blocks on stdin and costs no CPU, so the parent can time every
variant in turn, round after round.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any


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


class _Scorer:
    """The chosen OOD score on one run's outputs, loaded as the daemon loads it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from edgekit.signals.ood import FEATURE_SCORES, load_stats
        from edgekit.signals.scores import ood_scores
        from edgekit.signals.spectral import INPUT_SCORES, load_spectral

        self._score = ood_scores  # imported here, so no run times an import
        self.kind = str(spec["kind"])
        self.output_kind = str(spec["output_kind"])
        self.temperature = float(spec.get("temperature") or 1.0)
        stats_path = spec.get("statistics")
        self.stats = self.spectral = None
        if stats_path and self.kind in INPUT_SCORES:
            self.spectral = load_spectral(Path(stats_path))
        elif stats_path and self.kind in FEATURE_SCORES:
            self.stats = load_stats(Path(stats_path))
        held = self.stats if self.stats is not None else self.spectral
        self.nbytes = 0 if held is None else int(held.nbytes)  # as loaded (float64)

    def __call__(self, scores: Any, feats: Any, raw: Any) -> None:
        self._score(scores, self.kind, self.output_kind, temperature=self.temperature,
                   features=feats, stats=self.stats, raw=raw, spectral=self.spectral)


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
    score = job.get("score")
    # the outputs the daemon asks for: all of them when it reads the features or another index
    out_index = int(score["output_index"]) if score else 0
    feat_index = score.get("features_index") if score else None
    input_name = str(score.get("input_name", "")) if score else ""

    def model() -> tuple[Any, Any]:
        xp = pipe(x)
        if out_index == 0 and feat_index is None:
            return backend.run(xp), None
        outs = backend.run_all({input_name: xp})
        return outs[out_index], None if feat_index is None else outs[int(feat_index)]

    model()
    cold_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(int(job["warmup"])):
        model()
    model_peak_kb = _peak_rss_kb()  # the model alone: the score is loaded after this
    scorer = _Scorer(score) if score else None
    if scorer is not None:
        outputs = model()
        for _ in range(max(1, int(job["warmup"]))):  # caches (the spectral score's SNR bias)
            scorer(*outputs, x)
    _say({"ready": True, "cold_ms": cold_ms, "runtime": backend.name,
          "runtime_version": _runtime_version(backend.name), "model_peak_rss_kb": model_peak_kb,
          "stats_bytes": scorer.nbytes if scorer is not None else 0})
    for line in sys.stdin:
        request = line.strip()
        if request == "quit":
            break
        times: list[float] = []
        cpu: list[float] = []
        s_times: list[float] = []
        s_cpu: list[float] = []
        for _ in range(int(request)):
            # CPU time of this process (all its threads) beside the wall time: a run whose wall
            # time far exceeds its CPU time spent the difference descheduled, i.e. the host's.
            c = time.process_time()
            t = time.perf_counter()
            outputs = model()
            t1, c1 = time.perf_counter(), time.process_time()
            times.append((t1 - t) * 1e3)
            cpu.append((c1 - c) * 1e3)
            if scorer is not None:
                scorer(*outputs, x)
                s_times.append((time.perf_counter() - t1) * 1e3)
                s_cpu.append((time.process_time() - c1) * 1e3)
        answer: dict[str, object] = {"times_ms": times, "cpu_ms": cpu}
        if scorer is not None:
            answer |= {"score_ms": s_times, "score_cpu_ms": s_cpu}
        _say(answer)
    backend.close()
    _say({"peak_rss_kb": _peak_rss_kb()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
