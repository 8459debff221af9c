"""Coverage study: many seeds of every case through the real CLI, coverage counted per case.

``.venv/bin/python -m tests.energy.cleanroom.study --seeds 40`` (from the worktree) prints, per
case, how often the reported interval held the truth (total and dynamic energy), the warnings by
cause, how often a host-clocked trace had its clock "refined", and every miss or refusal.
``--subprocess`` runs the console script instead of its entry point in this process. The test
suite runs ten seeds of the same cases (test_coverage.py).
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from .cases import CASES
from .runner import attribute, attribute_inprocess, make

__all__ = ["main", "trial"]


def trial(case_idx: int, seed: int, folder: Path, subprocess: bool = False) -> dict[str, Any]:
    """One recording of one case through the CLI: the figure, the truth, and whether it held."""
    case = CASES[case_idx]
    rec = make(case, seed, folder)
    run = attribute if subprocess else attribute_inprocess
    res = run(rec.power, rec.events, "--json")
    t = rec.schedule.truth
    row: dict[str, Any] = {"case": case.name, "seed": seed, "rc": res.rc, "truth": t}
    if res.rc != 0:
        row["err"] = res.err.strip() or res.out.strip()[:300]
        return row
    d = res.data
    lo, hi = d["spread_mj"]
    dlo, dhi = d["dynamic_spread_mj"]
    row.update(data=d, tot_in=lo <= t.total_j * 1e3 <= hi, dyn_in=dlo <= t.dynamic_j * 1e3 <= dhi,
               causes=[w.split(":", 1)[0] for w in d["warnings"]])
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--case", type=str, default=None, help="only cases whose name contains this")
    ap.add_argument("--subprocess", action="store_true")
    a = ap.parse_args()
    overall: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(CASES):
            if a.case and a.case not in case.name:
                continue
            c: Counter[str] = Counter()
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                r = trial(i, seed, Path(tmp), a.subprocess)
                c["trials"] += 1
                if r["rc"] != 0:
                    c[f"exit {r['rc']}"] += 1
                    print(f"  {case.name} seed {seed}: exit {r['rc']}: {r['err']}")
                    continue
                c["total held"] += r["tot_in"]
                c["dynamic held"] += r["dyn_in"]
                if case.meter.clock == "host" and "refined" in r["data"]["clock"]["method"]:
                    c["host clock refined"] += 1
                for cause in r["causes"]:
                    c[f"warn {cause}"] += 1
                if not (r["tot_in"] and r["dyn_in"]):
                    t, d = r["truth"], r["data"]
                    (lo, hi), (dlo, dhi) = d["spread_mj"], d["dynamic_spread_mj"]
                    print(f"  miss {case.name} seed {seed}: total {d['energy_per_inference_mj']:.5g} "
                          f"[{lo:.5g}, {hi:.5g}] truth {t.total_j * 1e3:.5g}; dynamic "
                          f"{d['dynamic_energy_per_inference_mj']:.5g} [{dlo:.5g}, {dhi:.5g}] "
                          f"truth {t.dynamic_j * 1e3:.5g}")
            overall.update(c)
            print(f"{case.name}: {dict(c)}", flush=True)
    print(f"all: {dict(overall)}")


if __name__ == "__main__":
    main()
