"""End-to-end helpers: the real ``edgekit emulate`` and ``edgekit run`` as subprocesses on a real
pseudo-terminal, a fixture bundle from the reference CNN, and readers for what they leave."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import tty
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


# How long a process may take to come up (imports, model load and warm-up) before a test gives up:
# seconds on a quiet host, tens of seconds on a 2-core CI host at a load average of 10-20. A
# liveness bound, never a speed check.
START_LIMIT_S = 300.0


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
        # a liveness bound: the emulator's imports take a second on a quiet host, many on a loaded one
        deadline = time.monotonic() + START_LIMIT_S
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


class StandInPort:
    """A silent pseudo-terminal at ``link`` for ``edgekit run`` to start on, before the emulator.

    The daemon needs its port to exist when it starts, and starting takes seconds on a quiet host
    and tens of seconds on a loaded one (imports, model load, warm-up), while the emulator's
    scenario runs on its own wall clock from its launch (``--duration``, ``--unplug-every``): a
    daemon still starting misses part of the scenario, or finds the port unplugged and exits.
    So the daemon starts on this stand-in; once it has opened it (its first bytes arrive),
    ``unplug`` removes the stand-in and the emulator takes the path. The daemon sees that as one
    more unplug: one ``link_down`` and, on the emulator, one ``link_up``. The stand-in never
    answers, so the daemon learns nothing of a scanner from it.
    """

    def __init__(self, link: Path) -> None:
        self.link = link
        self._master, slave = os.openpty()
        tty.setraw(slave)
        os.symlink(os.ttyname(slave), link)
        os.close(slave)  # while no one has the slave open, the master reports a hang-up

    def wait_opened(self, daemon: RunningDaemon, limit_s: float = START_LIMIT_S) -> None:
        """Return once the daemon wrote to the port (it opens it last, when it has started)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if daemon.proc.poll() is not None:
                pytest.fail(f"daemon exited {daemon.proc.returncode}: {daemon.err.read_text()[-2000:]}")
            readable, _, _ = select.select([self._master], [], [], 0.1)
            if readable:
                try:
                    if os.read(self._master, 4096):
                        return
                except OSError:  # EIO: no one has the slave open yet
                    pass
                time.sleep(0.1)
        pytest.fail(f"the daemon did not open its port within {limit_s:.0f} s")

    def unplug(self) -> None:
        """Remove the link and close the pty: the daemon's next read fails and it reconnects."""
        if self.link.is_symlink():
            self.link.unlink()
        if self._master >= 0:
            os.close(self._master)
            self._master = -1


def start_daemon_first(
    tmp: Path, bundle: Path, config: str, *emulator_args: str
) -> tuple[RunningDaemon, Emulator]:
    """``edgekit run`` started on a ``StandInPort``, then ``edgekit emulate`` on the same path:
    the emulator's scenario begins with a daemon that is up, however loaded the host."""
    stand_in = StandInPort(tmp / "scanner")
    daemon = RunningDaemon(tmp, bundle, stand_in.link, config)
    try:
        try:
            stand_in.wait_opened(daemon)
        finally:
            stand_in.unplug()
        return daemon, Emulator(tmp, *emulator_args)
    except BaseException:
        daemon.stop()
        raise


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
