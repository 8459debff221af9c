"""The profile stage's bounded re-run on host interference (the timing itself is faked here:
what is tested is the decision, not a clock)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgekit.builder.host_load import HostLoad
from edgekit.builder.profile import ProfileAttempt, ProfileJob
from edgekit.builder.stages import measure
from edgekit.config import ProfileConfig
from edgekit.results import LatencyResult


def _lat() -> LatencyResult:
    return LatencyResult(1.0, 0.3, 0.4, 9.0, 0.5, 0.1, 200, 1, 1, 80.0, "ort", "host, measured")


def _run(tmp: Path, max_reruns: int) -> SimpleNamespace:
    cfg = SimpleNamespace(profile=ProfileConfig(max_reruns=max_reruns))
    return SimpleNamespace(cfg=cfg, log=lambda _m: None, scratch=tmp, staging=tmp, warnings=[])


@pytest.mark.parametrize("max_reruns", [0, 1, 2])
def test_interference_every_time_reruns_at_most_max_reruns_and_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_reruns: int
) -> None:
    calls: list[int] = []

    def noisy(jobs: list[ProfileJob], **kw: object) -> ProfileAttempt:
        calls.append(int(kw["seed"]))  # type: ignore[call-overload]
        return ProfileAttempt({"a": _lat()}, HostLoad(100.0, 0.0, 9.0), ["p99 above 3x p50 (a)"], 10)

    monkeypatch.setattr(measure, "profile_variants", noisy)
    run = _run(tmp_path, max_reruns)
    detail: list[str] = []
    got = measure._timed(run, [ProfileJob("a", tmp_path / "a.onnx")], np.zeros((1, 4)), [], detail)  # type: ignore[arg-type]
    assert len(calls) == max_reruns + 1
    assert len(set(calls)) == len(calls)  # each attempt shuffles its rounds anew
    assert got.latency["a"].attempt == max_reruns + 1
    assert len(run.warnings) == 1 and "host interference" in run.warnings[0]
    assert (f"also after {max_reruns} re-run(s)" in run.warnings[0]) is (max_reruns > 0)


def test_a_clean_second_attempt_is_kept_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signs = [["runs descheduled (a 4%)"], []]

    def once_noisy(jobs: list[ProfileJob], **kw: object) -> ProfileAttempt:
        return ProfileAttempt({"a": _lat()}, HostLoad(60.0, 0.0, 1.0), signs.pop(0), 10)

    monkeypatch.setattr(measure, "profile_variants", once_noisy)
    run = _run(tmp_path, 3)
    detail: list[str] = []
    got = measure._timed(run, [ProfileJob("a", tmp_path / "a.onnx")], np.zeros((1, 4)), [], detail)  # type: ignore[arg-type]
    assert signs == [] and run.warnings == []
    lat = got.latency["a"]
    assert lat.attempt == 2 and lat.interference == []
    assert "attempt 2 of 2, re-timed after host interference" in lat.provenance
    assert detail == ["timed 2 times after host interference (attempt 1: runs descheduled)"]
