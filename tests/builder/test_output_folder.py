"""``edgekit build --out``: refusals that change nothing, the lock, SIGTERM / SIGINT, and the
atomic swap under SIGKILL at random moments, on a tiny model built in the test."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from edgekit.cli import main
from tests.conftest import make_cnn1d
from tests.outdir_snapshot import snapshot

REPO = Path(__file__).resolve().parents[2]
EDGEKIT = [sys.executable, "-m", "edgekit"]


def _project(folder: Path, *, runs: int = 5, name: str = "tiny", toml: str = "edgekit.toml") -> Path:
    """A one-variant build of a small CNN: model.onnx and a config in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "model.onnx").exists():
        make_cnn1d(folder / "model.onnx")
    cfg = folder / toml
    cfg.write_text(
        f'variants = ["onnx-fp32"]\n[model]\npath = "model.onnx"\nname = "{name}"\n'
        f"[profile]\nruns = {runs}\nwarmup = 1\nmax_reruns = 0\n"  # one timing: a steady build length
    )
    return cfg


def _one_line_exit_2(args: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgekit: error: "), err
    assert all(n in err[0] for n in needles), err[0]
    return err[0]


# -- refusals: exit 2, one line, nothing changed ----------------------------------------------


def test_reference_config_with_out_dot_exits_2_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's acceptance case, in a copy of the repository's layout."""
    for name in ("rfclass-cnn", "rfclass-gbt"):  # the CNN's [baseline] reads the trees' config
        shutil.copytree(REPO / "models" / name, tmp_path / "models" / name)
    (tmp_path / "README.md").write_text("an unrelated file\n")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    _one_line_exit_2(["build", "models/rfclass-cnn/edgekit.toml", "--out", "."], capsys, "contains")
    _one_line_exit_2(
        ["build", "models/rfclass-cnn/edgekit.toml", "--out", "models/rfclass-cnn"], capsys, "model"
    )
    assert snapshot(tmp_path) == before


def test_a_folder_with_an_unrelated_file_exits_2_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _project(tmp_path / "p")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    _one_line_exit_2(["build", str(cfg), "--out", str(tmp_path / "results")], capsys, "notes.txt")
    assert snapshot(tmp_path) == before


def test_a_file_at_out_exits_2_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _project(tmp_path / "p")
    (tmp_path / "report").write_text("mine")
    before = snapshot(tmp_path)
    _one_line_exit_2(["build", str(cfg), "--out", str(tmp_path / "report")], capsys, "is a file")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("what", ["config", "model", "calibration data"])
def test_a_folder_holding_an_input_exits_2_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    """The input lies inside an (otherwise acceptable) earlier edgekit output or is the folder."""
    model = make_cnn1d(tmp_path / "model.onnx")
    folder = tmp_path / "held"
    folder.mkdir()
    held = {"config": folder / "edgekit.toml", "model": folder / "m.onnx",
            "calibration data": folder / "cal.npz"}[what]  # fmt: skip
    if what == "model":
        shutil.copy(model, held)
        model = held
    if what == "calibration data":
        held.write_bytes(b"not read: refused first")
    cfg_path = held if what == "config" else tmp_path / "edgekit.toml"
    cal = f'\n[data]\ncalibration = "{held}"\n' if what == "calibration data" else "\n"
    cfg_path.write_text(f'variants = ["onnx-fp32"]\n[model]\npath = "{model}"\nname = "t"{cal}')
    before = snapshot(tmp_path)
    _one_line_exit_2(["build", str(cfg_path), "--out", str(folder)], capsys, f"contains the {what}")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["..", ".", "a/b", "../../x"])
def test_model_names_that_escape_the_output_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    cfg = _project(tmp_path / "p", name=name)
    monkeypatch.chdir(tmp_path / "p")
    before = snapshot(tmp_path)
    _one_line_exit_2(["build", str(cfg)], capsys, "model.name", repr(name))
    # even with --out given: the name also names the bundle archive inside it
    _one_line_exit_2(["build", str(cfg), "--out", str(tmp_path / "o")], capsys, "model.name")
    assert snapshot(tmp_path) == before


# -- a build replaces its own output --------------------------------------------------------------


def _complete(out: Path, name: str = "tiny") -> bool:
    """A whole build, judged from its files alone: reports parse, the bundle's hashes match its
    manifest, the archive reads, and the marker lists exactly what is there."""
    try:
        json.loads((out / "report.json").read_text())
        assert (out / "report.md").stat().st_size > 0 and (out / "report.html").stat().st_size > 0
        manifest = json.loads((out / "bundle" / "manifest.json").read_text())
        for rel, digest in manifest["files"].items():
            assert hashlib.sha256((out / "bundle" / rel).read_bytes()).hexdigest() == digest
        with tarfile.open(out / f"{name}.bundle.tar.gz") as tar:
            assert f"{name}.bundle/manifest.json" in tar.getnames()
        listed = set(json.loads((out / ".edgekit-output").read_text())["entries"])
        present = {
            str(p.relative_to(out)) + ("/" if p.is_dir() else "")
            for p in out.rglob("*")
            if p.name != ".edgekit-output"
        }
        assert listed == present
    except (OSError, ValueError, KeyError, AssertionError, tarfile.TarError):
        return False
    return True


def test_rebuild_replaces_the_output_and_leaves_no_litter(tmp_path: Path) -> None:
    cfg = _project(tmp_path / "p")
    out = tmp_path / "out" / "tiny"
    for _ in range(2):
        assert main(["build", str(cfg), "--out", str(out)]) == 0
        assert _complete(out)
    assert sorted(os.listdir(tmp_path / "out")) == [".tiny.edgekit", "tiny"]
    assert os.listdir(tmp_path / "out" / ".tiny.edgekit") == [".edgekit-store"]


# -- the lock and signals, on a real build process -----------------------------------------------


def _start_slow(cfg: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*EDGEKIT, "build", str(cfg), "--out", str(out)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _profile_worker(build: subprocess.Popen[str], limit_s: float = 60.0) -> tuple[int, dict]:
    """Wait until the build runs its profiling worker; its pid and job."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert build.poll() is None, build.communicate()
        found = subprocess.run(["pgrep", "-P", str(build.pid)], capture_output=True, text=True)
        for pid in found.stdout.split():
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode().split("\0")
            if "edgekit.builder._profile_worker" in argv:
                return int(pid), json.loads(argv[argv.index("edgekit.builder._profile_worker") + 1])
        time.sleep(0.05)
    pytest.fail("the build never started profiling")


def _gone(pid: int, wait_s: float = 10.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "code", "line"),
    [(signal.SIGTERM, 143, "edgekit: terminated"), (signal.SIGINT, 130, "edgekit: interrupted")],
)
def test_lock_then_signal_cleans_up_and_keeps_the_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sig: int, code: int, line: str
) -> None:
    cfg = _project(tmp_path / "p")
    slow = _project(tmp_path / "p", runs=1_000_000, toml="slow.toml")  # the most profile.runs allows
    out = tmp_path / "out" / "tiny"
    assert main(["build", str(cfg), "--out", str(out)]) == 0
    capsys.readouterr()
    before = snapshot(out)
    build = _start_slow(slow, out)
    try:
        worker, job = _profile_worker(build)
        # the worker's input lives in the run's scratch folder, not in the system's /tmp
        assert Path(job["input"]).is_relative_to(tmp_path / "out" / ".tiny.edgekit")
        assert os.getpgid(worker) != os.getpgid(build.pid)  # its own group: Ctrl-C reaches edgekit
        # a second build into the same folder is refused at once, naming the holder
        _one_line_exit_2(
            ["build", str(cfg), "--out", str(out)], capsys, "in use by another edgekit run",
            f"pid {build.pid}",
        )  # fmt: skip
        build.send_signal(sig)
        _, err = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert build.returncode == code
    assert err.strip().splitlines() == [line]
    assert _gone(worker)
    assert not Path(job["input"]).exists()
    assert snapshot(out) == before
    # the run folder is gone; only the stopped run's logs and report are kept (edgekit.outdir.kept)
    left = sorted(os.listdir(tmp_path / "out" / ".tiny.edgekit"))
    assert len(left) == 2 and left[0] == ".edgekit-store" and left[1].startswith("stopped-"), left


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_partial_output(tmp_path: Path) -> None:
    """A real build killed at random delays: ``out/tiny`` is absent before the first success,
    else a complete build, byte-identical to the previous one unless the kill came after the
    swap; the next run removes what the killed one left, and no worker outlives its build."""
    cfg = _project(tmp_path / "p")
    out = tmp_path / "out" / "tiny"
    store = tmp_path / "out" / ".tiny.edgekit"
    seed = int(os.environ.get("EDGEKIT_TEST_SEED", "20240611"))
    rng = random.Random(seed)
    t0 = time.monotonic()
    full = subprocess.run([*EDGEKIT, "build", str(cfg), "--out", str(tmp_path / "probe")],
                          cwd=REPO, capture_output=True)  # fmt: skip
    assert full.returncode == 0
    run_s = time.monotonic() - t0  # one build's length here, to spread the kills over it
    previous: dict | None = None
    for kill in range(1, 21):
        delay = rng.uniform(0.0, 1.15 * run_s)
        build = subprocess.Popen([*EDGEKIT, "build", str(cfg), "--out", str(out)], cwd=REPO,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(delay)
        kids = subprocess.run(["pgrep", "-P", str(build.pid)], capture_output=True, text=True)
        build.kill()
        build.wait()
        where = f"seed {seed}, kill {kill} after {delay:.2f} s"
        if not os.path.lexists(out):
            assert previous is None, f"{where}: the previous build vanished"
        else:
            now = snapshot(out)
            if now != previous:  # only a kill after the swap may change it, to a whole new build
                assert _complete(out), f"{where}: partial output {sorted(now)}"
                previous = now
        assert all(_gone(int(p)) for p in kids.stdout.split()), f"{where}: a child outlived it"
        if kill % 5 == 0:  # a full run cleans what the killed ones left
            done = subprocess.run([*EDGEKIT, "build", str(cfg), "--out", str(out)], cwd=REPO,
                                  capture_output=True, text=True)  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert _complete(out)
            previous = snapshot(out)
            assert os.listdir(store) == [".edgekit-store"], f"{where}: leftovers remain"
            assert sorted(os.listdir(tmp_path / "out")) == [".tiny.edgekit", "tiny"]


def _converters(marker: str) -> list[int]:
    """Pids of onnx2tf processes working on files under ``marker`` (a test's own folder)."""
    found = subprocess.run(["pgrep", "-f", "onnx2tf"], capture_output=True, text=True)
    pids = []
    for pid in found.stdout.split():
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(pid))
    return pids


@pytest.mark.slow
@pytest.mark.converter
def test_sigterm_during_export_stops_the_converter(tmp_path: Path) -> None:
    cfg = _project(tmp_path / "p")
    cfg.write_text(cfg.read_text().replace('"onnx-fp32"', '"tflite-fp32"'))
    out = tmp_path / "out" / "tiny"
    build = _start_slow(cfg, out)
    try:
        deadline = time.monotonic() + 300  # the first use may create the converter env
        while not (pids := _converters(str(tmp_path))):
            assert build.poll() is None, build.communicate()
            assert time.monotonic() < deadline, "onnx2tf never started"
            time.sleep(0.1)
        assert all(os.getpgid(p) != os.getpgid(build.pid) for p in pids)
        build.send_signal(signal.SIGTERM)
        _, err = build.communicate(timeout=60)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert build.returncode == 143
    lines = err.strip().splitlines()
    assert lines[-1] == "edgekit: terminated" and "Traceback" not in err, err
    assert all(_gone(p) for p in pids)
    # a first build that ended leaves no output and no run folder: only its kept logs
    assert os.listdir(tmp_path / "out") == [".tiny.edgekit"]
    left = sorted(os.listdir(tmp_path / "out" / ".tiny.edgekit"))
    assert len(left) == 2 and left[1].startswith("stopped-"), left
    kept = tmp_path / "out" / ".tiny.edgekit" / left[1]
    assert json.loads((kept / "report.json").read_text())["why"] == "interrupted by SIGTERM"
