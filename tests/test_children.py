"""``edgekit.children``: a child and everything it started end with the run, however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgekit.children import PARENT_ENV, child, run_child

REPO = Path(__file__).resolve().parents[1]


def _gone(pid: int, wait_s: float = 10.0) -> bool:
    """True once ``pid`` no longer runs (absent, or a zombie waiting for its reaper)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


# a shell that starts a grandchild, prints both pids and waits: the grandchild is the one a plain
# Popen.kill() would leave behind
_FAMILY = ["sh", "-c", "sleep 60 & echo $$ $!; wait"]


def test_leaving_the_block_by_an_error_ends_child_and_grandchild() -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError), child(_FAMILY, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert os.getpgid(pids[1]) == proc.pid != os.getpgid(0)  # a group of its own
        raise RuntimeError("the build failed")
    assert len(pids) == 2 and all(_gone(p) for p in pids)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    stubborn = ["sh", "-c", "trap '' TERM; echo ready; sleep 60"]
    with pytest.raises(KeyboardInterrupt), child(
        stubborn, stdout=subprocess.PIPE, text=True, grace_s=0.5
    ) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        raise KeyboardInterrupt
    assert proc.returncode == -signal.SIGKILL


def test_run_child_timeout_stops_the_group() -> None:
    marker = f"edgekit-test-{os.getpid()}-timeout"
    with pytest.raises(subprocess.TimeoutExpired):
        run_child(["sh", "-c", f"sleep 60 # {marker}"], timeout_s=0.5)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert all(_gone(int(p)) for p in left)


def test_run_child_returns_output_and_code() -> None:
    done = run_child([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"])
    assert (done.returncode, done.stdout) == (3, "out\n")


def test_a_missing_foreign_program_fails_at_start() -> None:
    with pytest.raises(FileNotFoundError), child(["edgekit-no-such-program"], foreign=True):
        pass


_PARENT = """
import sys, time
from edgekit.children import child
cmd = {cmd!r}
with child(cmd, foreign={foreign}) as proc:
    print(proc.pid, flush=True)
    time.sleep(60)
"""

# Both print "armed" on the parent's stdout once the death signal is set: the launcher sets it
# before exec, the worker in die_with_parent().
_FOREIGN = ["sh", "-c", "echo armed; exec sleep 60"]
_WORKER = [
    sys.executable,
    "-c",
    "import time; from edgekit._deathsig import die_with_parent; die_with_parent(); "
    "print('armed', flush=True); time.sleep(60)",
]


@pytest.mark.parametrize(
    ("cmd", "foreign"), [(_FOREIGN, True), (_WORKER, False)], ids=["foreign", "worker"]
)
def test_sigkill_of_the_parent_takes_the_child_along(cmd: list[str], foreign: bool) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT.format(cmd=cmd, foreign=foreign)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "armed"
    assert not _gone(pid, wait_s=0)
    parent.kill()
    parent.wait()
    assert _gone(pid)


def test_a_worker_whose_parent_is_already_gone_exits_at_once() -> None:
    env = dict(os.environ, **{PARENT_ENV: "1"})  # pid 1 is never our parent here
    code = "from edgekit._deathsig import die_with_parent; die_with_parent(); print('ran on')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
