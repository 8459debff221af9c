"""Shared, expensive inputs of the corpus: one real build of the tiny project and one real bench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgekit.cli import main
from tests.corpus._inputs import build_argv, write_project


@pytest.fixture(scope="session")
def good_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project built for real (the positive control of every build case): its folder."""
    d = tmp_path_factory.mktemp("good")
    write_project(d)
    code = main(build_argv(d))
    assert code == 0, "the unmodified tiny project must build; every corpus case breaks one thing"
    return d


@pytest.fixture(scope="session")
def good_bench(good_build: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real ``bench.json`` of the good bundle (CPU-model meter: an estimate), as a dict."""
    out = tmp_path_factory.mktemp("bench")
    argv = ["bench", str(good_build / "out" / "b" / "bundle"), "--meter", "model:rpi4b",
            "--quick", "--windows", "2", "--idle-s", "0.2", "--window-s", "0.3",
            "--runs", "10", "--out", str(out / "o")]  # fmt: skip
    code = main(argv)
    assert code == 0, "bench on the good bundle must work"
    data: dict[str, Any] = json.loads((out / "o" / "bench.json").read_text())
    return data
