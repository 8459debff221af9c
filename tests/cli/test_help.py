"""Every command's --help tells a new user what it does, its exit codes and one example.

The command tree is walked from click's own registry, so a command added later without exit
codes or an example fails here; the rendered help is read through ``main`` as a user sees it.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from typer.main import get_command

from edgekit.cli import _register, app, main

_register()
_ROOT = get_command(app)


def _leaves(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    # typer may ship its own click: a group is whatever holds sub-commands
    if hasattr(group, "commands"):
        out: list[tuple[tuple[str, ...], Any]] = []
        for name, cmd in sorted(group.commands.items()):
            out.extend(_leaves(cmd, (*path, name)))
        return out
    return [(path, group)]


LEAVES = _leaves(_ROOT)


def test_the_tree_is_walked() -> None:
    # Computed by hand from the README's command table: 14 leaf commands.
    names = {" ".join(p) for p, _ in LEAVES}
    assert {"build", "bench", "run", "journal", "status", "energy attribute", "data synth",
            "data info", "emulate", "inspect", "audit", "verify", "sign", "keygen"} <= names


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=lambda p: " ".join(p))
def test_help_has_exit_codes_and_an_example(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("TERMINAL_WIDTH", "250")
    assert main([*path, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit codes:" in text, f"edgekit {' '.join(path)} --help names no exit codes"
    # the example runs this very command, so a copied docstring is caught
    example = re.search(r"Example: (edgekit [^\n]*)", text)
    assert example is not None, f"edgekit {' '.join(path)} --help shows no example"
    assert example.group(1).startswith("edgekit " + " ".join(path) + " ") or example.group(
        1
    ).rstrip(".") == "edgekit " + " ".join(path)


def test_help_into_a_closed_pipe_is_quiet() -> None:
    """`edgekit run --help | head -22` printed `edgekit: error: Broken pipe` and exited 2."""
    import shlex
    import subprocess
    import sys

    cmd = shlex.join(
        [sys.executable, "-c", "import sys; from edgekit.cli import main; sys.exit(main())",
         "run", "--help"]
    )
    proc = subprocess.run(
        ["bash", "-c", f"{cmd} | head -22 >/dev/null; echo ${{PIPESTATUS[0]}}"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"}, check=True,
    )
    assert "error" not in proc.stderr, proc.stderr
    assert proc.stdout.strip() == str(128 + 13)  # as a tool killed by SIGPIPE (13 on Linux)
