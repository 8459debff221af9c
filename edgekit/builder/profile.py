"""Host profiling of a variant: cold start, latency distribution and peak memory.

Each variant runs in a fresh Python process (``python -m edgekit.builder._profile_worker``) so that
its peak resident memory is its own and its cold start is real: import, load, first inference.
Latency is preprocessing plus inference of one batch, the device's capture-to-result path.
These are host figures; on-target figures come from ``edgekit bench``.

The worker runs in its own process group and dies with the build (``edgekit.children``); its
input file lives in the run's scratch folder when the build gives one, so no exit leaks it.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.builder.host_load import cpu_snapshot, load_between
from edgekit.children import run_child
from edgekit.errors import ConversionError
from edgekit.results import LatencyResult

__all__ = ["host_description", "profile_variant"]


def host_description() -> str:
    """A short description of this machine for provenance lines."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()} {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def profile_variant(
    model_path: Path,
    *,
    preprocess: list[dict[str, Any]],
    sample: np.ndarray,
    threads: int,
    runs: int,
    warmup: int,
    timeout_s: float = 600.0,
    backend_options: dict[str, Any] | None = None,
    scratch_dir: Path | None = None,
) -> LatencyResult:
    """Measure one variant in a fresh process; ``sample`` is one raw input batch.

    ``scratch_dir``: where the worker's input file goes (default: the system's temporary folder).
    """
    with tempfile.TemporaryDirectory(prefix="edgekit-profile-", dir=scratch_dir) as tmp:
        inp = Path(tmp) / "input.npy"
        np.save(inp, np.ascontiguousarray(sample), allow_pickle=False)
        job = {
            "model": str(model_path),
            "input": str(inp),
            "preprocess": preprocess,
            "threads": threads,
            "runs": runs,
            "warmup": warmup,
            "backend_options": backend_options or {},
        }
        cmd = [sys.executable, "-m", "edgekit.builder._profile_worker", json.dumps(job)]
        before = cpu_snapshot()
        try:
            proc = run_child(cmd, timeout_s=timeout_s)
        except subprocess.TimeoutExpired as e:
            raise ConversionError(
                f"{model_path}: profiling did not finish in {timeout_s:.0f} s"
            ) from e
    host_load = load_between(before, cpu_snapshot())
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConversionError(f"{model_path}: profiling failed: {tail}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    t = np.asarray(r["times_ms"], dtype=np.float64)
    cpu = np.asarray(r["cpu_ms"], dtype=np.float64)
    runtime = f"{r['runtime']} {r['runtime_version']}"
    provenance = (
        f"host, measured: {host_description()}; {runtime}; {len(t)} runs after {warmup} warm-up, "
        f"{threads} thread(s), batch {sample.shape[0]}, spread p10-p90 "
        f"{np.percentile(t, 10):.3g}-{np.percentile(t, 90):.3g} ms wall, CPU time median "
        f"{np.median(cpu):.3g} ms; {host_load.text()}"
    )
    return LatencyResult(
        cold_ms=float(r["cold_ms"]),
        p50_ms=float(np.percentile(t, 50)),
        p90_ms=float(np.percentile(t, 90)),
        p99_ms=float(np.percentile(t, 99)),
        mean_ms=float(t.mean()),
        std_ms=float(t.std()),
        runs=len(t),
        threads=threads,
        batch=int(sample.shape[0]),
        peak_memory_mb=float(r["peak_rss_kb"]) / 1024.0,
        runtime=runtime,
        provenance=provenance,
        cpu_ms_per_inference=float(np.median(cpu)),
        cpu_ms_p10=float(np.percentile(cpu, 10)),
        cpu_ms_p90=float(np.percentile(cpu, 90)),
    )
