#!/usr/bin/env python3
"""Print the README's reference-build table from a build's report.json.

    edgekit build models/rfclass-cnn/edgekit.toml && python scripts/readme_build_table.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str = "out/rfclass-cnn/report.json") -> int:
    r = json.loads(Path(path).read_text())
    ref = r.get("reference_accuracy")
    print("| variant | KiB | accuracy | drop vs fp32 | agreement | p50 ms | p99 ms | peak MiB "
          "| OOD score | score p50 ms | total p50 / p99 ms | peak MiB with score "
          "| energy mJ (estimated) | unknown, held out | budgets |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for v in r["variants"]:
        if v["status"] != "built":
            print(f"| {v['name']} | {v['status']}: {v['reason']} |||||||||||||")
            continue
        a, lat, e = v["accuracy"], v["latency"], v["energy"]
        fails = [c["budget"] for c in v["checks"] if c["status"] != "pass"]
        mark = " (shipped)" if v["name"] == r["selected"] else ""
        rep = v.get("ood_report") or {}
        chosen = next((row for row in rep.get("rows", []) if row["chosen"]), None)
        held = (
            " / ".join(f"{k} {x:.2f}" for k, x in chosen["heldout_unknown"].items())
            if chosen
            else f"{a['ood']['ood_unknown_rate']:.2f}"
        )
        sc = v.get("score_cost")  # the chosen score, timed in the same runs as the model
        cost = (
            f"{sc['p50_ms']:.3f} | {sc['total_p50_ms']:.3f} / {sc['total_p99_ms']:.3f} "
            f"| {sc['total_peak_memory_mb']:.0f}" if sc else "— | — | —"
        )
        print(
            f"| {v['name']}{mark} | {v['size_bytes'] / 1024:.1f} | {a['accuracy']:.4f} "
            f"| {ref - a['accuracy']:+.4f} | {a['agreement_with_reference']:.4f} "
            f"| {lat['p50_ms']:.3f} | {lat['p99_ms']:.3f} | {lat['peak_memory_mb']:.0f} "
            f"| {a['ood']['score']} | {cost} | {e['energy_per_inference_mj']:.3f} | {held} "
            f"| {'pass' if not fails else 'FAIL ' + ', '.join(fails)} |"
        )
    sel = next((v for v in r["variants"] if v["name"] == r["selected"]), None)
    if sel and sel.get("ood_report"):
        rep = sel["ood_report"]
        print(f"\nOOD scores of `{sel['name']}` (threshold at "
              "the target in-distribution acceptance on the choice half; "
              f"held out: the other half):\n")
        print(f"| score | AUROC ({rep['choice_family']}) | {rep['choice_family']} unknown (choice) "
              "| in-dist. accepted (held out) | "
              + " | ".join(f"{f} unknown (held out)" for f in rep["heldout_families"])
              + " | score µs | memory KiB |")
        print("|---|---:|---:|---:|" + "---:|" * len(rep["heldout_families"]) + "---:|---:|")
        for row in rep["rows"]:
            if not row["available"]:
                continue
            name = f"**{row['score']}**" if row["chosen"] else row["score"]
            print(f"| {name} | {row['auroc']:.3f} | {row['unknown_rate']:.2f} "
                  f"| {row['heldout_accept_rate']:.3f} | "
                  + " | ".join(f"{row['heldout_unknown'][f]:.2f}" for f in rep["heldout_families"])
                  + f" | {row['latency_us']:.0f} | {row['memory_bytes'] / 1024:.0f} |")
    if sel and sel.get("calibration"):
        c = sel["calibration"]
        print(f"\nTemperature scaling of `{sel['name']}`: T = {c['temperature']:.3f}, ECE "
              f"{c['ece_before']:.4f} before, {c['ece_after']:.4f} after "
              f"({c['n_eval']} in-distribution evaluation captures).")
    stages = ", ".join(f"{s['name']} {s['duration_s']:.1f} s" for s in r["stages"])
    print(f"\nVerdict **{r['verdict']}**, shipping `{r['selected']}`: {r['selection_reason']}. "
          f"Build time {r['duration_s']:.0f} s ({stages}).")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
