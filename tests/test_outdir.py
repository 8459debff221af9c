"""``edgekit.outdir``: which folders a run may replace, the lock, the atomic swap, leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edgekit import outdir
from edgekit.errors import UsageError
from edgekit.outdir import MARKER, check_name, check_output, open_output, publish, store_path
from tests.outdir_snapshot import snapshot

REPO = Path(__file__).resolve().parents[1]


def _publish(path: Path, files: dict[str, str], kind: str = "build") -> None:
    with open_output(path, kind=kind) as out:
        for rel, text in files.items():
            (out.staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (out.staging / rel).write_text(text)
        out.publish()


def _refused(path: Path, needle: str, **kw) -> str:
    parent = path.parent
    before = snapshot(parent)
    with pytest.raises(UsageError) as e, open_output(path, kind=kw.pop("kind", "build"), **kw):
        pytest.fail("an output folder was opened")
    msg = str(e.value)
    assert "\n" not in msg and needle in msg, msg
    assert snapshot(parent) == before  # nothing changed: no store, no lock file, no staging
    return msg


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", "", "  ", "a/b", "../x", "a\\b", "a\0b", "/abs"])
def test_names_that_are_not_one_path_component_are_refused(name: str) -> None:
    with pytest.raises(UsageError) as e:
        check_name(name, "cfg.toml: model.name")
    assert str(e.value).startswith("cfg.toml: model.name: ")


@pytest.mark.parametrize("name", ["rfclass-cnn", "a.b", "..x", "x..", "Ünïcode name"])
def test_plain_names_pass(name: str) -> None:
    assert check_name(name, "model.name") == name


# -- refusals ------------------------------------------------------------------------------------


def test_the_current_folder_with_files_is_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "edgekit.toml").write_text("x")
    monkeypatch.chdir(tmp_path)
    msg = _refused(Path("."), "edgekit did not write it")
    assert "edgekit.toml" in msg


def test_a_folder_with_an_unrelated_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "notes.txt").write_text("mine")
    _refused(tmp_path / "o", "notes.txt")


def test_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "o").write_text("mine")
    _refused(tmp_path / "o", "is a file")


def test_a_symlink_is_refused_even_to_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "o").symlink_to(tmp_path / "real")
    _refused(tmp_path / "o", "symlink")


@pytest.mark.parametrize("where", ["inside", "deep", "is"])
def test_a_folder_holding_an_input_is_refused(tmp_path: Path, where: str) -> None:
    out = tmp_path / "o"
    (out / "sub").mkdir(parents=True)
    model = {"inside": out / "model.onnx", "deep": out / "sub" / "model.onnx", "is": out}[where]
    if where != "is":
        model.write_bytes(b"onnx")
    _refused(out, "is the model" if where == "is" else "contains the model", protect=[("model", model)])


def test_an_input_inside_an_edgekit_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _publish(out, {"report.md": "r"})
    _refused(out, "contains the config", protect=[("config", out / "report.md")])


def test_an_output_with_a_file_added_by_a_user_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _publish(out, {"report.md": "r", "bundle/manifest.json": "{}"})
    (out / "bundle" / "mine.txt").write_text("keep me")
    _refused(out, "bundle/mine.txt")


def test_an_output_of_another_command_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _publish(out, {"bench.json": "{}"}, kind="bench")
    _refused(out, "edgekit bench", kind="build")


def test_a_forged_or_broken_marker_is_not_ownership(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / MARKER).write_text("not json")
    (out / "data.npz").write_bytes(b"x")
    _refused(out, "edgekit did not write it")


def test_a_foreign_store_folder_is_refused(tmp_path: Path) -> None:
    store = tmp_path / ".o.edgekit"
    store.mkdir()
    (store / "thesis.tex").write_text("mine")
    _refused(tmp_path / "o", ".o.edgekit")


def test_the_root_folder_is_refused() -> None:
    with pytest.raises(UsageError):
        check_output("/", kind="build")


# -- accepted folders and the swap ---------------------------------------------------------------


def test_new_path_then_replace_keeps_one_folder_with_the_new_content(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "o"  # parents are created
    _publish(out, {"report.md": "one", "bundle/x": "1"})
    assert (out / "report.md").read_text() == "one"
    _publish(out, {"report.md": "two"})
    assert (out / "report.md").read_text() == "two"
    assert not (out / "bundle").exists()
    assert sorted(os.listdir(out.parent)) == [".o.edgekit", "o"]
    assert os.listdir(store_path(out)) == [outdir.STORE_MARKER]  # no run folder left


def test_an_empty_folder_is_accepted_and_keeps_its_place(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    _publish(out, {"report.md": "r"})
    assert (out / "report.md").read_text() == "r"


def test_a_failed_run_leaves_the_previous_output_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _publish(out, {"report.md": "one"})
    before = snapshot(out)
    with pytest.raises(RuntimeError), open_output(out, kind="build") as o:
        (o.staging / "report.md").write_text("half")
        (o.scratch / "input.npy").write_bytes(b"tmp")
        raise RuntimeError("stage failed")
    assert snapshot(out) == before
    # the run folder is gone; the failed run's logs and report are kept (edgekit.outdir.kept)
    left = sorted(os.listdir(store_path(out)))
    assert len(left) == 2 and left[0] == outdir.STORE_MARKER and left[1].startswith("stopped-")


def test_a_first_run_that_fails_leaves_no_output_only_its_kept_logs(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(RuntimeError), open_output(tmp_path / "o", kind="build") as o:
        (o.staging / "report.md").write_text("half")
        raise RuntimeError("stage failed")
    assert sorted(os.listdir(tmp_path)) == [".o.edgekit", "keep.txt"]  # no output folder
    assert (tmp_path / "keep.txt").read_text() == "x"
    left = sorted(os.listdir(tmp_path / ".o.edgekit"))
    assert len(left) == 2 and left[1].startswith("stopped-"), left


def test_fallback_swap_without_rename_exchange(tmp_path: Path, monkeypatch) -> None:
    def no_exchange(a: Path, b: Path) -> None:
        raise publish._NoExchange

    monkeypatch.setattr(publish, "_exchange", no_exchange)
    out = tmp_path / "o"
    _publish(out, {"report.md": "one"})
    _publish(out, {"report.md": "two"})
    assert (out / "report.md").read_text() == "two"
    assert os.listdir(store_path(out)) == [outdir.STORE_MARKER]


_KILL_BETWEEN_RENAMES = """
import os, sys
from pathlib import Path
from edgekit import outdir
from edgekit.outdir import publish

def no_exchange(a, b):
    raise publish._NoExchange

real_rename = os.rename
def rename(src, dst):
    if Path(src).name == "new":  # the second rename of the fallback swap: die before it
        os._exit(9)
    real_rename(src, dst)

publish._exchange = no_exchange
publish.os.rename = rename
with outdir.open_output(sys.argv[1], kind="build") as out:
    (out.staging / "report.md").write_text("two")
    out.publish()
"""


def test_a_kill_between_the_fallback_renames_is_restored_by_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _publish(out, {"report.md": "one", "variants/m.onnx": "model"})
    before = snapshot(out)
    proc = subprocess.run([sys.executable, "-c", _KILL_BETWEEN_RENAMES, str(out)], cwd=REPO)
    assert proc.returncode == 9
    assert not out.exists()  # the window the fallback cannot close
    notes: list[str] = []
    with open_output(out, kind="build", log=notes.append):
        assert snapshot(out) == before  # restored before the run even starts
    assert any("restored" in n for n in notes)
    assert os.listdir(store_path(out)) == [outdir.STORE_MARKER]


def test_leftovers_of_dead_runs_are_removed_and_foreign_entries_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _publish(out, {"report.md": "one"})
    store = store_path(out)
    # what a run killed with SIGKILL leaves: a run folder with its marker, staging and scratch
    code = textwrap.dedent(
        """
        import os, sys
        from edgekit.outdir import open_output
        with open_output(sys.argv[1], kind="build") as out:
            (out.staging / "variants").mkdir()
            (out.staging / "variants" / "m.onnx").write_bytes(b"x" * 1000)
            (out.scratch / "input.npy").write_bytes(b"y")
            os._exit(9)
        """
    )
    seen: list[list[str]] = []
    for _ in range(2):  # the second dead run removed the first one's leftovers before dying
        assert subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO).returncode == 9
        seen.append(sorted(p.name for p in store.iterdir() if p.name.startswith("run-")))
    assert len(seen[0]) == 1 and len(seen[1]) == 1 and seen[0] != seen[1]
    (store / "keep-me").write_text("not edgekit's")
    notes: list[str] = []
    with open_output(out, kind="build", log=notes.append):
        pass
    assert sorted(os.listdir(store)) == [outdir.STORE_MARKER, "keep-me"]
    assert any("removed 1 leftover" in n for n in notes)
    assert any("keep-me" in n and "alone" in n for n in notes)
    assert (out / "report.md").read_text() == "one"


def test_leftovers_of_the_old_scheme_are_reported_not_deleted(tmp_path: Path) -> None:
    legacy = tmp_path / ".o.old-1234"
    legacy.mkdir()
    (legacy / "thesis.tex").write_text("mine")
    notes: list[str] = []
    with open_output(tmp_path / "o", kind="build", log=notes.append) as o:
        o.publish()
    assert (legacy / "thesis.tex").read_text() == "mine"
    assert any(".o.old-1234" in n and "by hand" in n for n in notes)


def test_a_retired_output_that_gained_a_file_during_the_swap_is_kept(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "o"
    _publish(out, {"report.md": "one"})
    real = publish._exchange

    def exchange_then_user_writes(a: Path, b: Path) -> None:
        real(a, b)
        (a / "late.txt").write_text("written by someone during the swap")  # a now holds the old one

    monkeypatch.setattr(publish, "_exchange", exchange_then_user_writes)
    notes: list[str] = []
    with open_output(out, kind="build", log=notes.append) as o:
        (o.staging / "report.md").write_text("two")
        o.publish()
    kept = [p for p in store_path(out).glob("run-*/new/late.txt")]
    assert len(kept) == 1 and kept[0].read_text().startswith("written by someone")
    assert any("late.txt" in n for n in notes)


# -- the lock ------------------------------------------------------------------------------------

_HOLD = """
import sys, time
from edgekit.outdir import open_output
with open_output(sys.argv[1], kind="build"):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "o"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(UsageError) as e, open_output(out, kind="build"):
            pytest.fail("opened a locked output folder")
        msg = str(e.value)
        assert "in use by another edgekit run" in msg and f"pid {holder.pid}" in msg
    finally:
        holder.kill()
        holder.wait()
    # the kernel dropped the dead holder's lock; its leftovers go with the next run
    with open_output(out, kind="build") as o:
        o.publish()
    assert os.listdir(store_path(out)) == [outdir.STORE_MARKER]


def test_marker_lists_every_entry_written(tmp_path: Path) -> None:
    out = tmp_path / "o"
    _publish(out, {"report.md": "r", "bundle/variants/m.onnx": "m"})
    marker = json.loads((out / MARKER).read_text())
    assert marker["kind"] == "build"
    assert marker["entries"] == [
        "bundle/", "bundle/variants/", "bundle/variants/m.onnx", "report.md"
    ]  # fmt: skip
