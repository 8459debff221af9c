"""Fixtures for the energy tests: checked-in fake device trees and a vcgencmd stand-in."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def vcgencmd(tmp_path: Path) -> Path:
    """A tiny executable that prints the recorded Pi 5 ``pmic_read_adc`` output."""
    script = tmp_path / "vcgencmd"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "pmic_read_adc" ] || { echo "unknown command" >&2; exit 1; }\n'
        f"cat '{FIXTURES / 'pmic_read_adc.txt'}'\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def rapl_tree(tmp_path: Path) -> Path:
    """A writable copy of the RAPL tree (the test moves the counter)."""
    root = tmp_path / "sys"
    shutil.copytree(FIXTURES / "sys_rapl", root)
    return root


def pytest_report_header() -> str:
    return f"energy fixtures: {FIXTURES} ({'present' if os.path.isdir(FIXTURES) else 'missing'})"
