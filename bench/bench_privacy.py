"""Do the audit's bootstrap intervals cover the truth, and how long does the audit take?

For a reference model, scores the model on a large sample of its training set (members) and of
the same recipe with a disjoint seed (non-members), takes the attack figures on all of it as the
"truth", then draws --trials audits of --rows members and non-members each (as the build does)
and counts how often each 95 % interval contains the truth. With ``[privacy] reference_models``
in the model's config, the calibrated attacks (reference_loss, lira_offline) are scored too, each
draw recomputing them on its own rows as the build does (the LiRA variance is pooled over the
audited rows). Also prints the audit's time for one draw against the time of scoring the same
rows once (the baseline measured in this run).

    .venv/bin/python bench/bench_privacy.py [--model rfclass-gbt] [--rows 1000] [--trials 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekit.builder.stages.audit import load_group, reference_files  # noqa: E402
from edgekit.builder.stages.data import preprocess  # noqa: E402
from edgekit.builder.stages.scoring import score_file  # noqa: E402
from edgekit.config import load_config  # noqa: E402
from edgekit.privacy.attacks import attack_scores  # noqa: E402
from edgekit.privacy.metrics import attack_figures  # noqa: E402
from edgekit.signals.preprocess import Pipeline  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="rfclass-gbt", choices=["rfclass-gbt", "rfclass-cnn"])
    ap.add_argument("--rows", type=int, default=1000, help="rows per group in one audit draw")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--truth-rows", type=int, default=20000, help="rows per group for the truth")
    args = ap.parse_args()
    cfg = load_config(ROOT / "models" / args.model / "edgekit.toml")
    labels, p = list(cfg.model.labels), cfg.privacy
    pipe = Pipeline.from_spec(cfg.preprocess)
    model = cfg.model_path
    graph = onnx.load(str(model), load_external_data=False).graph
    outs = [o.name for o in graph.output]
    out = outs.index(cfg.model.output_name) if cfg.model.output_name else 0
    input_name = graph.input[0].name

    tmp = Path(tempfile.mkdtemp(prefix="bench-privacy-"))
    refs = reference_files(p.references, Path(cfg.base_dir), tmp)

    def scores(spec: str, key: str, seed: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        ds, y = load_group(spec, key, labels, args.truth_rows, seed, ROOT)
        x = preprocess(pipe, ds.x, spec)
        ref = [score_file(r, x, input_name, out, 1) for r in refs]
        return score_file(model, x, input_name, out, 1), ref, y

    t0 = time.perf_counter()
    sm, rm, ym = scores(p.members, "members", 1)
    sn, rn, yn = scores(p.non_members, "non_members", 2)
    score_s = time.perf_counter() - t0
    shutil.rmtree(tmp)

    def attacks(im: np.ndarray, ino: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
        """Every attack's scores on these member and non-member rows, scored together."""
        both = np.concatenate([sm[im], sn[ino]])
        ref = [np.concatenate([a[im], b[ino]]) for a, b in zip(rm, rn, strict=True)] or None
        return attack_scores(both, np.concatenate([ym[im], yn[ino]]), cfg.model.output, ref), len(im)

    everything, n_all = attacks(np.arange(len(ym)), np.arange(len(yn)))
    print(f"{args.model}: truth from {len(ym)} members, {len(yn)} non-members, {len(refs)} "
          f"reference models (all scored in {score_s:.1f} s; host shared with other work)")
    for attack in everything:
        rng = np.random.default_rng(0)  # the same draws for every attack
        a_all = everything[attack]
        truth = attack_figures(attack, "", a_all[:n_all], a_all[n_all:], bootstrap=0)
        cover = {"auc": 0, "advantage": 0, "tpr_at_1pct_fpr": 0}
        t1 = time.perf_counter()
        for i in range(args.trials):
            im = rng.choice(len(ym), args.rows, replace=False)
            ino = rng.choice(len(yn), args.rows, replace=False)
            got, n_m = attacks(im, ino)
            a = got[attack]
            f = attack_figures(attack, "", a[:n_m], a[n_m:], bootstrap=200, seed=i)
            for k in cover:
                lo, hi = getattr(f, f"{k}_ci")
                cover[k] += lo <= getattr(truth, k) <= hi
        per = (time.perf_counter() - t1) / args.trials
        print(f"  {attack}: truth AUC {truth.auc:.3f}, advantage {truth.advantage:.3f}, "
              f"TPR@1%FPR {truth.tpr_at_1pct_fpr:.3f}; 95 % intervals of {args.trials} audits of "
              f"{args.rows}+{args.rows} rows contain it: "
              + ", ".join(f"{k} {v}/{args.trials}" for k, v in cover.items())
              + f"; bootstrap {per:.2f} s per audit vs scoring all rows once {score_s:.1f} s "
              f"(x{per / score_s:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
