"""Host profiling of the variants: cold start, latency distribution, CPU time and peak memory.

Each variant runs in a fresh Python process (``python -m edgekit.builder._profile_worker``) so that
its peak resident memory is its own and its cold start is real: import, load, first inference.
The workers are started one after the other (cold starts never overlap), then timed interleaved:
every round asks every worker for a slice of its runs, in a shuffled order per round
(``edgekit.builder.interleave``), while the host's CPU counters and load average are read around
each round. Latency is preprocessing plus inference of one batch, the device's capture-to-result
path. These are host figures; on-target figures come from ``edgekit bench``.

A job may name the chosen OOD score (``ProfileJob.score``): the worker then scores each run's
outputs as the daemon does and times that apart, so the score's cost per capture
(:class:`~edgekit.results.ScoreCost`) comes from the same process, runs and rounds as the model's
latency, and the total per run is measured, not a sum of percentiles.

The workers run in their own process groups and die with the build (``edgekit.children``); their
input file lives in the run's scratch folder when the build gives one, so no exit leaks it, and
their stderr goes to ``profile-VARIANT.log`` in ``log_dir`` (the output's ``logs/``).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import re
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from edgekit.builder.host_load import HostLoad, cpu_snapshot, load_between
from edgekit.builder.interleave import Timings, descheduled, detect_interference, schedule
from edgekit.children import child
from edgekit.errors import ConversionError
from edgekit.results import LatencyResult, ScoreCost

__all__ = ["ProfileAttempt", "ProfileJob", "host_description", "profile_variants"]


def host_description() -> str:
    """A short description of this machine for provenance lines."""
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


@dataclass(frozen=True)
class ProfileJob:
    """One variant to time: its name (for messages and the log), model file and backend options;
    ``score``: the chosen OOD score to time with it (``kind``, ``output_kind``, ``output_index``,
    ``features_index``, ``input_name``, ``temperature``, ``statistics`` file), or None."""

    name: str
    model_path: Path
    backend_options: dict[str, Any] = field(default_factory=dict)
    score: dict[str, Any] | None = None


@dataclass
class ProfileAttempt:
    """One interleaved timing of all variants: their figures, the host's load, and the signs of
    interference found (empty: none)."""

    latency: dict[str, LatencyResult]
    host: HostLoad
    interference: list[str]
    rounds: int
    score_cost: dict[str, ScoreCost] = field(default_factory=dict)  # jobs with a score only


class _Worker:
    """A running worker: requests on its stdin, one JSON answer per line on its stdout."""

    def __init__(self, job: ProfileJob, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.job, self.proc, self.log = job, proc, log
        self._buf = b""

    def ask(self, request: str | None, timeout_s: float) -> dict[str, Any]:
        """Send ``request`` (if any) and wait for the answer."""
        try:
            if request is not None and self.proc.stdin is not None:
                self.proc.stdin.write(request.encode() + b"\n")
                self.proc.stdin.flush()
            return self._answer(time.monotonic() + timeout_s, timeout_s)
        except (BrokenPipeError, EOFError) as e:
            self.proc.wait(5)
            raise ConversionError(
                f"{self.job.model_path}: profiling failed: {self._tail()}"
            ) from e

    def _answer(self, deadline: float, timeout_s: float) -> dict[str, Any]:
        fd = self.proc.stdout.fileno() if self.proc.stdout is not None else -1
        while True:
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConversionError(
                        f"{self.job.model_path}: profiling did not finish in {timeout_s:.0f} s"
                    )
                ready, _, _ = select.select([fd], [], [], left)
                if ready:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        raise EOFError
                    self._buf += chunk
            line, _, self._buf = self._buf.partition(b"\n")
            with contextlib.suppress(ValueError):
                answer = json.loads(line)
                if isinstance(answer, dict):
                    return answer
            # A native library printed on stdout: keep it with the worker's log, read on.
            with self.log.open("ab") as f:
                f.write(line + b"\n")

    def _tail(self) -> str:
        try:
            lines = self.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return (lines or [f"exit {self.proc.returncode}, no output"])[-1]


def _naming(signs: list[str], name: str) -> list[str]:
    """The signs that concern variant ``name``: those that name it, and the host-wide ones."""
    pattern = re.compile(rf"(?:\(|, ){re.escape(name)} ")
    return [s for s in signs if s.startswith("CPU steal") or pattern.search(s)]


def _percentiles(x: np.ndarray) -> tuple[float, float, float]:
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return float(p50), float(p90), float(p99)


def profile_variants(
    jobs: Sequence[ProfileJob],
    *,
    preprocess: list[dict[str, Any]],
    sample: np.ndarray,
    threads: int,
    runs: int,
    warmup: int,
    rounds: int,
    seed: int = 0,
    timeout_s: float = 600.0,
    scratch_dir: Path | None = None,
    log_dir: Path | None = None,
) -> ProfileAttempt:
    """Time every job interleaved; ``sample`` is one raw input batch.

    ``scratch_dir``: where the workers' input file goes (default: the system's temporary folder);
    ``log_dir``: where each worker's stderr is kept (default: beside the input, removed after).
    ``seed`` fixes the shuffled order of each round.
    """
    with tempfile.TemporaryDirectory(prefix="edgekit-profile-", dir=scratch_dir) as tmp:
        inp = Path(tmp) / "input.npy"
        np.save(inp, np.ascontiguousarray(sample), allow_pickle=False)
        logs = Path(log_dir) if log_dir is not None else Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            workers: dict[str, _Worker] = {}
            ready: dict[str, dict[str, Any]] = {}
            for job in jobs:  # one at a time: a cold start is never timed beside another
                spec = {
                    "model": str(job.model_path),
                    "input": str(inp),
                    "preprocess": preprocess,
                    "threads": threads,
                    "warmup": warmup,
                    "backend_options": job.backend_options,
                    "score": job.score,
                }
                log = logs / f"profile-{job.name}.log"
                err: IO[bytes] = stack.enter_context(log.open("ab"))
                cmd = [sys.executable, "-m", "edgekit.builder._profile_worker", json.dumps(spec)]
                proc = stack.enter_context(
                    child(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, bufsize=0)
                )
                workers[job.name] = _Worker(job, proc, log)
                ready[job.name] = workers[job.name].ask(None, timeout_s)
            timings = {job.name: Timings.empty() for job in jobs}
            scored: dict[str, tuple[list[float], list[float]]] = {
                job.name: ([], []) for job in jobs if job.score
            }
            loads: list[HostLoad] = []
            plan = schedule([j.name for j in jobs], runs, rounds, random.Random(seed))
            first = cpu_snapshot()
            t0 = time.monotonic()
            for r, slices in enumerate(plan):
                before = cpu_snapshot()
                for name, n in slices:
                    got = workers[name].ask(str(n), timeout_s)
                    timings[name].add(got["times_ms"], got["cpu_ms"], r)
                    if name in scored:
                        scored[name][0].extend(got["score_ms"])
                        scored[name][1].extend(got["score_cpu_ms"])
                loads.append(load_between(before, cpu_snapshot()))
            host = load_between(first, cpu_snapshot())
            span_s = time.monotonic() - t0
            peaks = {name: w.ask("quit", timeout_s) for name, w in workers.items()}
        for w in workers.values():  # a log that stayed empty names nothing worth reading
            with contextlib.suppress(OSError):
                if w.log.stat().st_size == 0:
                    w.log.unlink()
    signs = detect_interference(timings, loads, threads)
    latency = {
        job.name: _latency(
            job, ready[job.name], peaks[job.name], timings[job.name], host,
            sample=sample, threads=threads, warmup=warmup, rounds=len(plan), others=len(jobs) - 1,
            span_s=span_s, signs=_naming(signs, job.name),
        )
        for job in jobs
    }
    costs = {
        job.name: _score_cost(
            job, timings[job.name], *scored[job.name], ready[job.name], peaks[job.name],
            latency[job.name].provenance,
        )
        for job in jobs if job.name in scored
    }
    for name in costs:  # the model's own peak: before the score was loaded
        latency[name].peak_memory_mb = float(ready[name]["model_peak_rss_kb"]) / 1024.0
    return ProfileAttempt(latency, host, signs, len(plan), costs)


def _score_cost(
    job: ProfileJob, t: Timings, wall: list[float], cpu: list[float], ready: dict[str, Any],
    peak: dict[str, Any], model_provenance: str,
) -> ScoreCost:
    """The score's per-capture figures and the per-run totals (model + score)."""
    score = job.score or {}
    s_wall, s_cpu = np.asarray(wall, dtype=np.float64), np.asarray(cpu, dtype=np.float64)
    tot_wall, tot_cpu = t.wall_ms + s_wall, t.cpu_ms + s_cpu  # the same runs, in order
    p10, p50, p90, p99 = (float(v) for v in np.percentile(s_wall, [10, 50, 90, 99]))
    tw50, tw90, tw99 = _percentiles(tot_wall)
    tc10, tc50, tc90, tc99 = (float(v) for v in np.percentile(tot_cpu, [10, 50, 90, 99]))
    stats_bytes = int(ready.get("stats_bytes") or 0)  # the loaded statistics' arrays
    model_mb = float(ready["model_peak_rss_kb"]) / 1024.0
    total_mb = float(peak["peak_rss_kb"]) / 1024.0
    where = model_provenance.split(";", 1)[0]  # "host, measured: <the host>"
    provenance = (
        f"{where}; the {score.get('kind')} score on each of the {len(s_wall)} runs' outputs, "
        f"timed apart in the same worker and rounds as the model (numpy, as the daemon scores a "
        f"capture): p50 {p50:.3g} ms, p99 {p99:.3g} ms (spread p10-p90 {p10:.3g}-{p90:.3g} ms), "
        f"CPU p50 {float(np.median(s_cpu)):.3g} ms; model + score per run: p50 {tw50:.3g} ms, "
        f"p99 {tw99:.3g} ms; statistics {stats_bytes} bytes; peak memory {model_mb:.0f} MiB "
        f"before the score was loaded, {total_mb:.0f} MiB after"
    )
    return ScoreCost(
        score=str(score.get("kind")), runs=len(s_wall), p10_ms=p10, p50_ms=p50, p90_ms=p90,
        p99_ms=p99, cpu_ms_per_capture=float(np.median(s_cpu)), total_p50_ms=tw50,
        total_p90_ms=tw90, total_p99_ms=tw99, total_cpu_ms_per_inference=tc50,
        total_cpu_ms_p10=tc10, total_cpu_ms_p90=tc90, total_cpu_ms_p99=tc99,
        stats_bytes=stats_bytes, model_peak_memory_mb=model_mb, total_peak_memory_mb=total_mb,
        provenance=provenance,
    )


def _latency(
    job: ProfileJob,
    ready: dict[str, Any],
    peak: dict[str, Any],
    t: Timings,
    host: HostLoad,
    *,
    sample: np.ndarray,
    threads: int,
    warmup: int,
    rounds: int,
    others: int,
    span_s: float,
    signs: list[str],
) -> LatencyResult:
    wall, cpu = t.wall_ms, t.cpu_ms
    p50, p90, p99 = _percentiles(wall)
    c50, _, c99 = _percentiles(cpu)
    off = 100.0 * float(np.mean(descheduled(t, threads)))
    runtime = f"{ready['runtime']} {ready['runtime_version']}"
    interleaving = (
        f"timed interleaved with {others} other variant(s) in {rounds} rounds of shuffled order"
        if others else f"timed in {rounds} rounds"
    )
    provenance = (
        f"host, measured: {host_description()}; {runtime}; {len(wall)} runs after {warmup} "
        f"warm-up, {threads} thread(s), batch {sample.shape[0]}, {interleaving} over "
        f"{span_s:.1f} s; wall p50 {p50:.3g} ms, p99 {p99:.3g} ms (spread p10-p90 "
        f"{np.percentile(wall, 10):.3g}-{p90:.3g} ms); CPU time p50 {c50:.3g} ms, p99 "
        f"{c99:.3g} ms; {off:.1f}% of runs descheduled; {host.text()}"
    )
    return LatencyResult(
        cold_ms=float(ready["cold_ms"]),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        mean_ms=float(wall.mean()),
        std_ms=float(wall.std()),
        runs=len(wall),
        threads=threads,
        batch=int(sample.shape[0]),
        peak_memory_mb=float(peak["peak_rss_kb"]) / 1024.0,
        runtime=runtime,
        provenance=provenance,
        cpu_ms_per_inference=c50,
        cpu_ms_p10=float(np.percentile(cpu, 10)),
        cpu_ms_p90=float(np.percentile(cpu, 90)),
        cpu_ms_p99=c99,
        rounds=rounds,
        host_busy_pct=host.busy_pct,
        host_steal_pct=host.steal_pct,
        host_loadavg_1m=host.loadavg_1m,
        descheduled_pct=off,
        interference=list(signs),
    )
