"""Do the audit's 95 % intervals hold the truth, and how long does the audit take?

Three parts, each printed with how it was obtained:

1. Simulated audits (numpy only): members score N(d, 1), non-members N(0, 1), so the truth is
   known in closed form (AUC = Phi(d / sqrt 2), advantage = 2 Phi(d / 2) - 1, TPR at FPR f =
   Phi(d - z_{1-f})); counts how often each 95 % interval holds it over --sim-trials audits.
2. The audit of each reference model as the build's audit stage runs it on the fp32 ONNX file
   (rows of its [privacy] recipes, preprocessing, scoring of the model and its reference models,
   every attack with its intervals): wall and process CPU time per phase, against the previous
   implementation measured in the same run (the whole recipe generated then subsampled, each
   group scored in its own session, a bootstrap loop over every figure); --no-baseline skips it.
3. With --real-trials N: the reference model's figures on --truth-rows members and non-members
   as the "truth", and N audits of --rows rows drawn from those pools (not fully independent of
   the truth: the same pools).

    .venv/bin/python bench/bench_privacy.py                      # parts 1 and 2, both models
    .venv/bin/python bench/bench_privacy.py --model rfclass-gbt --real-trials 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import NormalDist

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.builder.stages.audit import load_group, reference_files, score_groups  # noqa: E402
from edgekit.builder.stages.data import preprocess  # noqa: E402
from edgekit.builder.stages.scoring import score_file  # noqa: E402
from edgekit.config import load_config  # noqa: E402
from edgekit.data.dataset import load_source  # noqa: E402
from edgekit.privacy.attacks import attack_scores  # noqa: E402
from edgekit.privacy.audit import audit_outputs, subsample  # noqa: E402
from edgekit.privacy.metrics import attack_figures, roc_auc, roc_curve  # noqa: E402
from edgekit.signals.preprocess import Pipeline  # noqa: E402

FIGURES = ("auc", "advantage", "tpr_at_1pct_fpr", "tpr_at_01pct_fpr")


def simulate(trials: int, rows: int) -> None:
    phi = NormalDist()
    print(f"1. simulated audits: {trials} per separation d, {rows} members + {rows} non-members, "
          "95 % intervals; truth in closed form")
    for d in (0.5, 1.0, 1.5):
        truth = {
            "auc": phi.cdf(d / 2**0.5),
            "advantage": 2 * phi.cdf(d / 2) - 1,
            "tpr_at_1pct_fpr": phi.cdf(d - phi.inv_cdf(0.99)),
            "tpr_at_01pct_fpr": phi.cdf(d - phi.inv_cdf(0.999)),
        }
        rng = np.random.default_rng(int(d * 100))
        held = dict.fromkeys(FIGURES, 0)
        width: dict[str, list[float]] = {k: [] for k in FIGURES}
        for i in range(trials):
            f = attack_figures("sim", "", rng.normal(d, 1, rows), rng.normal(0, 1, rows), seed=i)
            for k in FIGURES:
                lo, hi = getattr(f, f"{k}_ci")
                held[k] += lo <= truth[k] <= hi
                width[k].append(hi - lo)
        print(f"   d={d}: " + "; ".join(
            f"{k} {truth[k]:.3f} held {held[k]}/{trials} (median width {np.median(width[k]):.3f})"
            for k in FIGURES))


@contextmanager
def clock(into: dict[str, tuple[float, float]], key: str) -> Iterator[None]:
    """Wall and this process's CPU time (all threads) of the block, added under ``key``."""
    w, c = time.perf_counter(), time.process_time()
    yield
    dw, dc = time.perf_counter() - w, time.process_time() - c
    old = into.get(key, (0.0, 0.0))
    into[key] = (old[0] + dw, old[1] + dc)


def _old_figures(m: np.ndarray, n: np.ndarray, bootstrap: int, seed: int) -> None:
    """The previous implementation's intervals: a loop of resamples, every figure each time."""
    rng = np.random.default_rng(seed)
    for _ in range(bootstrap):
        a, b = rng.choice(m, len(m)), rng.choice(n, len(n))
        fpr, tpr = roc_curve(a, b)
        roc_auc(a, b)
        np.max(tpr - fpr), np.max(tpr[fpr <= 0.01]), np.max(tpr[fpr <= 0.001])


class Model:
    """A reference model's config, file, output and reference models (as plain ONNX files)."""

    def __init__(self, name: str, scratch: Path) -> None:
        self.cfg = load_config(ROOT / "models" / name / "edgekit.toml")
        self.name, self.p = name, self.cfg.privacy
        self.labels = list(self.cfg.model.labels)
        self.pipe = Pipeline.from_spec(self.cfg.preprocess)
        graph = onnx.load(str(self.cfg.model_path), load_external_data=False).graph
        outs = [o.name for o in graph.output]
        self.out = outs.index(self.cfg.model.output_name) if self.cfg.model.output_name else 0
        self.input = graph.input[0].name
        self.refs = reference_files(self.p.references, Path(self.cfg.base_dir), scratch)

    def x(
        self, spec: str, key: str, rows: int, seed: int, *, whole: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        if whole:  # the previous way: the whole recipe, then a seeded subsample
            ds = load_source(spec, base_dir=Path(self.cfg.base_dir))
            ds = ds.subset(subsample(len(ds), rows, seed))
            lookup = {n: i for i, n in enumerate(self.labels)}
            y = np.array([lookup.get(str(c), -1) for c in np.asarray(ds.labels)[ds.y]])
            ds, y = ds.subset(np.flatnonzero(y >= 0)), y[y >= 0]
        else:
            ds, y = load_group(spec, key, self.labels, rows, seed, Path(self.cfg.base_dir))
        return preprocess(self.pipe, ds.x, spec), y


def audit_time(m: Model, baseline: bool) -> None:
    """Part 2: one audit of the fp32 file as the stage runs it; the previous way after it."""
    p, th, rows = m.p, m.cfg.profile.threads, m.p.max_rows
    runs: dict[str, Callable[[dict[str, tuple[float, float]]], None]] = {}

    def now(t: dict[str, tuple[float, float]]) -> None:
        with clock(t, "rows+preprocess"):
            mx, my = m.x(p.members, "members", rows, 1)
            nx, ny = m.x(p.non_members, "non_members", rows, 2)
        with clock(t, "scoring"):
            refs = [score_groups(r, mx, nx, m.input, m.out, th) for r in m.refs]
            ms, ns = score_groups(m.cfg.model_path, mx, nx, m.input, m.out, th)
        with clock(t, "attacks+intervals"):
            audit_outputs(member_scores=ms, member_y=my, non_member_scores=ns, non_member_y=ny,
                          output=m.cfg.model.output, members="", non_members="",
                          bootstrap=p.bootstrap, member_reference=[a for a, _ in refs],
                          non_member_reference=[b for _, b in refs])

    def before(t: dict[str, tuple[float, float]]) -> None:
        with clock(t, "rows+preprocess"):
            mx, my = m.x(p.members, "members", rows, 1, whole=True)
            nx, ny = m.x(p.non_members, "non_members", rows, 2, whole=True)
        with clock(t, "scoring"):
            mr = [score_file(r, mx, m.input, m.out, th) for r in m.refs]
            nr = [score_file(r, nx, m.input, m.out, th) for r in m.refs]
            ms = score_file(m.cfg.model_path, mx, m.input, m.out, th)
            ns = score_file(m.cfg.model_path, nx, m.input, m.out, th)
        with clock(t, "attacks+intervals"):
            y = np.concatenate([my, ny])
            refs = [np.concatenate([a, b]) for a, b in zip(mr, nr, strict=True)] or None
            s = attack_scores(np.concatenate([ms, ns]), y, m.cfg.model.output, refs)
            for v in s.values():
                _old_figures(v[: len(my)], v[len(my):], p.bootstrap, 0)

    runs["now"] = now
    if baseline:
        runs["before"] = before
    got = {}
    for label, fn in runs.items():
        t: dict[str, tuple[float, float]] = {}
        with clock(t, "total"):
            fn(t)
        got[label] = t
        print(f"   {m.name} {label}: " + ", ".join(
            f"{k} {w:.1f} s wall / {c:.1f} s CPU" for k, (w, c) in t.items()))
    if baseline:
        (w0, c0), (w1, c1) = got["before"]["total"], got["now"]["total"]
        print(f"   {m.name}: now / before = x{w1 / w0:.2f} wall, x{c1 / c0:.2f} CPU")


def real_coverage(m: Model, rows: int, trials: int, truth_rows: int) -> None:
    """Part 3: intervals of audits drawn from large pools against the pools' figures."""
    t0 = time.perf_counter()
    mx, ym = m.x(m.p.members, "members", truth_rows, 1)
    nx, yn = m.x(m.p.non_members, "non_members", truth_rows, 2)
    refs = [score_groups(r, mx, nx, m.input, m.out, 1) for r in m.refs]
    sm, sn = score_groups(m.cfg.model_path, mx, nx, m.input, m.out, 1)
    score_s = time.perf_counter() - t0

    def attacks(im: np.ndarray, ino: np.ndarray) -> dict[str, np.ndarray]:
        ref = [np.concatenate([a[im], b[ino]]) for a, b in refs] or None
        return attack_scores(np.concatenate([sm[im], sn[ino]]), np.concatenate([ym[im], yn[ino]]),
                             m.cfg.model.output, ref)

    everything = attacks(np.arange(len(ym)), np.arange(len(yn)))
    print(f"3. {m.name}: truth from {len(ym)} members, {len(yn)} non-members, {len(refs)} "
          f"reference models (generated and scored in {score_s:.1f} s); {trials} audits of "
          f"{rows} + {rows} rows drawn from them")
    for attack, a_all in everything.items():
        truth = attack_figures(attack, "", a_all[: len(ym)], a_all[len(ym):], bootstrap=0)
        rng = np.random.default_rng(0)  # the same draws for every attack
        held = dict.fromkeys(FIGURES, 0)
        for i in range(trials):
            im = rng.choice(len(ym), rows, replace=False)
            ino = rng.choice(len(yn), rows, replace=False)
            a = attacks(im, ino)[attack]
            f = attack_figures(attack, "", a[:rows], a[rows:], bootstrap=200, seed=i)
            for k in FIGURES:
                lo, hi = getattr(f, f"{k}_ci")
                held[k] += lo <= getattr(truth, k) <= hi
        print(f"   {attack}: " + "; ".join(
            f"{k} {getattr(truth, k):.3f} held {held[k]}/{trials}" for k in FIGURES))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", choices=["rfclass-gbt", "rfclass-cnn"],
                    help="reference model(s) for parts 2 and 3 (default: both)")
    ap.add_argument("--sim-trials", type=int, default=1000, help="simulated audits per separation")
    ap.add_argument("--sim-rows", type=int, default=1000, help="rows per group of a simulated audit")
    ap.add_argument("--no-baseline", action="store_true", help="skip the previous implementation")
    ap.add_argument("--real-trials", type=int, default=0, help="part 3's audits (0: skip part 3)")
    ap.add_argument("--rows", type=int, default=1000, help="rows per group of a part 3 audit")
    ap.add_argument("--truth-rows", type=int, default=20000, help="rows per group for the truth")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"host: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          "(1 / 5 / 15 min; wall times on a shared host measure its contention)")
    if args.sim_trials:
        simulate(args.sim_trials, args.sim_rows)
    scratch = Path(tempfile.mkdtemp(prefix="bench-privacy-"))
    try:
        models = [Model(name, scratch) for name in args.model or ["rfclass-gbt", "rfclass-cnn"]]
        print("2. one audit of the fp32 ONNX file as the audit stage runs it ([privacy] max_rows, "
              "bootstrap and reference models of the model's config)")
        for m in models:
            audit_time(m, not args.no_baseline)
        if args.real_trials:
            for m in models:
                real_coverage(m, args.rows, args.real_trials, args.truth_rows)
    finally:
        shutil.rmtree(scratch)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
