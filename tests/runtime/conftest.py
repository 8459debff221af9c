"""End-to-end helpers: the real ``edgekit emulate`` and ``edgekit run`` as subprocesses on a real
pseudo-terminal, a fixture bundle from the reference CNN, and readers for what they leave."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.runtime.bundles import CNN, CNN_PREPROCESS, GBT, GBT_BASELINE, reference_for_cnn, write_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cnn_reference() -> dict[str, Any]:
    """The reference CNN's validation figures on fresh synthetic data, as a build measures them:
    reference statistics, the 95 %-accept OOD threshold, accuracy, and the held-out class's
    unknown rate at that threshold."""
    from edgekit.backends import open_backend
    from edgekit.builder.metrics import ood_scores
    from edgekit.data.synth import generate
    from edgekit.signals.preprocess import Pipeline

    ref, threshold, acc = reference_for_cnn()
    ofdm = generate(1000, seed=303, classes=("ofdm",))
    with open_backend(CNN, threads=1) as b:
        xp = Pipeline.from_spec(CNN_PREPROCESS)(ofdm.x)
        scores = np.concatenate([b.run(xp[i : i + 250]) for i in range(0, 1000, 250)])
    _, score = ood_scores(scores, "max_softmax", "logits")
    return {
        "reference": ref,
        "threshold": threshold,
        "accuracy": float(acc[0]),
        "ofdm_unknown_rate": float((score < threshold).mean()),
    }


@pytest.fixture(scope="session")
def cnn_bundle(tmp_path_factory, cnn_reference) -> Path:
    """The reference CNN (onnx-fp32) with the tree model as baseline."""
    root = tmp_path_factory.mktemp("bundles") / "cnn"
    return write_bundle(
        root,
        reference=cnn_reference["reference"],
        threshold=cnn_reference["threshold"],
        baseline={**GBT_BASELINE, "accuracy": 0.79},
        baseline_file=GBT,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator:
    """``edgekit emulate`` in a subprocess, with its truth and stats files."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.link = tmp / "scanner"
        self.truth_path, self.stats_path = tmp / "truth.jsonl", tmp / "stats.json"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edgekit",
                "emulate",
                "--symlink",
                str(self.link),
                "--truth",
                str(self.truth_path),
                "--stats",
                str(self.stats_path),
                *args,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not self.link.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"emulator did not come up: {self.proc.communicate()}")
            time.sleep(0.02)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def truth(self) -> list[dict[str, Any]]:
        """One record per capture (the closing ``{"line": ...}`` account left out)."""
        records = [json.loads(line) for line in self.truth_path.read_text().splitlines()]
        return [r for r in records if "line" not in r]

    def line(self) -> dict[str, Any]:
        """The emulator's account of what the host must count (``edgekit.emulator.truth``)."""
        for text in reversed(self.truth_path.read_text().splitlines()):
            record = json.loads(text)
            if "line" in record:
                return record["line"]
        raise AssertionError("the truth file has no line account (did the emulator finish?)")

    def stats(self) -> dict[str, Any]:
        return json.loads(self.stats_path.read_text())


class RunningDaemon:
    """``edgekit run`` in a subprocess; stdout (JSON lines) and stderr go to files."""

    def __init__(self, tmp: Path, bundle: Path, port: Path, config: str = "", *extra: str) -> None:
        self.journal = tmp / "journal.sqlite"
        self.metrics_port = free_port()
        self.config = tmp / "run.toml"
        self.config.write_text(config)
        self.out, self.err = tmp / "run.out", tmp / "run.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "edgekit",
                    "run",
                    str(bundle),
                    "--port",
                    str(port),
                    "--journal",
                    str(self.journal),
                    "--metrics-addr",
                    f"127.0.0.1:{self.metrics_port}",
                    "--config",
                    str(self.config),
                    *extra,
                ],
                cwd=REPO,
                stdout=out,
                stderr=err,
            )

    def get(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}{path}"
        return urllib.request.urlopen(url, timeout=5).read().decode()

    def wait_for(self, pred, limit_s: float = 120.0) -> None:
        # a liveness bound, not a speed check: a daemon starts in seconds on a quiet host and in
        # more than 30 s on one shared by several test suites (imports, model warm-up)
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited {self.proc.returncode}: {self.err.read_text()[-2000:]}")
            try:
                if pred():
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"gave up waiting; daemon log tail: {self.out.read_text()[-1500:]}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def results(self) -> list[dict[str, Any]]:
        from edgekit.runtime.journal import read_journal

        return read_journal(self.journal)["results"]

    def events(self) -> list[dict[str, Any]]:
        from edgekit.runtime.journal import read_journal

        return read_journal(self.journal)["events"]


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text exposition (0 when absent)."""
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}" if labels else "")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(want + " "):
            total += float(line.split()[-1])
    return total


def metric_sum(text: str, name: str) -> float:
    """Sum over every label set of ``name``."""
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


@pytest.fixture
def env_ok() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
