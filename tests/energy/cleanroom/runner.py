"""Run ``edgekit energy attribute`` as a user does, and generate a case's recording.

``attribute`` runs the installed console script in a subprocess (exactly what a user types);
``attribute_inprocess`` calls the same entry point, ``edgekit.cli:main`` (the console script's
target in pyproject.toml), in this process, for the hundred-trial coverage count that would
otherwise spend most of its time starting Python.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cases import Case
from .meter import Recording, record
from .scenario import build_schedule

__all__ = ["EDGEKIT", "Outcome", "attribute", "attribute_inprocess", "make"]

EDGEKIT = str(Path(sys.executable).with_name("edgekit"))


@dataclass
class Outcome:
    rc: int
    out: str
    err: str

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]


def _argv(power: Path, events: Path, extra: tuple[str, ...]) -> list[str]:
    return ["energy", "attribute", "--power", str(power), "--events", str(events), *extra]


def attribute(power: Path, events: Path, *extra: str) -> Outcome:
    proc = subprocess.run([EDGEKIT, *_argv(power, events, extra)], capture_output=True, text=True,
                          timeout=120)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def attribute_inprocess(power: Path, events: Path, *extra: str) -> Outcome:
    from edgekit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(_argv(power, events, extra))
    return Outcome(rc, out.getvalue(), err.getvalue())


def make(case: Case, seed: int, folder: Path, **events_header: object) -> Recording:
    """The case's recording for this seed, written into ``folder``."""
    rng = np.random.default_rng([seed, zlib.crc32(case.name.encode())])
    sched = build_schedule(case.scenario, rng)
    return record(sched, case.meter, rng, folder, name=case.name, events_header=events_header or None)
