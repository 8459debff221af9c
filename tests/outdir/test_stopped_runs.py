"""A run that stops without publishing keeps its logs and a report beside the output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.outdir import open_output
from tests.builder.test_output_folder import _project
from tests.outdir_snapshot import snapshot

REPO = Path(__file__).resolve().parents[2]


def _stopped(store: Path) -> list[Path]:
    return sorted(p for p in store.iterdir() if p.name.startswith("stopped-"))


def test_a_failed_run_keeps_its_logs_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "out" / "x"
    said: list[str] = []
    with pytest.raises(RuntimeError), open_output(out, kind="build", log=said.append) as f:
        f.log("[load] ...")
        f.log("[load] done in 0.1 s")
        f.log("[validate] ...")
        (f.staging / "logs").mkdir()
        (f.staging / "logs" / "runtime.log").write_text("runtime said this\n")
        (f.staging / "variants").mkdir()
        (f.staging / "variants" / "a.convert.log").write_text("converter said this\n")
        raise RuntimeError("disk on fire")
    assert not out.exists()  # nothing published
    (kept,) = _stopped(tmp_path / "out" / ".x.edgekit")
    assert (kept / "build.log").read_text().splitlines() == [
        "[load] ...", "[load] done in 0.1 s", "[validate] ...",
    ]  # fmt: skip
    assert (kept / "logs" / "runtime.log").read_text() == "runtime said this\n"
    assert (kept / "logs" / "variants" / "a.convert.log").read_text() == "converter said this\n"
    report = json.loads((kept / "report.json").read_text())
    assert report["outcome"] == "failed"
    assert report["why"] == "failed: RuntimeError: disk on fire"
    assert report["stages_done"] == ["load"] and report["stage_running"] == "validate"
    assert "disk on fire" in (kept / "report.txt").read_text()
    assert str(kept) in said[-1]


def test_only_the_newest_five_marked_folders_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "out" / "x"
    store = tmp_path / "out" / ".x.edgekit"
    with pytest.raises(ValueError), open_output(out, kind="build") as f:
        raise ValueError("first")
    # earlier stopped runs, oldest first; and one with the right name but no marker: not ours
    old = [store / f"stopped-2000010{i}T000000Z-1-abcdef" for i in range(1, 7)]
    for p in old:
        p.mkdir()
        (p / ".edgekit-stopped").write_text('{"edgekit_stopped": 1}')
    foreign = store / "stopped-19990101T000000Z-1-abcdef"
    foreign.mkdir()
    with pytest.raises(ValueError), open_output(out, kind="build") as f:
        f.log("second")
        raise ValueError("second")
    found = _stopped(store)
    # 6 old + 2 real = 8 marked; the newest 5 are the last 3 old ones and the 2 real ones
    assert found[0] == foreign
    assert found[1:4] == old[3:]
    assert sorted((p / "build.log").read_text() for p in found[4:]) == ["", "second\n"]


@pytest.mark.slow
def test_a_build_interrupted_by_sigint_keeps_its_log_and_the_previous_output(
    tmp_path: Path,
) -> None:
    cfg = _project(tmp_path / "p")
    slow = _project(tmp_path / "p", runs=1_000_000, toml="slow.toml")
    out = tmp_path / "out" / "tiny"
    store = tmp_path / "out" / ".tiny.edgekit"
    edgekit = [sys.executable, "-m", "edgekit"]
    first = subprocess.run([*edgekit, "build", str(cfg), "--out", str(out)], cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    build = subprocess.Popen([*edgekit, "build", str(slow), "--out", str(out)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the run's own progress log, read while it grows
            assert build.poll() is None
            logs = list(store.glob("run-*/build.log"))
            if logs and "[profile] ..." in logs[0].read_text().splitlines():
                break
            time.sleep(0.1)
        else:
            pytest.fail("the build never started profiling")
        build.send_signal(signal.SIGINT)
        stdout, stderr = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert build.returncode == 130
    assert stderr.strip().splitlines() == ["edgekit: interrupted"]
    assert snapshot(out) == before  # the previous output untouched
    (kept,) = _stopped(store)
    assert sorted(os.listdir(store)) == [".edgekit-store", kept.name]  # the run folder is gone
    lines = (kept / "build.log").read_text().splitlines()
    assert "[load] ..." in lines and "[profile] ..." in lines
    assert any(line.startswith("[load] done in ") for line in lines)
    assert (kept / "logs" / "runtime.log").is_file()
    report = json.loads((kept / "report.json").read_text())
    assert report["outcome"] == "interrupted"
    assert report["why"] == "interrupted by SIGINT (Ctrl-C)"
    assert report["stage_running"] == "profile" and "load" in report["stages_done"]
    assert report["previous_output"] == "unchanged"
    assert f"keptin{kept}" in "".join(stdout.split())  # the user is told where (rich wraps lines)
    # the next build is not disturbed by it, and keeps it
    again = subprocess.run([*edgekit, "build", str(cfg), "--out", str(out)], cwd=REPO,
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "left" not in again.stdout and kept.is_dir()


def test_bad_input_stays_one_line_and_keeps_nothing(tmp_path: Path) -> None:
    from edgekit.errors import BundleError

    out = tmp_path / "out" / "x"
    said: list[str] = []
    with pytest.raises(BundleError), open_output(out, kind="bench", log=said.append) as f:
        f.log("[measure] ...")
        raise BundleError("b: manifest.json: bad")
    assert said == ["[measure] ..."]  # no extra line beside the error's one
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("stopped-*"))
