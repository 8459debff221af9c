"""Bench fixtures: tiny bundles built in the test, a fake board tree, a fake vcgencmd, a trace."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest

from edgekit.backends.testing import make_cnn1d
from edgekit.bundle import MANIFEST, MANIFEST_SCHEMA_VERSION
from edgekit.cli import main
from edgekit.energy.simulate import MeterModel, Workload, synthesize_trace

FIXTURES = Path(__file__).parent / "fixtures"
LABELS = ["noise", "tone", "am", "fm"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_bundle(root: Path, *, variants: dict[str, int] | None = None) -> Path:
    """A verified bundle folder of tiny RF CNNs: variant name -> conv channels."""
    variants = variants or {"onnx-fp32": 4, "onnx-wide": 16}
    (root / "variants").mkdir(parents=True)
    files: dict[str, str] = {}
    entries = []
    for i, (name, channels) in enumerate(variants.items()):
        rel = f"variants/{name}.onnx"
        make_cnn1d(root / rel, channels=channels, classes=len(LABELS), length=1024, seed=i)
        files[rel] = _sha256(root / rel)
        entries.append(
            {
                "name": name,
                "file": rel,
                "extra_files": [],
                "runtime": "onnxruntime",
                "precision": "fp32",
                "passed": True,
                "backend_options": {},
                "accuracy": 0.80 + 0.05 * i,
                "latency": None,
                "energy": None,
            }
        )
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "name": "tiny-rf",
        "created_by": "tests",
        "selected": next(iter(variants)),
        "variants": entries,
        "input": {"name": "x", "shape": ["N", 2, 1024], "dtype": "float32"},
        "output": {"index": 0, "kind": "logits", "name": "logits", "shape": ["N", len(LABELS)]},
        "labels": LABELS,
        "preprocess": [{"op": "rms_normalize"}],
        "budgets": {"max_latency_p99_ms": 150.0},
        "battery": {
            "capacity_mah": 5000.0,
            "nominal_v": 3.7,
            "capacity_wh": None,
            "usable_fraction": 0.9,
            "scanner_baseline_w": 2.0,
            "duty_hz": 2.0,
        },
        "files": files,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return root


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "bundle")


@pytest.fixture
def trace_csv(tmp_path: Path) -> Path:
    """A recorded-style trace: 2 W idle, 3.5 W while inferring, sampled at 200 Hz for ~12 s."""
    trace, _ = synthesize_trace(
        Workload(idle_w=2.0, active_w=3.5, inference_s=0.002, jitter=0.02),
        MeterModel(rate_hz=200.0, noise_w=0.005),
        active_s=10.0,
        idle_before_s=1.0,
        idle_after_s=1.0,
    )
    return trace.write_csv(tmp_path / "trace.csv")


@pytest.fixture
def fake_board(tmp_path: Path) -> Path:
    """A copy of the checked-in fake Raspberry Pi 4 tree (sys/, proc/), writable per test."""
    dest = tmp_path / "board"
    shutil.copytree(FIXTURES / "pi4", dest)
    return dest


def write_vcgencmd(path: Path, *, before: str, after: str) -> Path:
    """A fake ``vcgencmd``: ``get_throttled`` answers ``before`` on its first call, ``after``
    from then on (a counter file next to it); any other command fails as on a Pi 4 (no PMIC)."""
    counter = path.with_suffix(".calls")
    path.write_text(
        "#!/bin/sh\n"
        f'COUNTER="{counter}"\n'
        'if [ "$1" = "get_throttled" ]; then\n'
        '  n=$(cat "$COUNTER" 2>/dev/null || echo 0)\n'
        '  echo $((n + 1)) > "$COUNTER"\n'
        f'  if [ "$n" = "0" ]; then echo "throttled={before}"; else echo "throttled={after}"; fi\n'
        "  exit 0\n"
        "fi\n"
        'echo "error=1 error_msg=\\"Command not registered\\"" >&2\n'
        "exit 255\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@dataclass(frozen=True)
class CliRun:
    code: int
    stdout: str
    stderr: str
    out_dir: Path


def run_cli(args: list[str], out_dir: Path) -> CliRun:
    """``edgekit bench ...`` in this process, capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["bench", *args, "--out", str(out_dir)])
    return CliRun(code, out.getvalue(), err.getvalue(), out_dir)


QUICK = ["--quick", "--windows", "2", "--idle-s", "0.4", "--runs", "30"]


@pytest.fixture(scope="session")
def estimate_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """One estimated-energy bench of a two-variant bundle on a fake Pi 4 whose vcgencmd reports
    under-voltage and throttling appearing during the run, recorded (--record) to ``out/../rec``;
    shared by the report tests."""
    tmp = tmp_path_factory.mktemp("bench-estimate")
    bundle = make_bundle(tmp / "bundle")
    board = tmp / "board"
    shutil.copytree(FIXTURES / "pi4", board)
    vcgencmd = write_vcgencmd(tmp / "vcgencmd", before="0x0", after="0x50005")
    return run_cli(
        [
            str(bundle),
            "--meter",
            "model:rpi4b",
            *QUICK,
            "--sysfs-root",
            str(board / "sys"),
            "--proc-root",
            str(board / "proc"),
            "--vcgencmd",
            str(vcgencmd),
            "--record",
            str(tmp / "rec"),
        ],
        tmp / "out",
    )
