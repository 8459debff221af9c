"""Quiet by default: a real `edgekit build` process (file descriptors and all) with a TFLite
variant, whose runtime prints "Created TensorFlow Lite XNNPACK delegate" from C++ and whose
converter (onnx2tf, TensorFlow) prints dozens of lines. By default they land in log files named in
the report; with --verbose they are shown."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, reference_config

# What the runtimes and the converter print (none of it is edgekit's own wording).
# onnxruntime logs as "[W:onnxruntime:...]"; absl (TensorFlow) as "W0000 00:00:..." or "WARNING:".
NOISE = re.compile(r"XNNPACK|[Tt]ensor[Ff]low|absl|\[[WEI]:onnxruntime|cuda|CUDA|^[WEI]\d{4} |^WARNING:")


def _build_limit_s() -> float:
    """A liveness bound on one build, never a speed check: twice what the build itself allows its
    onnx2tf conversion (``convert_to_tflite_variants``' own timeout), so that a conversion too slow
    is reported by the build (a named ConversionError), not cut off by the test. A build takes
    about 20 s on the quiet 2-core CI host and many times that at a load average of 10-20, when
    900 s was seen not to be enough for the second build of this module."""
    from edgekit.builder.converter import convert_to_tflite_variants

    default = inspect.signature(convert_to_tflite_variants).parameters["timeout_s"].default
    return 2.0 * float(default)


def _build(tmp: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    # no membership audit: it adds half a minute and prints nothing of the runtimes'
    cfg = reference_config(tmp, eval_n=300, runs=20, cal_n=300, audit=False)
    return subprocess.run(
        [sys.executable, "-m", "edgekit", "build", str(cfg), "--variants", "onnx-fp32,tflite-fp32",
         "--out", str(tmp / out), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=_build_limit_s(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("quiet")
    return _build(tmp, "out"), tmp / "out"


@pytest.mark.converter
@pytest.mark.slow
def test_default_build_keeps_runtime_output_off_the_terminal(
    quiet: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    proc, _ = quiet
    assert proc.returncode in (0, 1), proc.stderr
    noisy = [line for line in (proc.stdout + proc.stderr).splitlines() if NOISE.search(line)]
    assert noisy == []
    # stderr holds edgekit's own warnings at most (none here is the runtimes')
    assert len(proc.stderr.splitlines()) <= 3, proc.stderr
    assert "PASS" in proc.stdout or "REJECTED" in proc.stdout  # the verdict is on the terminal


@pytest.mark.converter
@pytest.mark.slow
def test_the_logs_hold_the_output_and_the_report_names_them(
    quiet: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, out = quiet
    runtime = (out / "logs" / "runtime.log").read_text()
    assert "XNNPACK" in runtime  # the in-process TFLite interpreter's C++ line
    convert = (out / "variants" / "tflite-fp32.convert.log").read_text()
    assert "onnx2tf" in convert
    md = (out / "report.md").read_text()
    for name in ("logs/runtime.log", "variants/tflite-fp32.convert.log"):
        assert f"`{name}`" in md
    # every log the report names exists, inside the published output folder
    named = re.findall(r"`((?:logs|variants)/[^`]+\.log)`", md)
    assert named and all((out / n).is_file() for n in named)
    import json

    assert json.loads((out / "report.json").read_text())["logs"] == sorted(
        named, key=lambda n: (not n.startswith("logs/"), n)
    )


@pytest.mark.converter
@pytest.mark.slow
def test_verbose_shows_the_runtime_and_converter_output(tmp_path: Path) -> None:
    proc = _build(tmp_path, "out", "--verbose")
    assert proc.returncode in (0, 1), proc.stderr
    assert "XNNPACK" in proc.stderr  # the in-process runtime, shown
    assert re.search(r"onnx2tf|tensorflow", proc.stderr, re.I)  # the converter's output, shown
    assert "XNNPACK" in (tmp_path / "out" / "logs" / "runtime.log").read_text()  # and kept
