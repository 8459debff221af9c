"""``run_bench``: every variant of a bundle on this board -> a ``BenchResult``.

Per variant: cold start, latency distribution, CPU time per inference and peak memory in a fresh
process (``latency``), then energy per inference in this process on the meter (``energy_run``),
then the battery projection at the duty cycle. The environment is probed before and after, and
a board that throttled during the run is called out in the warnings.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgekit.bench.energy_run import (
    EnergyPlan,
    battery_from_manifest,
    check_trace_covers,
    measure_variant_duty_energy,
    measure_variant_energy,
    project,
)
from edgekit.bench.inputs import BenchInputs, make_inputs
from edgekit.bench.latency import profile_in_fresh_process
from edgekit.bench_result import BenchResult, VariantBench
from edgekit.bundle import MANIFEST, ArchiveLimits, Bundle, TrustedKey, load_bundle
from edgekit.energy import Clock, EnergyResult, detect_meter, open_meter
from edgekit.energy.meters import DETECTION_ORDER
from edgekit.energy.recording import EVENTS_SUFFIX, POWER_SUFFIX
from edgekit.environment import (
    BoardIdentity,
    EnvironmentRoots,
    cpu_snapshot,
    probe_environment,
    read_board_identity,
    throttle_warnings,
    throttled_during,
)
from edgekit.errors import MeterError, UsageError

__all__ = ["QUICK_PLAN", "BenchOptions", "run_bench"]

QUICK_PLAN = EnergyPlan(
    window_s=1.0, windows=3, idle_s=1.0, min_samples=10, max_window_s=5.0, max_relative_uncertainty=0.1
)
"""``--quick``: short windows for CI and smoke tests, flagged in every report. Not a benchmark."""

_CALL_TARGET_S = 0.01  # group inferences so a measure_energy call lasts about this long


@dataclass
class BenchOptions:
    """How to run the bench; defaults follow MLPerf Tiny (10 s windows, median of 5)."""

    variants: list[str] | None = None
    meter: str | None = None
    duty_hz: float | None = None
    threads: int = 1
    runs: int = 200
    warmup: int = 10
    batch: int = 1
    n_inputs: int = 64
    plan: EnergyPlan = field(default_factory=EnergyPlan)
    quick: bool = False
    roots: EnvironmentRoots = field(default_factory=EnvironmentRoots)
    clock: Clock | None = None
    log: Callable[[str], None] = lambda _m: None
    trusted_keys: tuple[TrustedKey, ...] = ()  # when given, the bundle must be signed by one
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    scratch_dir: Path | None = None  # temporary files (the run's own scratch folder when given)
    record_dir: Path | None = None  # each variant's power trace + event log go here (--record)
    record_dir_shown: Path | None = None  # where they appear once published (for bench.json)
    measure_duty: bool = False  # also measure energy per capture at duty_hz (--duty)


def _resolve_variants(bundle: Bundle, wanted: list[str] | None) -> list[dict[str, Any]]:
    names = [v["name"] for v in bundle.manifest["variants"]]
    if wanted is None:
        return [bundle.variant(n) for n in names]
    bad = [w for w in wanted if w not in names]
    if bad or not wanted:
        raise UsageError(
            f"--variants: {'unknown ' + ', '.join(bad) if bad else 'empty list'}; "
            f"this bundle has: {', '.join(names)}"
        )
    return [bundle.variant(n) for n in dict.fromkeys(wanted)]


def _choose_meter(opts: BenchOptions) -> tuple[str, dict[str, Any]]:
    """Validate ``--meter`` (or detect one) now, so a bad spec fails before anything runs."""
    roots = opts.roots.as_kwargs()
    if opts.meter is not None:
        meter = open_meter(opts.meter, **roots)
        how = "--meter"
    else:
        meter = detect_meter(**roots)
        how = "detected (probe order: " + "; ".join(DETECTION_ORDER) + ")"
    try:
        check_trace_covers(meter, opts.plan)
        info = meter.info.to_dict()
    finally:
        meter.close()
    info["chosen_by"] = how
    return str(info["spec"]), info


def _runner(bundle: Bundle, variant: dict[str, Any], inputs: BenchInputs, opts: BenchOptions) -> Any:
    from edgekit.backends import open_backend
    from edgekit.signals.preprocess import Pipeline

    # checked again right before loading: the hash of every file this variant reads
    backend = open_backend(
        bundle.model_path(variant["name"]),
        threads=opts.threads,
        **(variant.get("backend_options") or {}),
    )
    pipe = Pipeline.from_spec(inputs.preprocess)
    n = inputs.x.shape[0] // opts.batch
    batches = [inputs.x[i * opts.batch : (i + 1) * opts.batch] for i in range(n)]
    state = {"k": 0}

    def run_batch(count: int) -> None:
        k = state["k"]
        for _ in range(count):
            backend.run(pipe(batches[k % n]))
            k += 1
        state["k"] = k

    return backend, run_batch


@dataclass(frozen=True)
class _Context:
    """What every variant's energy provenance names: the board, the bundle, the run's settings."""

    identity: BoardIdentity
    bundle_id: str
    meter_spec: str
    battery: dict[str, Any] | None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _projection(battery: dict[str, Any], energy: EnergyResult, duty_hz: float) -> dict[str, Any]:
    projection = project(battery, energy, duty_hz).to_dict()
    projection["duty_hz_source"] = battery["duty_hz_source"]
    projection["energy_label"] = energy.label
    projection["energy_mode"] = energy.mode
    projection["note"] = (
        "baseline = scanner_baseline_w (includes the board idling); the model adds "
        + ("duty x dynamic energy per inference measured back to back"
           if energy.mode != "duty" else "duty x dynamic energy per capture measured at the duty cycle")
        + " (clamped at 0), divided by the converter efficiency"
    )
    return projection


def _bench_variant(
    bundle: Bundle,
    variant: dict[str, Any],
    inputs: BenchInputs,
    ctx: _Context,
    opts: BenchOptions,
    warnings: list[str],
) -> VariantBench:
    name = variant["name"]
    meter_spec, battery = ctx.meter_spec, ctx.battery
    model_path = bundle.model_path(name)  # checked now, right before the worker loads it
    file_sha256 = _file_sha256(model_path)
    opts.log(f"{name}: cold start, latency ({opts.runs} runs), CPU time, peak memory ...")
    figures = profile_in_fresh_process(
        model_path,
        inputs=inputs.x,
        preprocess=inputs.preprocess,
        backend_options=variant.get("backend_options") or {},
        threads=opts.threads,
        runs=opts.runs,
        warmup=opts.warmup,
        batch=opts.batch,
        scratch_dir=opts.scratch_dir,
    )
    opts.log(
        f"{name}: energy on {meter_spec} ({opts.plan.windows} x >= {opts.plan.window_s:g} s windows, "
        f"idle {opts.plan.idle_s:g} s) ..."
    )
    per_call = max(1, int(_CALL_TARGET_S / max(figures.latency.p50_ms / 1e3, 1e-6)))
    context = {**ctx.identity.as_context(), "bundle_id": ctx.bundle_id, "variant_sha256": file_sha256}
    sysfs = opts.roots.sysfs_root

    def env_probe() -> dict[str, Any]:
        return cpu_snapshot(sysfs_root=sysfs)

    energy: EnergyResult | None = None
    duty: EnergyResult | None = None
    energy_error = duty_error = None
    duty_hz = float(battery["duty_hz"]) if battery is not None else opts.duty_hz
    backend, run_batch = _runner(bundle, variant, inputs, opts)
    try:
        try:
            energy = measure_variant_energy(
                run_batch, meter_spec, opts.plan, inferences_per_call=per_call,
                roots=opts.roots.as_kwargs(), clock=opts.clock, variant=name, context=context,
                record_dir=opts.record_dir, env_probe=env_probe,
            )
        except MeterError as e:
            energy_error = str(e)
            warnings.append(f"{name}: energy not measured: {e}")
        if opts.measure_duty and duty_hz:
            opts.log(f"{name}: energy per capture at the duty cycle ({duty_hz:g} Hz) ...")
            try:
                duty = measure_variant_duty_energy(
                    run_batch, meter_spec, duty_hz, opts.plan, roots=opts.roots.as_kwargs(),
                    clock=opts.clock, variant=name, context=context, record_dir=opts.record_dir,
                    env_probe=env_probe,
                )
            except MeterError as e:
                duty_error = str(e)
                warnings.append(f"{name}: energy at the duty cycle not measured: {e}")
    finally:
        backend.close()
    for figure in (energy, duty):
        if figure is not None:
            warnings.extend(_energy_warnings(name, figure))
    projection = duty_projection = None
    if battery is not None:
        if energy is not None:
            projection = _projection(battery, energy, float(battery["duty_hz"]))
        if duty is not None:
            duty_projection = _projection(battery, duty, float(battery["duty_hz"]))
    recording = None
    if opts.record_dir is not None:
        recording = {k: f"{name}{suffix}" for k, suffix, fig in (
            ("power", POWER_SUFFIX, energy), ("events", EVENTS_SUFFIX, energy),
            ("duty_power", ".duty" + POWER_SUFFIX, duty), ("duty_events", ".duty" + EVENTS_SUFFIX, duty),
        ) if fig is not None and fig.recording is not None}
    return VariantBench(
        name=name,
        file=variant["file"],
        runtime=figures.runtime,
        precision=variant.get("precision"),
        cold_start=figures.cold_start,
        latency=figures.latency,
        cpu_ms_per_inference=figures.cpu_ms_per_inference,
        peak_memory_mb=figures.peak_memory_mb,
        memory_provenance=figures.memory_provenance,
        energy=energy.to_dict() if energy is not None else None,
        battery=projection,
        energy_error=energy_error,
        accuracy=variant.get("accuracy"),
        file_sha256=file_sha256,
        duty_energy=duty.to_dict() if duty is not None else None,
        duty_battery=duty_projection,
        duty_energy_error=duty_error,
        recording=recording,
    )


def _energy_warnings(name: str, energy: EnergyResult) -> list[str]:
    """Call out a dynamic energy whose interval reaches zero: the meter could not separate the
    model from idle or background load."""
    lo, hi = energy.dynamic_spread_mj
    dyn = energy.dynamic_energy_per_inference_mj
    if lo > 0:  # NaN compares False: an interval that could not be computed is called out too
        return []
    per = "capture at the duty cycle" if energy.mode == "duty" else "inference"
    hint = (
        "; a model:<board>,scope=system estimate also counts other processes' load (the default "
        "scope=process counts only the bench's own CPU)"
        if energy.meter.startswith("model:")
        else ""
    )
    return [
        f"{name}: dynamic energy {dyn:.3g} mJ/{per} has an interval reaching zero "
        f"({lo:.3g} to {hi:.3g} mJ): the meter cannot separate the model from idle "
        f"({energy.idle_power_w:.3f} W idle vs {energy.active_power_w:.3f} W active){hint}; "
        "the battery projection counts the model's dynamic energy as "
        f"{max(dyn, 0.0):.3g} mJ (interval {max(lo, 0.0):.3g}-{max(hi, 0.0):.3g} mJ)"
    ]


def _manifest_sha256(bundle: Bundle) -> str:
    return hashlib.sha256((bundle.root / MANIFEST).read_bytes()).hexdigest()


def run_bench(bundle_path: str | Path, opts: BenchOptions) -> BenchResult:
    """Benchmark the bundle's variants on this board; refuses a bundle that fails verification."""
    for key, value in (("threads", opts.threads), ("runs", opts.runs), ("batch", opts.batch)):
        if value < 1:
            raise UsageError(f"--{key}: must be >= 1, got {value}")
    if opts.duty_hz is not None and not (math.isfinite(opts.duty_hz) and opts.duty_hz >= 0):
        raise UsageError(f"--duty: must be a finite number of captures per second >= 0, got {opts.duty_hz}")
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-bundle-", dir=opts.scratch_dir) as tmp:
        # an archive is unpacked here and removed afterwards; a folder is read in place
        bundle = load_bundle(
            bundle_path,
            extract_to=Path(tmp),
            trusted_keys=opts.trusted_keys,
            limits=opts.archive_limits,
        )
        return _run(bundle_path, bundle, opts)


def _run(bundle_path: str | Path, bundle: Bundle, opts: BenchOptions) -> BenchResult:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    variants = _resolve_variants(bundle, opts.variants)
    meter_spec, meter_info = _choose_meter(opts)
    sig = bundle.signature  # logged once the options are known good: a refusal stays one line
    opts.log(
        f"bundle {bundle.bundle_id} verified; "
        + (f"signed by trusted key {sig.key_id}" if sig.status == "trusted" else f"signature: {sig.status}")
    )
    battery, battery_why = battery_from_manifest(bundle.manifest, opts.duty_hz)
    warnings: list[str] = []
    if opts.quick:
        warnings.append(
            f"QUICK run: {opts.plan.windows} windows of >= {opts.plan.window_s:g} s, idle "
            f"{opts.plan.idle_s:g} s, {opts.runs} latency runs: a smoke test, not a benchmark"
        )
    if meter_info["kind"] == "estimated":
        warnings.append(
            f"energy is ESTIMATED by {meter_info['name']} (a CPU-utilisation power model), "
            "not measured; connect a power meter for measured figures"
        )
    if battery is None:
        warnings.append(f"no battery projection: {battery_why}")
    env_before = probe_environment(**opts.roots.as_kwargs())
    opts.log(f"environment: {env_before.summary}")
    identity = read_board_identity(proc_root=opts.roots.proc_root, devicetree_root=opts.roots.devicetree_root)
    if identity.board is None:
        warnings.append(
            f"board not recognised ({identity.model or 'no device-tree model'}): no figure from "
            "this run can count as measured on a target board"
        )
    if opts.measure_duty and not (battery or {}).get("duty_hz", opts.duty_hz):
        warnings.append("--duty 0: no captures at all, so no energy at the duty cycle is measured")
    inputs = make_inputs(bundle.manifest, n=max(opts.n_inputs, opts.batch), seed=0)
    opts.log(f"inputs: {inputs.source}")
    ctx = _Context(identity, bundle.bundle_id, meter_spec, battery)
    results = [_bench_variant(bundle, v, inputs, ctx, opts, warnings) for v in variants]
    env_after = probe_environment(**opts.roots.as_kwargs())
    throttle = throttle_warnings(env_before, env_after)
    warnings.extend(throttle)
    from edgekit import __version__

    return BenchResult(
        bundle={
            "path": str(Path(bundle_path)),
            "name": bundle.manifest.get("name"),
            "selected": bundle.manifest.get("selected"),
            "created_by": bundle.manifest.get("created_by"),
            "created_at": bundle.manifest.get("created_at"),
            "manifest_sha256": _manifest_sha256(bundle),
            "bundle_id": bundle.bundle_id,
            "signed_by": bundle.signature.key_id if bundle.signature.status == "trusted" else None,
            "budgets": bundle.manifest.get("budgets"),
        },
        bundle_id=bundle.bundle_id,
        board=identity.to_dict(),
        record_dir=str(opts.record_dir_shown) if opts.record_dir_shown is not None else None,
        started_at=started,
        duration_s=time.monotonic() - t0,
        quick=opts.quick,
        options={
            "variants": [v["name"] for v in variants],
            "threads": opts.threads,
            "runs": opts.runs,
            "warmup": opts.warmup,
            "batch": opts.batch,
            "duty_hz": opts.duty_hz,
            "measure_duty": opts.measure_duty,
            **opts.plan.to_dict(),
        },
        meter=meter_info,
        battery=battery,
        inputs=inputs.to_dict(),
        environment_before=env_before,
        environment_after=env_after,
        variants=tuple(results),
        warnings=tuple(warnings),
        throttled_during_run=throttled_during(env_before, env_after),
        tool=f"edgekit {__version__}",
    )
