"""The profile and judge stages: host latency and memory of every built variant, int8 against
fp32, energy estimates, target results when given, the budgets and the verdict.

The chosen OOD score (the ``ood`` stage's choice, ``VariantResult.meta["ood"]``) is timed with
each variant, in the same worker and runs, because the daemon pays it on every capture: the
energy estimate and the budgets judge model + score (``edgekit.budget.device_latency``)."""

from __future__ import annotations

import contextlib
import dataclasses
import platform
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit.budget import BudgetContext, check_scenarios, check_variant, pareto_front, select_variant
from edgekit.builder.compare import compare_int8
from edgekit.builder.energy_estimate import estimate_energy
from edgekit.builder.feature_costs import feature_cost_table
from edgekit.builder.profile import ProfileAttempt, ProfileJob, host_description, profile_variants
from edgekit.builder.stages.context import Run, count
from edgekit.builder.target_results import apply_target_results
from edgekit.logs import LOGS_DIR
from edgekit.results import BuildResult, VariantResult
from edgekit.signals.ood import FEATURE_SCORES
from edgekit.signals.scores import logit_score

__all__ = ["judge", "profile"]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"edgekit": __version__, "python": platform.python_version()}
    for name in ("numpy", "onnx", "onnxruntime", "ai-edge-litert", "tflite-runtime"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def profile(run: Run) -> Run:
    """Stage ``profile``: host figures, int8 vs fp32, estimated energy."""
    cfg, prepared, pipe = run.cfg, run.need(run.prepared, "prepared"), run.need(run.pipe, "pipe")
    raw_sample = run.eval_ds or run.cal_ds
    with run.timer.stage("profile") as d:
        if raw_sample is not None:
            sample = raw_sample.x[: prepared.fixed_batch or cfg.profile.batch]
            prep_spec = pipe.to_spec()
        else:
            shape = [prepared.fixed_batch or cfg.profile.batch, *prepared.input_shape[1:]]
            sample = np.zeros(shape, dtype=np.float32)
            prep_spec = []
            run.warnings.append("no data configured: latency measured on an all-zero input")
        jobs = [ProfileJob(vr.name, run.staging / vr.path, run.backend_opts[vr.name],
                           _score_spec(run, vr) if raw_sample is not None else None)
                for vr in run.built]
        attempt = _timed(run, jobs, sample, prep_spec, d) if jobs else None
        for vr in run.built:
            if attempt is not None:
                vr.latency = attempt.latency[vr.name]
                vr.score_cost = attempt.score_cost.get(vr.name)
                sc = vr.score_cost
                run.log(
                    f"  {vr.name}: p50 {vr.latency.p50_ms:.3g} ms, p99 {vr.latency.p99_ms:.3g} ms "
                    f"(CPU p99 {vr.latency.cpu_ms_p99:.3g} ms), peak "
                    f"{vr.latency.peak_memory_mb:.0f} MiB"
                    + (f"; with the {sc.score} score ({sc.p50_ms:.3g} ms p50): p50 "
                       f"{sc.total_p50_ms:.3g} ms, p99 {sc.total_p99_ms:.3g} ms" if sc else "")
                )
        for vr in run.built:
            if vr.latency is not None:
                vr.energy = estimate_energy(vr.latency, cfg.target.board, cfg.battery,
                                            score=vr.score_cost)
        scored = sum(1 for vr in run.built if vr.score_cost is not None)
        d.append(f"{count(len(run.built), 'variant')}, {cfg.profile.runs} runs each, host figures"
                 + (f" (with the chosen OOD score on {scored})" if scored else "")
                 + f"; energy estimated for {cfg.target.board}")
        for line in compare_int8(run.built):
            run.log(f"  {line}")
            run.warnings.append(line)
        if run.model is not None:
            run.feature_costs = feature_cost_table(
                cfg.preprocess, raw_sample.x if raw_sample else None, run.model
            )
    return run


def _score_spec(run: Run, vr: VariantResult) -> dict[str, Any]:
    """What the profile worker needs to score like the daemon: the ood stage's choice for this
    variant; when the ood stage did not run, the logit score the validate stage calibrated
    (``signals.scores.logit_score``), which the daemon then computes."""
    ood = vr.meta.get("ood") or {}
    stats = ood.get("statistics")
    kind = str(ood.get("score") or logit_score(run.cfg.ood.score))
    return {
        "kind": kind,
        "output_kind": run.cfg.model.output,
        "output_index": run.out_index,
        # the daemon reads the features output only for a feature score
        "features_index": ood.get("features_output") if kind in FEATURE_SCORES else None,
        "input_name": run.input_name,
        "temperature": float(ood.get("temperature") or 1.0),
        "statistics": str(run.staging / stats) if stats else None,
    }


def _timed(run: Run, jobs: list[ProfileJob], sample: np.ndarray, prep_spec: list[dict[str, Any]],
           d: list[str]) -> ProfileAttempt:
    """Time the variants interleaved; again (at most ``profile.max_reruns`` times) while the
    timing shows host interference. The last attempt is the one reported."""
    cfg = run.cfg.profile
    earlier: list[str] = []
    attempt_no = 0
    while True:
        attempt_no += 1
        attempt = profile_variants(
            jobs, preprocess=prep_spec, sample=sample, threads=cfg.threads, runs=cfg.runs,
            warmup=cfg.warmup, rounds=cfg.rounds, seed=attempt_no - 1,
            scratch_dir=run.scratch, log_dir=run.staging / LOGS_DIR,
        )  # fmt: skip
        run.log(f"  timing {attempt_no}: {attempt.rounds} interleaved rounds; {attempt.host.text()}")
        if not attempt.interference or attempt_no > cfg.max_reruns:
            break
        signs = ", ".join(sign.split(" (")[0] for sign in attempt.interference)  # kinds only
        run.log(f"  host interference ({signs}): timing again ({attempt_no} of "
                f"at most {cfg.max_reruns + 1})")
        earlier.append(f"attempt {attempt_no}: {signs}")
    for lat in attempt.latency.values():
        lat.attempt = attempt_no
        if earlier:  # the earlier attempts' signs are said once, in the stage detail
            lat.provenance += (f"; attempt {attempt_no} of {attempt_no}, re-timed after host "
                               "interference (see the profile stage)")
    if earlier:
        d.append(f"timed {attempt_no} times after host interference ({' | '.join(earlier)})")
    if attempt.interference:
        run.warnings.append(
            "host interference while timing the variants"
            + (f" (also after {attempt_no - 1} re-run(s))" if attempt_no > 1 else "")
            + f": {'; '.join(attempt.interference)}. The p99 figures include the host's load; "
            "re-run on a quiet host or judge latency on the target (edgekit bench)"
        )
    return attempt


def _apply_target(run: Run, d: list[str]) -> None:
    """The bench's figures replace the host's; a quick or other-shape bench is said so."""
    bench, target, prepared = run.bench, run.target, run.need(run.prepared, "prepared")
    if target is None or bench is None:
        return
    for note in apply_target_results(
        run.built, bench, run.cfg.battery, str(target), target_board=run.cfg.target.board
    ):
        run.log(f"  {note}")
        d.append(note)
    timed = list(bench.inputs.get("shape") or [])[1:]
    fed_directly = not bench.inputs.get("preprocess_applied", True)
    if fed_directly and timed and timed != prepared.input_shape[1:]:
        run.warnings.append(
            f"target results {target} timed inputs of {timed} per sample, but this build "
            f"validated {prepared.input_shape[1:]}: the latency budgets were judged on "
            "another input size (re-run edgekit bench on this build's bundle)"
        )
    if bench.quick:
        run.warnings.append(
            f"target results {target} come from `edgekit bench --quick` (fewer runs and "
            "shorter energy windows): budgets were judged on quick figures"
        )


def judge(run: Run) -> Run:
    """Stage ``judge``: budgets per variant, the selection and the verdict; the BuildResult."""
    cfg, built, prepared = run.cfg, run.built, run.need(run.prepared, "prepared")
    with run.timer.stage("judge") as d:
        _apply_target(run, d)
        bctx = BudgetContext(run.ref_acc, cfg.slices.min_size, cfg.budgets.require_measured_energy)
        for vr in built:
            vr.checks = check_variant(vr, cfg.budgets, bctx) + check_scenarios(vr, cfg.scenarios)
        chosen, why = select_variant(built)
        front = pareto_front(built)
        if run.stopped_by is not None:
            chosen, why = None, (
                f"{run.stopped_by} failed to build and the build stopped there (run with "
                "--keep-going to build the other variants and judge those)"
            )
        verdict = "pass" if chosen is not None else "rejected"
        d.append(f"verdict {verdict}" + (f", ships {chosen.name}" if chosen else ""))
    ref_acc = run.ref_acc
    run.result = BuildResult(
        model_name=cfg.model.name or cfg.model_path.stem,
        config_path=cfg.source,
        model_path=str(cfg.model_path),
        verdict=verdict,  # type: ignore[arg-type]
        selected=chosen.name if chosen else None,
        selection_reason=why,
        variants=run.results,
        pareto=front,
        stages=run.timer.timings,
        reference="the input fp32 model under onnxruntime"
        + (f", input fixed to {prepared.input_shape}" if prepared.notes else "")
        # accuracy in %, as everywhere in the reports (one vocabulary of figures)
        + (f" (accuracy {100 * ref_acc:.2f}%)" if ref_acc is not None else ""),
        host={"description": host_description(), "machine": platform.machine()},
        versions=_versions(),
        started_at=run.started,
        duration_s=0.0,
        budgets=dataclasses.asdict(cfg.budgets),
        warnings=run.warnings,
        reference_accuracy=ref_acc,
        feature_costs=run.feature_costs,
        logs=_logs(run),
    )
    return run


def _logs(run: Run) -> list[str]:
    """The log files written so far, relative to the output folder (the report names them)."""
    found = sorted((run.staging / LOGS_DIR).glob("*.log")) + sorted(run.work.glob("*.log"))
    return [p.relative_to(run.staging).as_posix() for p in found]
