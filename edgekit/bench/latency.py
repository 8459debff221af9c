"""Cold start, latency distribution, CPU time and peak memory of one variant, in a fresh process.

The worker (``edgekit.bench._worker``) is spawned with ``python -m``; the cold start is measured
from just before the spawn to the worker's first result on ``CLOCK_MONOTONIC``, which is shared
by every process on Linux, so interpreter start and imports count as they do on the device.
The worker runs in its own process group and dies with the bench (``edgekit.children``); its
input files live in the run's scratch folder when the bench gives one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.bench_result import ColdStart, LatencyStats
from edgekit.children import run_child
from edgekit.errors import ModelError

__all__ = ["ProcessFigures", "profile_in_fresh_process"]


@dataclass(frozen=True)
class ProcessFigures:
    """What one fresh-process run of a variant measured."""

    cold_start: ColdStart
    latency: LatencyStats
    cpu_ms_per_inference: float
    peak_memory_mb: float
    memory_provenance: str
    runtime: str


def profile_in_fresh_process(
    model_path: Path,
    *,
    inputs: np.ndarray,
    preprocess: list[dict[str, Any]],
    backend_options: dict[str, Any],
    threads: int,
    runs: int,
    warmup: int,
    batch: int,
    timeout_s: float = 900.0,
    scratch_dir: Path | None = None,
) -> ProcessFigures:
    """Spawn the worker on ``inputs`` (raw captures, cycled in batches of ``batch``).

    ``scratch_dir``: where the worker's input files go (default: the system's temporary folder).
    """
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-", dir=scratch_dir) as tmp:
        inp = Path(tmp) / "inputs.npy"
        np.save(inp, np.ascontiguousarray(inputs), allow_pickle=False)
        job = Path(tmp) / "job.json"
        job.write_text(
            json.dumps(
                {
                    "model": str(model_path),
                    "inputs": str(inp),
                    "preprocess": preprocess,
                    "backend_options": backend_options,
                    "threads": threads,
                    "runs": runs,
                    "warmup": warmup,
                    "batch": batch,
                }
            )
        )
        cmd = [sys.executable, "-m", "edgekit.bench._worker", str(job)]
        spawn_s = time.monotonic()
        try:
            proc = run_child(cmd, timeout_s=timeout_s)
        except subprocess.TimeoutExpired as e:
            raise ModelError(f"{model_path}: latency run did not finish in {timeout_s:.0f} s") from e
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"{model_path}: latency run failed: {tail}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    t = np.asarray(r["times_ms"], dtype=np.float64)
    runtime = f"{r['runtime']} {r['runtime_version']}".strip()
    lat = LatencyStats(
        p50_ms=float(np.percentile(t, 50)),
        p90_ms=float(np.percentile(t, 90)),
        p99_ms=float(np.percentile(t, 99)),
        mean_ms=float(t.mean()),
        std_ms=float(t.std()),
        min_ms=float(t.min()),
        max_ms=float(t.max()),
        runs=int(t.size),
        warmup=warmup,
        batch=batch,
        threads=threads,
        samples_ms=tuple(float(v) for v in t),
        provenance=(
            f"measured on this device: preprocessing + inference of a batch of {batch}, "
            f"{t.size} back-to-back runs after {warmup} warm-up, {threads} thread(s), {runtime}, "
            "fresh process, perf_counter"
        ),
    )
    cold = ColdStart(
        cold_start_ms=(r["first_result_monotonic_s"] - spawn_s) * 1e3,
        load_ms=(r["loaded_monotonic_s"] - r["load_start_monotonic_s"]) * 1e3,
        first_inference_ms=(r["first_result_monotonic_s"] - r["loaded_monotonic_s"]) * 1e3,
        provenance=(
            "measured: spawn of a fresh interpreter -> imports -> model load -> first result "
            "(CLOCK_MONOTONIC across processes); load and first inference are its parts"
        ),
    )
    return ProcessFigures(
        cold_start=cold,
        latency=lat,
        cpu_ms_per_inference=float(r["cpu_s"]) * 1e3 / (t.size * batch),
        peak_memory_mb=float(r["peak_rss_kb"]) / 1024.0,
        memory_provenance=(
            f"measured: {r['peak_source']} (peak resident set) of the fresh worker process after "
            "load, warm-up and timed runs; includes the Python interpreter and runtime"
        ),
        runtime=runtime,
    )
