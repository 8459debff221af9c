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
          "| energy mJ (estimated) | OFDM called unknown | budgets |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for v in r["variants"]:
        if v["status"] != "built":
            print(f"| {v['name']} | {v['status']}: {v['reason']} |||||||||")
            continue
        a, lat, e = v["accuracy"], v["latency"], v["energy"]
        fails = [c["budget"] for c in v["checks"] if c["status"] != "pass"]
        mark = " (shipped)" if v["name"] == r["selected"] else ""
        print(
            f"| {v['name']}{mark} | {v['size_bytes'] / 1024:.1f} | {a['accuracy']:.4f} "
            f"| {ref - a['accuracy']:+.4f} | {a['agreement_with_reference']:.4f} "
            f"| {lat['p50_ms']:.3f} | {lat['p99_ms']:.3f} | {lat['peak_memory_mb']:.0f} "
            f"| {e['energy_per_inference_mj']:.3f} | {a['ood']['ood_unknown_rate']:.2f} "
            f"| {'pass' if not fails else 'FAIL ' + ', '.join(fails)} |"
        )
    stages = ", ".join(f"{s['name']} {s['duration_s']:.1f} s" for s in r["stages"])
    print(f"\nVerdict **{r['verdict']}**, shipping `{r['selected']}`: {r['selection_reason']}. "
          f"Build time {r['duration_s']:.0f} s ({stages}).")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
