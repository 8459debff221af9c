"""``edgekit bench --out``: judged before any measuring, replaced only when edgekit wrote it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.outdir_snapshot import snapshot

from .conftest import FIXTURES, QUICK, make_bundle, run_cli, write_vcgencmd


def _args(tmp: Path, bundle: Path) -> tuple[list[str], Path]:
    """Bench arguments on a fake Pi 4; the fake vcgencmd's call counter is the witness that the
    bench started working (it probes the board first)."""
    board = tmp / "board"
    if not board.exists():
        shutil.copytree(FIXTURES / "pi4", board)
    vcgencmd = write_vcgencmd(tmp / "vcgencmd", before="0x0", after="0x0")
    args = [str(bundle), "--meter", "model:rpi4b", *QUICK, "--sysfs-root", str(board / "sys"),
            "--proc-root", str(board / "proc"), "--vcgencmd", str(vcgencmd)]  # fmt: skip
    return args, vcgencmd.with_suffix(".calls")


@pytest.mark.parametrize("kind", ["unrelated file", "file", "unwritable", "the bundle"])
def test_a_bad_out_is_refused_before_any_work(tmp_path: Path, kind: str) -> None:
    bundle = make_bundle(tmp_path / "bundle", variants={"onnx-fp32": 4})
    args, calls = _args(tmp_path, bundle)
    out = {
        "unrelated file": tmp_path / "results",
        "file": tmp_path / "results.txt",
        "unwritable": Path("/proc/edgekit-nope"),
        "the bundle": bundle,
    }[kind]
    if kind == "unrelated file":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    if kind == "file":
        out.write_text("mine")
    before = snapshot(tmp_path)
    run = run_cli(args, out)
    assert run.code == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: output folder"), run.stderr
    assert not calls.exists()  # the board was never probed: nothing was measured
    assert snapshot(tmp_path) == before


@pytest.mark.slow
def test_a_rerun_replaces_its_own_output_and_refuses_a_build_output(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "bundle", variants={"onnx-fp32": 4})
    args, _ = _args(tmp_path, bundle)
    out = tmp_path / "bench-out"
    first = run_cli(args, out)
    assert first.code == 0, first.stderr
    started = json.loads((out / "bench.json").read_text())["started_at"]
    marker = json.loads((out / ".edgekit-output").read_text())
    assert marker["kind"] == "bench" and marker["entries"] == [
        "bench.html", "bench.json", "bench.md", "logs/", "logs/runtime.log"]  # fmt: skip
    assert f"Reports: {out}/bench.json" in first.stdout
    second = run_cli(args, out)
    assert second.code == 0, second.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".edgekit-output", *(e.rstrip("/") for e in marker["entries"] if "/" not in e[:-1])]  # fmt: skip
    assert json.loads((out / "bench.json").read_text())["started_at"] >= started
    assert [p.name for p in (tmp_path / ".bench-out.edgekit").iterdir()] == [".edgekit-store"]
    # an output of `edgekit build` is not the bench's to replace
    build_out = tmp_path / "build-out"
    build_out.mkdir()
    (build_out / "report.md").write_text("r")
    (build_out / ".edgekit-output").write_text(
        json.dumps({"edgekit_output": 1, "kind": "build", "entries": ["report.md"]})
    )
    refused = run_cli(args, build_out)
    assert refused.code == 2 and "edgekit build" in refused.stderr
    assert (build_out / "report.md").read_text() == "r"
