"""What counts as measured, and as measured on the target; replayed recordings keep their provenance."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edgekit.energy import EnergyRefused, Recording, is_measured_on_target, open_meter, write_recording
from edgekit.energy.provenance import live_provenance, recording_provenance
from edgekit.energy.simulate import MeterModel, Workload, synthesize_recording, synthesize_trace
from edgekit.energy.tracefile import TraceHeader
from edgekit.errors import MeterError

FULL = TraceHeader(kind="measured", meter="ina260", board="rpi4b", bundle_id="bundle-1")
EVENTS = {"board": "rpi4b", "bundle_id": "bundle-1"}


@pytest.mark.parametrize(
    ("header", "events", "kind", "why"),
    [
        (FULL, EVENTS, "measured", "recorded with physical meter ina260 on rpi4b"),
        (replace(FULL, kind=None), EVENTS, "unverified", "no kind line"),
        (replace(FULL, kind="unverified"), EVENTS, "unverified", "kind=unverified"),
        (replace(FULL, meter="simulated"), EVENTS, "unverified", "simulated is not a physical meter"),
        (replace(FULL, meter=None), EVENTS, "unverified", "(not named) is not a physical meter"),
        (replace(FULL, board=None), EVENTS, "unverified", "does not name board"),
        (replace(FULL, bundle_id=None), EVENTS, "unverified", "does not name bundle_id"),
        (FULL, {**EVENTS, "bundle_id": "bundle-2"}, "unverified", "disagree on bundle_id"),
        (FULL, None, "unverified", "no event log"),
        (replace(FULL, meter="model:rpi4b", kind="estimated"), EVENTS, "estimated", "an estimate"),
    ],
)
def test_recording_kind_rules(header, events, kind, why) -> None:
    prov = recording_provenance(header, events, "test")
    assert prov.kind == kind and why in prov.reason


def test_live_kind_rules() -> None:
    assert live_provenance("ina226", "ina226:shunt=0.1", "measured").kind == "measured"
    assert live_provenance("hwmon:ina226", "hwmon", "measured").kind == "measured"
    assert live_provenance("model:rpi4b", "model:rpi4b", "estimated").kind == "estimated"
    assert live_provenance("simulated", "simulated", "measured").kind == "unverified"
    ctx = live_provenance("ina260", "ina260", "measured",
                          {"board_model": "Raspberry Pi 4 Model B Rev 1.4", "bundle_id": "b"})
    assert ctx.board == "rpi4b"  # derived from the model string when not given


SHA = "a" * 64
OTHER = "b" * 64


def _energy(kind: str = "measured", **prov: object) -> dict[str, object]:
    base = {"kind": kind, "reason": "x", "meter": "ina260", "board": "rpi4b", "bundle_id": "b-1",
            "variant_sha256": SHA}
    return {"kind": kind, "meter": "ina260", "provenance": {**base, **prov}}


@pytest.mark.parametrize(
    ("energy", "board", "sha", "ok", "why"),
    [
        (_energy(), "rpi4b", SHA, True, "measured on rpi4b with ina260, variant file sha256 aaaaaaaaaaaa"),
        (_energy(kind="estimated", reason="model:rpi4b is a model"), "rpi4b", SHA, False,
         "energy is estimated, not measured (model:rpi4b is a model)"),
        (_energy(kind="unverified", reason="no kind line"), "rpi4b", SHA, False, "unverified"),
        (_energy(board="rpi5", board_model="Raspberry Pi 5 Model B"), "rpi4b", SHA, False,
         "measured on rpi5 (Raspberry Pi 5 Model B), but [target] board is rpi4b"),
        # another bundle ID alone does not matter (a rebuilt bundle never has the same one) ...
        (_energy(bundle_id="b-0"), "rpi4b", SHA, True, "bench bundle b-0"),
        # ... another variant file does
        (_energy(variant_sha256=OTHER), "rpi4b", SHA, False,
         "measured variant file sha256 bbbbbbbbbbbb..., not this build's aaaaaaaaaaaa..."),
        (_energy(variant_sha256=None), "rpi4b", SHA, False, "does not record which variant file"),
        (_energy(board=None, board_model="AMD EPYC 7B13"), "rpi4b", SHA, False,
         "does not say which board it ran on (board model: AMD EPYC 7B13)"),
        (_energy(), "rpi4b", None, False, "the build has no variant file digest"),
    ],
)
def test_measured_on_target(energy, board, sha, ok, why) -> None:
    verdict, reason = is_measured_on_target(energy, target_board=board, variant_sha256=sha)
    assert verdict is ok and why in reason


def test_board_identity_from_the_bench_fills_in() -> None:
    energy = _energy(board=None)
    ok, _ = is_measured_on_target(energy, target_board="rpi4b", variant_sha256=SHA,
                                  board={"board_model": "Raspberry Pi 4 Model B Rev 1.5"})
    assert ok


def test_the_bench_digest_must_agree_too() -> None:
    # the figure's provenance names this file, but the bench says it benched another one
    ok, reason = is_measured_on_target(_energy(), target_board="rpi4b", variant_sha256=SHA,
                                       board={"variant_sha256": OTHER})
    assert not ok and "bbbbbbbbbbbb" in reason


def _recording(tmp_path: Path, **header: object) -> Path:
    result, _ = synthesize_recording(Workload(2.0, 3.5, 0.002), MeterModel(500, noise_w=0.005),
                                     windows=2, window_s=1.5, idle_s=1.0)
    rec = result.recording
    trace = replace(rec.trace, header=replace(rec.trace.header, **header))
    events = rec.events
    events.header = {**events.header, **{k: v for k, v in header.items() if k in EVENTS}}
    write_recording(tmp_path, "onnx-fp32", Recording(trace, events))
    return tmp_path


def test_replayed_recording_with_provenance_is_measured(tmp_path: Path) -> None:
    folder = _recording(tmp_path, kind="measured", meter="ina260", board="rpi4b", bundle_id="b-1")
    meter = open_meter(f"replay:{folder}")
    assert meter.info.kind == "measured"
    rec = meter.recording_for("onnx-fp32")  # type: ignore[attr-defined]
    assert rec.events.n_inferences > 0


def test_replayed_synthetic_trace_is_unverified(tmp_path: Path) -> None:
    meter = open_meter(f"replay:{_recording(tmp_path)}")
    assert meter.info.kind == "unverified" and "only kind=measured can count" in meter.info.notes


def test_trace_without_events_gives_no_energy(tmp_path: Path) -> None:
    trace, _ = synthesize_trace(Workload(2.0, 3.0, 0.005), MeterModel(100.0), active_s=2.0)
    path = trace.write_csv(tmp_path / "trace.csv")
    meter = open_meter(f"replay:{path}")
    assert meter.info.kind == "unverified" and "NO event log" in meter.info.notes
    assert meter.read().power_w > 0  # still readable sample by sample
    with pytest.raises(EnergyRefused, match=r"trace\.csv has no event log") as info:
        meter.recording_for(None)  # type: ignore[attr-defined]
    assert info.value.cause == "replay" and info.value.exit_code == 1


def test_replay_folder_with_several_recordings_needs_the_variant(tmp_path: Path) -> None:
    folder = _recording(tmp_path)
    (folder / "onnx-fp32.power.csv").rename(folder / "a.power.csv")
    (folder / "onnx-fp32.events.jsonl").rename(folder / "a.events.jsonl")
    _recording(folder)
    meter = open_meter(f"replay:{folder}")
    assert meter.recording_for("a").events.n_inferences > 0  # type: ignore[attr-defined]
    with pytest.raises(MeterError, match=r"no recording 'b'; it holds: a, onnx-fp32"):
        meter.recording_for("b")  # type: ignore[attr-defined]
    with pytest.raises(MeterError, match=r"holds 2 recordings \(a, onnx-fp32\); name one"):
        meter.recording_for(None)  # type: ignore[attr-defined]
