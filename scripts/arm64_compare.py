"""Run every variant of a bundle on reference captures and save the outputs, or compare two
such runs. Used by ``scripts/check_arm64.sh`` on the host (x86) and inside an arm64 Debian root
under qemu: the same inference path as ``edgekit run`` (a verified bundle, its preprocessing,
the backends, one capture at a time).

    python scripts/arm64_compare.py captures OUT.npz [--n 200] [--seed 8]
    python scripts/arm64_compare.py run BUNDLE CAPTURES.npz OUT.npz
    python scripts/arm64_compare.py compare X86.npz ARM64.npz
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np


def captures(out: str, n: int, seed: int) -> None:
    from edgekit.data.synth import generate, to_int16_iq

    ds = generate(n, seed=seed)
    np.savez(out, iq=to_int16_iq(ds.x), y=ds.y)  # int16, as on the wire


def run(bundle_path: str, caps: str, out: str) -> None:
    from edgekit.backends import open_backend
    from edgekit.bundle import load_bundle
    from edgekit.runtime.model import decode_iq, output_spec
    from edgekit.signals.preprocess import Pipeline

    bundle = load_bundle(bundle_path)
    iq = np.load(caps, allow_pickle=False)["iq"]
    x = np.concatenate([decode_iq(iq[i], 16.0) for i in range(len(iq))])
    xp = Pipeline.from_spec(bundle.manifest["preprocess"])(x)
    index, _ = output_spec(bundle.manifest)
    results: dict[str, np.ndarray] = {"preprocessed": xp}
    for v in bundle.manifest["variants"]:
        try:
            options = v.get("backend_options") or {}
            backend = open_backend(bundle.model_path(v["name"]), threads=1, **options)
        except Exception as e:  # reported, and missing from the comparison
            print(f"{platform.machine()}: {v['name']} cannot load: {e}", file=sys.stderr)
            continue
        with backend:
            name = backend.input_spec[0].name
            rows = [
                backend.run(xp[i : i + 1]) if index == 0 else backend.run_all({name: xp[i : i + 1]})[index]
                for i in range(len(xp))
            ]
        results[v["name"]] = np.concatenate(rows)
        print(f"{platform.machine()}: {v['name']} ({backend.name}) done", file=sys.stderr)
    np.savez(out, **results)


def compare(a_path: str, b_path: str) -> int:
    a, b = np.load(a_path), np.load(b_path)
    report: dict[str, object] = {}
    ok = True
    for key in a.files:
        if key not in b.files:
            report[key] = "did not run on arm64"
            ok = False
            continue
        entry: dict[str, float] = {"max_abs_diff": float(np.max(np.abs(a[key] - b[key])))}
        if key != "preprocessed":
            entry["argmax_agreement"] = float(np.mean(a[key].argmax(axis=1) == b[key].argmax(axis=1)))
            ok = ok and entry["argmax_agreement"] == 1.0
        report[key] = entry
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("captures")
    c.add_argument("out")
    c.add_argument("--n", type=int, default=200)
    c.add_argument("--seed", type=int, default=8)
    r = sub.add_parser("run")
    r.add_argument("bundle")
    r.add_argument("captures")
    r.add_argument("out")
    m = sub.add_parser("compare")
    m.add_argument("x86")
    m.add_argument("arm64")
    args = ap.parse_args()
    if args.cmd == "captures":
        captures(args.out, args.n, args.seed)
    elif args.cmd == "run":
        run(args.bundle, args.captures, args.out)
    else:
        return compare(args.x86, args.arm64)
    return 0


if __name__ == "__main__":
    sys.exit(main())
