"""A sample of the corpus through a real ``python -m edgekit`` process, plus disk full.

In-process runs share pytest's capture and warning filters; a fresh interpreter shows exactly
what a user's terminal gets (warnings, the exit code, stray output from libraries).
"""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import pytest

from tests.corpus._cli import assert_refused, run_subprocess, snapshot
from tests.corpus._inputs import write_project
from tests.corpus.test_malformed import CASES

SAMPLE = [
    "config-nan-budget",
    "config-name-dotdot",
    "config-not-utf8",
    "model-int64-output",
    "model-huge-declared-input-no-data",
    "build-npz-petabyte-header",
    "build-npz-float64-overflow",
    "build-npz-nan-every-7th",
    "build-npz-all-ood",
    "build-recipe-n-10M",
    "build-preprocess-overflows",
    "info-npz-not-npy-member",
    "synth-n-1e12",
    "synth-out-is-a-folder",
    "inspect-missing-undecodable-name",
    "cli-unknown-command",
]


@pytest.mark.parametrize("case_id", SAMPLE)
def test_sample_in_a_real_process(case_id: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == case_id)
    d = tmp_path / "p"
    write_project(d)
    argv = case.make(d, {})
    before = snapshot(tmp_path, d / "out")
    outcome = run_subprocess(argv, tmp_path)
    assert_refused(outcome, mentions=case.mentions)
    assert snapshot(tmp_path, d / "out") == before


def _limit_file_size() -> None:
    """A 64 KiB file-size limit: writes beyond it fail with EFBIG, as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_disk_full_while_writing_a_dataset_is_one_line(tmp_path: Path) -> None:
    argv = ["data", "synth", "--out", str(tmp_path / "d.npz"), "--n", "200", "--seed", "1"]
    outcome = run_subprocess(argv, tmp_path, preexec=_limit_file_size)
    line = assert_refused(outcome, mentions=("d.npz", "cannot write"))
    assert "File too large" in line
    assert list(tmp_path.iterdir()) == [], "nothing half-written may be left"
