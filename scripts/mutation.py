"""Helper of ``scripts/mutation.sh``: one mutmut workspace per module, and the score of each.

mutmut 3 reads ``[tool.mutmut]`` from the ``pyproject.toml`` of the folder it runs in, copies the
source into ``mutants/`` there and records, per function, which of the selected tests run it.
To mutate one module with only the tests that cover it, each module gets its own workspace
``mutants/<name>/`` (links to the packages and tests, and the repository's ``pyproject.toml`` with
``only_mutate`` and the test selection narrowed to that module). Modules and their tests are the
table below; the repository-wide ``[tool.mutmut]`` (all of them at once) stays usable as it is.

Score = killed / (total - equivalent): a timeout counts as killed (the tests noticed), "no tests"
and "suspicious" count as not killed, and the mutants listed in ``bench/mutation_equivalent.txt``
(id, then the reason) leave the denominator.

Second pass, in a fresh process (modules marked ``import_time``): mutmut runs each mutant in a
worker forked from a process that has already imported the package, so a mutant in code that
runs at import time (``_energy_check``
and ``_membership`` build the budget registry's evaluators when ``edgekit.budget`` is imported)
is never active there and always "survives". Every survivor of the forked run is therefore run
once more as ``MUTANT_UNDER_TEST=<id> python -m pytest <the module's tests>`` in a new
interpreter, where the mutant is active from the first import; the mutants that fail a test
there are counted killed ("killed, fresh process" in ``recheck.json``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "mutants"
MARKER = ".edgekit-mutation-workspace"  # proves a workspace is this script's before it is removed
EQUIVALENT = ROOT / "bench" / "mutation_equivalent.txt"
LINKED = ("edgekit", "firmware_bridge", "tests", "bench", "models", "docs", "scripts", "README.md")


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    tests: tuple[str, ...]
    # -k expression leaving out tests that cost seconds per mutant and add nothing for this module
    # (the C codec's cross-checks rebuild C in every forked test run; a 10 s property test)
    keyword: str = ""
    # functions that run at import (registry factories): survivors need the fresh-process recheck
    import_time: bool = False
    # mutmut stops a mutant's tests after (estimate + 1 s) x multiplier x 2 CPU seconds (default
    # multiplier 15); a module whose mutants loop forever on a virtual clock gets a smaller one
    timeout_multiplier: float | None = None


_NO_C = "not test_c_ and not test_both_codecs and not test_crc_table"
_NO_SLOW_DECODER = "not test_damage_costs_the_damaged_packets_only"
# 100+ simulated measurements checking accuracy against a truth: a minute per surviving mutant; the
# schedule they exercise is pinned by test_attribution_pinned.py (and the smoke test uses the real clock)
_NO_ACCURACY_GRID = "not test_grid_ and not test_accuracy_property and not test_estimated_meter_result"


MODULES: tuple[Module, ...] = (
    Module("budget", "edgekit/budget.py", ("tests/test_budget.py", "tests/test_budget_boundaries.py",
                                           "tests/test_budget_score.py", "tests/test_budget_device.py"),
           import_time=True),
    Module("battery", "edgekit/energy/battery.py", ("tests/energy/test_battery.py",
                                                    "tests/energy/test_battery_pinned.py")),
    Module("attribution", "edgekit/energy/attribution.py", ("tests/energy/test_attribution.py",
                                                            "tests/energy/test_attribution_pinned.py",
                                                            "tests/energy/test_attribution_schedule.py"),
           keyword=_NO_ACCURACY_GRID, timeout_multiplier=3.0),
    Module("codec", "firmware_bridge/codec.py", ("tests/firmware_bridge/test_fb_codec.py",
                                                 "tests/firmware_bridge/test_fb_vectors.py",
                                                 "tests/firmware_bridge/test_decoder_guards.py"),
           keyword=f"{_NO_C} and {_NO_SLOW_DECODER}"),
    Module("protocol", "firmware_bridge/protocol.py", ("tests/firmware_bridge/test_fb_decoder.py",
                                                       "tests/firmware_bridge/test_decoder_guards.py"),
           keyword=_NO_SLOW_DECODER),
    Module("bundle-verify", "edgekit/bundle/verify.py", ("tests/bundle/test_verified_loading.py",
                                                         "tests/bundle/test_refusals.py"),
           timeout_multiplier=3.0),  # mutants of the chunked hash read loop forever
    Module("bundle-archive", "edgekit/bundle/archive.py", ("tests/bundle/test_archive.py",
                                                           "tests/bundle/test_archive_pinned.py",
                                                           "tests/bundle/test_refusals.py")),
    Module("bundle-write", "edgekit/bundle/write.py", ("tests/bundle/test_shipped_variants.py",
                                                       "tests/bundle/test_archive.py")),
    Module("metrics", "edgekit/builder/metrics.py", ("tests/builder/test_metrics.py",
                                                     "tests/builder/test_metrics_pinned.py")),
    Module("preprocess", "edgekit/signals/preprocess.py", ("tests/signals/test_preprocess.py",
                                                           "tests/signals/test_preprocess_independent.py")),
    # added since the last round (clock sync, TIME schedule, the engine's fallback rules, governor,
    # drift, blind SNR); each with its fast tests and the pinning tests written for the round
    Module("clock", "firmware_bridge/clock.py", ("tests/firmware_bridge/test_fb_clock.py",
                                                 "tests/firmware_bridge/test_fb_time_schedule.py",
                                                 "tests/firmware_bridge/test_clock_mut.py",
                                                 "tests/firmware_bridge/test_clock_incremental.py")),
    Module("session", "firmware_bridge/session.py", ("tests/firmware_bridge/test_fb_session.py",
                                                     "tests/firmware_bridge/test_fb_time_schedule.py",
                                                     "tests/firmware_bridge/test_session_mut.py"),
           timeout_multiplier=3.0),  # mutants of the schedule can poll a simulated clock forever
    Module("engine", "edgekit/runtime/engine.py", ("tests/runtime/test_engine.py",
                                                   "tests/runtime/test_engine_rules.py")),
    Module("governor", "edgekit/runtime/governor.py", ("tests/runtime/test_governor.py",
                                                       "tests/runtime/test_governor_rules.py")),
    Module("drift", "edgekit/runtime/drift.py", ("tests/runtime/test_drift.py",
                                                 "tests/runtime/test_drift_rules.py")),
    Module("snr", "edgekit/signals/snr.py", ("tests/signals/test_snr.py",
                                             "tests/signals/test_snr_reference.py",
                                             "tests/signals/test_spectral_bias.py")),
    # per-SNR-band OOD thresholds (which captures are "unknown" on the device), the device's
    # decision (score, threshold, band -> unknown) and the spectral score's path
    Module("bands", "edgekit/signals/bands.py", ("tests/signals/test_bands.py",
                                                 "tests/signals/test_bands_mut.py")),
    Module("ood-bands", "edgekit/builder/stages/ood_bands.py", ("tests/builder/test_ood_bands_mut.py",)),
    Module("model", "edgekit/runtime/model.py", ("tests/runtime/test_model_bands.py",
                                                 "tests/runtime/test_model_ood.py",
                                                 "tests/runtime/test_model_spectral.py",
                                                 "tests/runtime/test_model_decision.py",
                                                 "tests/runtime/test_model_capture.py")),
    Module("spectral", "edgekit/signals/spectral.py", ("tests/signals/test_spectral.py",
                                                       "tests/signals/test_spectral_bias.py",
                                                       "tests/signals/test_spectral_mut.py")),
    Module("integrate", "edgekit/energy/integrate.py", ("tests/energy/test_integrate_mut.py",
                                                        "tests/energy/test_attribution.py"),
           keyword=_NO_ACCURACY_GRID),
    # the durable journal (commit before announce, replay after a crash); the kill -9 tests of
    # test_durability.py take minutes per run and are left out
    Module("journal", "edgekit/runtime/journal.py", ("tests/runtime/test_journal.py",
                                                     "tests/runtime/test_group_commit.py",
                                                     "tests/runtime/test_journal_mut.py")),
)
BY_NAME = {m.name: m for m in MODULES}


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _module(name: str) -> Module:
    if name not in BY_NAME:
        sys.exit(f"mutation: unknown module {name!r}; accepted: {', '.join(BY_NAME)}")
    return BY_NAME[name]


def prepare(name: str) -> Path:
    """A fresh workspace ``mutants/<name>/`` for one module; returns its path."""
    mod = _module(name)
    ws = WORK / name
    if os.path.lexists(ws):
        if not (ws / MARKER).is_file():
            sys.exit(f"mutation: {ws} exists and is not a workspace this script made; refusing to remove it")
        shutil.rmtree(ws)  # a fresh run: mutmut keeps old verdicts even after tests are added
    ws.mkdir(parents=True)
    (ws / MARKER).write_text("made by scripts/mutation.sh\n", encoding="utf-8")
    for entry in LINKED:
        if (ROOT / entry).exists():
            (ws / entry).symlink_to(ROOT / entry)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    base = tomllib.loads(text)["tool"]["mutmut"]
    # drop the repository-wide [tool.mutmut] table and write the module's own
    text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
    tests = [t for t in mod.tests if (ROOT / t).exists()]
    table = {**base, "only_mutate": [mod.path], "pytest_add_cli_args_test_selection": tests}
    if mod.keyword:
        table["pytest_add_cli_args"] = [*base.get("pytest_add_cli_args", []), "-k", mod.keyword]
    if mod.timeout_multiplier is not None:
        table["timeout_multiplier"] = mod.timeout_multiplier
    lines = ["[tool.mutmut]"]
    for key, value in table.items():
        if isinstance(value, list):
            lines.append(f"{key} = {_toml_list([str(v) for v in value])}")
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {json.dumps(str(value))}")
    (ws / "pyproject.toml").write_text(text.rstrip() + "\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return ws


def equivalent() -> dict[str, str]:
    """Mutant id -> why it cannot change behaviour, from bench/mutation_equivalent.txt."""
    out: dict[str, str] = {}
    if EQUIVALENT.is_file():
        for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                mid, _, why = line.partition(" ")
                out[mid] = why.strip()
    return out


def statuses(ws: Path) -> dict[str, str]:
    """Mutant id -> mutmut's status, read with ``mutmut results --all true`` in the workspace."""
    exe = Path(sys.executable).with_name("mutmut")
    proc = subprocess.run([str(exe), "results", "--all", "true"], cwd=ws, capture_output=True, text=True)
    out = {}
    for line in proc.stdout.splitlines():
        m = re.fullmatch(r"\s+(\S+__mutmut_\d+): (.+)", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def recheck(name: str, budget_s: float) -> None:
    """Run every survivor of the forked run again in a fresh interpreter (see the module doc)."""
    import time

    mod = _module(name)
    if not mod.import_time:
        print(f"{name:15s} no function of {mod.path} runs at import: no fresh-process recheck needed")
        return
    ws = WORK / name
    prefix = mod.path.removesuffix(".py").replace("/", ".") + "."
    st = statuses(ws)
    todo = sorted(k for k, v in st.items() if k.startswith(prefix) and v in ("survived", "no tests"))
    tests = [t for t in mod.tests if (ROOT / t).exists()]
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--rootdir=.", *tests]
    if mod.keyword:
        cmd += ["-k", mod.keyword]
    out: dict[str, str] = {}
    if (ws / "recheck.json").is_file():  # resume: keep what a previous recheck of this run found
        out = {k: v for k, v in json.loads((ws / "recheck.json").read_text(encoding="utf-8")).items()
               if not v.startswith("not rechecked")}
    todo = [t for t in todo if t not in out]
    start = time.monotonic()
    for mid in todo:
        if time.monotonic() - start > budget_s:
            out[mid] = "not rechecked (time budget)"
            continue
        env = {**os.environ, "MUTANT_UNDER_TEST": mid, "PYTHONPATH": ".", "PY_IGNORE_IMPORTMISMATCH": "1"}
        try:
            rc = subprocess.run(cmd, cwd=ws / "mutants", env=env, capture_output=True, timeout=300).returncode
        except subprocess.TimeoutExpired:
            rc = -1
        # 1: a test failed; -1: the tests hung (a timeout counts as killed, as in mutmut)
        verdicts = {0: "survived", 5: "no tests", 1: "killed, fresh process",
                    -1: "killed, fresh process (timeout)"}
        out[mid] = verdicts.get(rc, f"exit {rc}")
        # written after every mutant: a recheck stopped from outside keeps what it found
        (ws / "recheck.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    (ws / "recheck.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    killed = sum(out.get(t, "").startswith("killed") for t in todo)
    print(f"{name:15s} rechecked {len(todo)} survivors in a fresh process: "
          f"{killed} killed ({time.monotonic() - start:.0f} s)")


def score(name: str, elapsed_s: float, finished: bool) -> dict[str, object]:
    """Print and return the score of one module's last run."""
    mod = _module(name)
    ws = WORK / name
    st = statuses(ws)
    if (ws / "recheck.json").is_file():
        again = json.loads((ws / "recheck.json").read_text(encoding="utf-8"))
        st.update({k: "killed" for k, v in again.items() if v.startswith("killed")})
    prefix = mod.path.removesuffix(".py").replace("/", ".") + "."
    st = {k: v for k, v in st.items() if k.startswith(prefix)}
    eq = equivalent()
    counted = {k: v for k, v in st.items() if k not in eq}
    killed = sum(v in ("killed", "timeout", "caught by type check") for v in counted.values())
    checked = {k: v for k, v in counted.items() if v != "not checked"}
    detected = ("killed", "timeout", "caught by type check")
    survivors = sorted(k for k, v in checked.items() if v not in detected)
    n_eq = sum(k in eq for k in st)
    denom = len(checked)
    pct = 100.0 * killed / denom if denom else float("nan")
    row = {
        "module": mod.path, "total": len(st), "equivalent": n_eq, "not_checked": len(counted) - len(checked),
        "killed": killed, "survived": len(survivors), "score_pct": round(pct, 1),
        "elapsed_s": round(elapsed_s), "finished": finished, "survivors": survivors,
    }
    note = ""
    if not finished or row["not_checked"]:
        note = f" (time budget hit: {row['not_checked']} not checked)"
    print(f"{name:15s} {mod.path:32s} killed {killed}/{denom} = {pct:5.1f} %  "
          f"(total {len(st)}, equivalent {n_eq}, survived {len(survivors)}, {elapsed_s:.0f} s){note}")
    if survivors:
        (ws / "survivors.txt").write_text("".join(f"{s} {checked[s]}\n" for s in survivors), encoding="utf-8")
        print(f"    {len(survivors)} not killed: {ws / 'survivors.txt'} "
              f"(read one with: cd {ws} && mutmut show ID)")
    (ws / "score.json").write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    return row


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("prepare", "score", "tests", "recheck"):
        print("usage: mutation.py prepare|tests NAME | recheck NAME BUDGET_S | "
              "score NAME ELAPSED_S FINISHED(0|1)", file=sys.stderr)
        return 2
    if argv[0] == "prepare":
        print(prepare(argv[1]))
    elif argv[0] == "recheck":
        recheck(argv[1], float(argv[2]))
    elif argv[0] == "tests":
        print(" ".join(_module(argv[1]).tests))
    else:
        score(argv[1], float(argv[2]), argv[3] == "1")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "list":
        print(" ".join(BY_NAME))
        raise SystemExit(0)
    raise SystemExit(main(sys.argv[1:]))
