"""The bad-input corpus: every command on each malformed input exits 2 with one line on stderr,
no traceback, and no file changed outside the output folder.

Each case starts from the tiny valid project (``_inputs.write_project``, proven to build by the
``good_build`` fixture), breaks one thing, and runs the real CLI in-process. Cases marked
``early`` must be refused before the build's first stage prints anything.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from onnx import TensorProto

from tests.corpus._cli import assert_refused, run_in_process, snapshot
from tests.corpus._inputs import build_argv, render_config, tiny_model, write_npz, write_project
from tests.corpus._npz_cases import BUILD_ONLY_NPZ, NPZ_CASES

Make = Callable[[Path, dict[str, Any]], list[str]]


@dataclass(frozen=True)
class Case:
    id: str
    make: Make  # (project folder, fixtures) -> argv; may break files in the folder
    mentions: tuple[str, ...] = ()
    early: bool = False  # refused before the build's first stage starts
    needs: str = ""  # "bench": the case needs the good bench.json; "bundle": the good bundle
    xfail: str = ""


CASES: list[Case] = []


def case(
    id: str, *mentions: str, early: bool = False, needs: str = "", xfail: str = ""
) -> Callable[[Make], Make]:
    def register(fn: Make) -> Make:
        CASES.append(Case(id, fn, mentions, early, needs, xfail))
        return fn

    return register


def config_case(id: str, sets: dict[str, str | None], *mentions: str, extra: str = "") -> None:
    """A build whose edgekit.toml has ``sets`` applied (and ``extra`` text appended)."""

    def make(d: Path, _: dict[str, Any]) -> list[str]:
        (d / "edgekit.toml").write_text(render_config(sets) + extra)
        return build_argv(d)

    CASES.append(Case(f"config-{id}", make, ("edgekit.toml", *mentions), early=True))


# ---- the config file: every rule of docs/config.md ------------------------------------------
for _id, _sets, _key in [
    ("nan-budget", {"budgets.max_latency_p99_ms": "nan"}, "budgets.max_latency_p99_ms"),
    ("inf-budget", {"budgets.max_energy_per_inference_mj": "inf"}, "budgets.max_energy_per_inference_mj"),
    ("negative-budget", {"budgets.max_latency_p99_ms": "-1.0"}, "budgets.max_latency_p99_ms"),
    ("min-accuracy-5", {"budgets.min_accuracy": "5"}, "budgets.min_accuracy"),
    ("accuracy-drop-2", {"budgets.max_accuracy_drop": "2.0"}, "budgets.max_accuracy_drop"),
    ("life-loss-200pct", {"budgets.max_battery_life_loss_pct": "200.0"}, "budgets.max_battery_life_loss_pct"),
    ("variants-empty", {"variants": "[]"}, "variants"),
    ("variants-repeat", {"variants": '["onnx-fp32", "onnx-fp32"]'}, "variants"),
    ("variants-unknown", {"variants": '["onnx-int4"]'}, "variants"),
    ("variants-string", {"variants": '"onnx-fp32"'}, "variants"),
    ("bins-nan", {"slices.bins": "{ snr_db = [0.0, nan] }"}, "slices.bins.snr_db"),
    ("bins-decreasing", {"slices.bins": "{ snr_db = [5.0, 1.0] }"}, "slices.bins.snr_db"),
    ("bins-single-edge", {"slices.bins": "{ snr_db = [5.0] }"}, "slices.bins.snr_db"),
    ("bins-not-a-column", {"slices.bins": "{ other = [0.0, 1.0] }"}, "slices.bins.other"),
    (
        "battery-capacity-zero",
        {"battery.capacity_mah": "0.0", "battery.nominal_v": "3.7"},
        "battery.capacity_mah",
    ),
    ("battery-wh-negative", {"battery.capacity_wh": "-5.0"}, "battery.capacity_wh"),
    (
        "battery-volts-negative",
        {"battery.capacity_mah": "10.0", "battery.nominal_v": "-3.7"},
        "battery.nominal_v",
    ),
    ("battery-mah-alone", {"battery.capacity_mah": "5000.0"}, "battery.nominal_v"),
    (
        "battery-both-capacities",
        {"battery.capacity_wh": "5.0", "battery.capacity_mah": "10.0", "battery.nominal_v": "3.7"},
        "battery.capacity_wh",
    ),
    ("baseline-negative", {"battery.scanner_baseline_w": "-1.0"}, "battery.scanner_baseline_w"),
    ("duty-zero", {"battery.duty_hz": "0.0"}, "battery.duty_hz"),
    ("usable-fraction-nan", {"battery.usable_fraction": "nan"}, "battery.usable_fraction"),
    ("labels-repeat", {"model.labels": '["a", "b", "a", "d"]'}, "model.labels"),
    ("label-empty", {"model.labels": '["a", "", "c", "d"]'}, "model.labels[1]"),
    ("label-newline", {"model.labels": '["a", "b\\nc", "c", "d"]'}, "model.labels[1]"),
    ("ood-in-labels", {"data.ood_classes": '["a"]'}, "data.ood_classes"),
    ("ood-repeat", {"data.ood_classes": '["z", "z"]'}, "data.ood_classes"),
    ("worst-negative", {"slices.worst": "-1"}, "slices.worst"),
    ("min-size-zero", {"slices.min_size": "0"}, "slices.min_size"),
    ("columns-repeat", {"slices.columns": '["kind", "kind"]'}, "slices.columns"),
    ("max-float-nodes-negative", {"quant.max_float_nodes": "-1"}, "quant.max_float_nodes"),
    ("name-slash", {"model.name": '"a/b"'}, "model.name"),
    ("name-dotdot", {"model.name": '"../.."'}, "model.name"),
    ("name-dot", {"model.name": '"."'}, "model.name"),
    ("name-backslash", {"model.name": '"a\\\\b"'}, "model.name"),
    ("name-nul", {"model.name": '"a\\u0000b"'}, "model.name"),
    ("name-long", {"model.name": '"' + "n" * 300 + '"'}, "model.name"),
    ("path-empty", {"model.path": '""'}, "model.path"),
    ("path-nul", {"model.path": '"m\\u0000.onnx"'}, "model.path"),
    ("runs-int64-max", {"profile.runs": "9223372036854775807"}, "profile.runs"),
    ("runs-zero", {"profile.runs": "0"}, "profile.runs"),
    ("warmup-negative", {"profile.warmup": "-1"}, "profile.warmup"),
    ("threads-zero", {"profile.threads": "0"}, "profile.threads"),
    ("batch-huge", {"profile.batch": "100000000"}, "profile.batch"),
    ("calibration-size-zero", {"data.calibration_size": "0"}, "data.calibration_size"),
    ("accept-one", {"ood.target_in_distribution_accept": "1.0"}, "ood.target_in_distribution_accept"),
    ("schema-2", {"schema": "2"}, "schema"),
    ("unknown-key", {"budgets.max_latency_ms": "1.0"}, "budgets.max_latency_ms"),
    ("unknown-section", {"budget.max_latency_p99_ms": "1.0"}, "budget"),
    ("drop-nonfinite-string", {"data.drop_nonfinite": '"yes"'}, "data.drop_nonfinite"),
    ("datetime-value", {"model.description": "1979-05-27T07:32:00Z"}, "model.description"),
]:
    config_case(_id, _sets, _key)

config_case("preprocess-unknown-op", {}, "fft", extra='[[preprocess]]\nop = "fft"\n')
config_case("preprocess-nan", {}, "preprocess", extra='[[preprocess]]\nop = "scale"\nfactor = nan\n')
config_case("preprocess-no-op", {}, "preprocess[0]", extra="[[preprocess]]\nfactor = 2.0\n")


def _raw_config(id: str, data: bytes, *mentions: str) -> None:
    def make(d: Path, _: dict[str, Any]) -> list[str]:
        (d / "edgekit.toml").write_bytes(data)
        return build_argv(d)

    CASES.append(Case(f"config-{id}", make, ("edgekit.toml", *mentions), early=True))


_raw_config("empty-file", b"", "model")
_raw_config("not-toml", b"[model\npath = 1\n", "not valid TOML")
_raw_config("not-utf8", b'[model]\npath = "\xff\xfe.onnx"\n')
_raw_config("binary", bytes(range(256)))
_raw_config("model-not-a-table", b"model = 1\n", "model")
_raw_config("preprocess-not-tables", b'preprocess = [1]\n[model]\npath = "model.onnx"\n', "preprocess")


@case("config-missing", "no such config file", early=True)
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["build", str(d / "nope.toml"), "--out", str(d / "out" / "b")]


@case("config-is-a-folder", early=True)
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["build", str(d), "--out", str(d / "out" / "b")]


# ---- the model ------------------------------------------------------------------------------
@case("model-int64-output", "int64")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    tiny_model(d / "model.onnx", output_type=TensorProto.INT64)
    return build_argv(d)


@case("model-huge-declared-input-no-data", "input 'x'")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    tiny_model(d / "model.onnx", input_dims=[1, 2, 10**12])
    sets: dict[str, str | None] = {"data.evaluation": None, "data.calibration": None,
                                   "slices.columns": None, "slices.bins": None}  # fmt: skip
    (d / "edgekit.toml").write_text(render_config(sets))
    return build_argv(d)


for _id, _data in [("empty", b""), ("garbage", b"\x08\x01garbage" * 50), ("text", b"hello")]:

    def _make(d: Path, _: dict[str, Any], data: bytes = _data) -> list[str]:
        (d / "model.onnx").write_bytes(data)
        return build_argv(d)

    CASES.append(Case(f"model-{_id}-file", _make, ("model.onnx",)))


@case("model-truncated", "model.onnx")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    data = (d / "model.onnx").read_bytes()
    (d / "model.onnx").write_bytes(data[: len(data) // 2])
    return build_argv(d)


@case("model-missing", "no such model file")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    (d / "model.onnx").unlink()
    return build_argv(d)


@case("model-labels-count", "model.labels")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    (d / "edgekit.toml").write_text(
        render_config({"model.labels": '["a", "b", "c"]', "data.ood_classes": '["d", "z"]'})
    )
    return build_argv(d)


@case("model-input-name-unknown", "model.input_name")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    (d / "edgekit.toml").write_text(render_config({"model.input_name": '"nope"'}))
    return build_argv(d)


# ---- data: files, recipes, and what a build needs of them ------------------------------------
for _id, _write, _mentions in NPZ_CASES + BUILD_ONLY_NPZ:

    def _make_build(d: Path, _: dict[str, Any], write: Any = _write) -> list[str]:
        write(d / "eval.npz")
        return build_argv(d)

    CASES.append(Case(f"build-npz-{_id}", _make_build, ("eval.npz", *_mentions)))

for _id, _write, _mentions in NPZ_CASES:

    def _make_info(d: Path, _: dict[str, Any], write: Any = _write) -> list[str]:
        write(d / "eval.npz")
        return ["data", "info", str(d / "eval.npz")]

    CASES.append(Case(f"info-npz-{_id}", _make_info, ("eval.npz", *_mentions)))


@case("build-calibration-nan", "cal.npz", "NaN")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    from tests.corpus._inputs import valid_arrays

    a = valid_arrays()
    a["x"][3] = float("nan")
    write_npz(d / "cal.npz", a)
    (d / "edgekit.toml").write_text(render_config({"data.calibration": '"cal.npz"'}))
    return build_argv(d)


@case("build-nan-dropped-leaves-nothing", "no captures left")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    from tests.corpus._inputs import valid_arrays

    a = valid_arrays()
    a["x"][:] = float("nan")
    write_npz(d / "eval.npz", a)
    (d / "edgekit.toml").write_text(render_config({"data.drop_nonfinite": "true"}))
    return build_argv(d)


for _id, _sets, _mentions in [
    (
        "slice-column-unknown",
        {"slices.columns": '["snr"]', "slices.bins": None},
        ("slices.columns", "'snr'", "snr_db"),
    ),
    ("bins-on-text-column", {"slices.bins": "{ kind = [0.0, 1.0] }"}, ("slices.bins.kind",)),
    ("class-not-in-labels", {"data.ood_classes": "[]"}, ("'z'",)),
    ("eval-missing", {"data.evaluation": '"nope.npz"'}, ("nope.npz",)),
    ("eval-is-a-folder", {"data.evaluation": '"."'}, ()),
    ("recipe-n-10M", {"data.evaluation": '"synthetic:rf?n=10000000&seed=1"'}, ("n=10000000", "GiB")),
    ("recipe-n-zero", {"data.evaluation": '"synthetic:rf?n=0&seed=1"'}, ("n=",)),
    ("recipe-n-text", {"data.evaluation": '"synthetic:rf?n=lots&seed=1"'}, ("n=",)),
    ("recipe-unknown-param", {"data.evaluation": '"synthetic:rf?n=10&seed=1&foo=2"'}, ("foo",)),
    ("recipe-missing-seed", {"data.evaluation": '"synthetic:rf?n=10"'}, ("seed",)),
    ("recipe-nan-snr", {"data.evaluation": '"synthetic:rf?n=10&seed=1&snr=nan,5"'}, ("snr",)),
    ("unknown-scheme", {"data.evaluation": '"http://example.invalid/x.npz"'}, ("http",)),
]:

    def _make_data(d: Path, _: dict[str, Any], sets: dict[str, str | None] = _sets) -> list[str]:
        (d / "edgekit.toml").write_text(render_config(sets))
        return build_argv(d)

    CASES.append(Case(f"build-{_id}", _make_data, _mentions))


@case("build-preprocess-overflows", "NaN or inf", "preprocess")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    (d / "edgekit.toml").write_text(render_config() + '[[preprocess]]\nop = "scale"\nfactor = 1e39\n')
    return build_argv(d)


# ---- bench.json for --target-results: checked before the first stage ------------------------
def bench_case(id: str, edit: Callable[[dict[str, Any]], Any], *mentions: str) -> None:
    def make(d: Path, fx: dict[str, Any]) -> list[str]:
        data = copy.deepcopy(fx["bench"])
        result = edit(data)
        text = result if isinstance(result, str) else json.dumps(data)
        (d / "bench.json").write_text(text)
        return build_argv(d, "--target-results", str(d / "bench.json"))

    CASES.append(Case(f"bench-json-{id}", make, ("bench.json", *mentions), early=True, needs="bench"))


def _energy(data: dict[str, Any]) -> dict[str, Any]:
    energy: dict[str, Any] = data["variants"][0]["energy"]
    return energy


def _relabel(data: dict[str, Any]) -> None:
    e = _energy(data)
    e["kind"] = "measured"
    e["label"] = "measured (model:rpi4b, 10 Hz)"
    data["meter"]["kind"] = "measured"
    if data["variants"][0].get("battery"):
        data["variants"][0]["battery"]["kind"] = "measured"


bench_case("not-json", lambda d: "{", "malformed JSON")
bench_case("not-an-object", lambda d: "[]", "")
bench_case("empty-file", lambda d: "", "malformed JSON")
bench_case("schema-2", lambda d: d.update(schema_version=2), "schema_version")
bench_case("no-variants", lambda d: d.pop("variants"), "variants")
bench_case("variants-empty", lambda d: d.update(variants=[]), "variants")
bench_case(
    "negative-energy", lambda d: _energy(d).update(energy_per_inference_mj=-1.0), "energy_per_inference_mj"
)
bench_case("negative-latency", lambda d: d["variants"][0]["latency"].update(p99_ms=-5.0), "p99_ms")
bench_case("nan-latency", lambda d: json.dumps(d).replace('"p50_ms": ', '"p50_ms": NaN, "x": '), "p50_ms")
bench_case(
    "inf-energy",
    lambda d: json.dumps(d).replace(
        '"energy_per_inference_mj": ', '"energy_per_inference_mj": 1e999, "x": ', 1
    ),
    "energy_per_inference_mj",
)
bench_case("latency-as-text", lambda d: d["variants"][0]["latency"].update(p99_ms="fast"), "p99_ms")
bench_case("percentiles-out-of-order", lambda d: d["variants"][0]["latency"].update(p50_ms=1e6), "latency")
bench_case("memory-zero", lambda d: d["variants"][0].update(peak_memory_mb=0), "peak_memory_mb")
bench_case("estimate-relabelled-measured", _relabel, "measured", "physical meter")
bench_case(
    "energy-outside-its-interval",
    lambda d: _energy(d).update(energy_per_inference_mj=_energy(d)["energy_per_inference_mj"] / 10),
    "interval",
)
bench_case("other-model", lambda d: d["bundle"].update(name="another"), "bundle.name")
bench_case("duplicate-variant", lambda d: d["variants"].append(d["variants"][0]), "twice")


@case("bench-json-missing", "nope.json", early=True)
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return build_argv(d, "--target-results", str(d / "nope.json"))


@case("bench-json-in-config-malformed", "bench.json", early=True)
def _(d: Path, _: dict[str, Any]) -> list[str]:
    (d / "bench.json").write_text('{"schema_version": 1, "variants": [{}]}')
    (d / "edgekit.toml").write_text(render_config({"target.results": '"bench.json"'}))
    return build_argv(d)


# ---- edgekit data synth -----------------------------------------------------------------------
def synth_case(id: str, args: list[str], *mentions: str, out: str = "new.npz") -> None:
    def make(d: Path, _: dict[str, Any]) -> list[str]:
        (d / "notes.txt").write_text("keep me")
        target = out.replace("{d}", str(d)) if "{d}" in out else str(d / out)
        base = {"--out": target, "--n": "10", "--seed": "1"}
        argv = ["data", "synth"]
        for key, value in base.items():
            if key not in args:
                argv += [key, value]
        return argv + args

    CASES.append(Case(f"synth-{id}", make, mentions))


synth_case("n-1e12", ["--n", "1e12"], "--n")
synth_case("n-10-to-12", ["--n", "1000000000000"], "GiB")
synth_case("n-zero", ["--n", "0"], "--n")
synth_case("n-negative", ["--n", "-5"], "--n")
synth_case("out-is-a-folder", [], "folder", out="{d}")
synth_case("out-in-missing-folder", [], "does not exist", out="nope/x.npz")
synth_case("out-overwrites-text-file", [], "not an .npz", out="notes.txt")


@case("synth-out-is-a-fifo", "not a regular file")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    # A special file of the test's own: a system one (/dev/full) could be replaced by a broken
    # implementation, as happened once when this corpus ran against an older edgekit.
    os.mkfifo(d / "pipe")
    return ["data", "synth", "--out", str(d / "pipe"), "--n", "10", "--seed", "1"]

synth_case("snr-nan", ["--snr-range", "nan", "5"], "--snr-range")
synth_case("snr-reversed", ["--snr-range", "10", "0"], "--snr-range")
synth_case("cfo-nan", ["--cfo-max-hz", "nan"], "cfo")
synth_case("cfo-inf", ["--cfo-max-hz", "inf"], "cfo")
synth_case("multipath-nan", ["--multipath", "nan"], "multipath")
synth_case("drift-2", ["--drift", "2"], "--drift")
synth_case("seed-negative", ["--seed", "-1"], "--seed")
synth_case("classes-empty", ["--classes", ","], "--classes")
synth_case("classes-repeat", ["--classes", "bpsk,bpsk"], "--classes")
synth_case("unknown-option", ["--count", "5"], "--count")


# ---- edgekit inspect --------------------------------------------------------------------------
for _id, _data in [("empty", b""), ("garbage", bytes(range(256)) * 4), ("text", b"not a model")]:

    def _make_inspect(d: Path, _: dict[str, Any], data: bytes = _data) -> list[str]:
        (d / "m.onnx").write_bytes(data)
        return ["inspect", str(d / "m.onnx")]

    CASES.append(Case(f"inspect-{_id}", _make_inspect, ("m.onnx",)))


@case("inspect-truncated", "model.onnx")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    data = (d / "model.onnx").read_bytes()
    (d / "model.onnx").write_bytes(data[:-40])
    return ["inspect", str(d / "model.onnx")]


@case("inspect-an-npz", "eval.npz")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["inspect", str(d / "eval.npz")]


@case("inspect-missing-undecodable-name", "no such model file")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["inspect", str(d / "\udcff\udcfe.onnx")]


@case("inspect-a-folder")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["inspect", str(d)]


# ---- edgekit bench: options checked before any measurement ------------------------------------
def bench_cmd_case(id: str, args: list[str], *mentions: str, xfail: str = "") -> None:
    def make(d: Path, fx: dict[str, Any]) -> list[str]:
        return ["bench", str(fx["bundle"]), "--meter", "model:rpi4b", "--quick",
                "--out", str(d / "out" / "bench"), *args]  # fmt: skip

    CASES.append(Case(f"bench-{id}", make, mentions, needs="bundle", xfail=xfail))


bench_cmd_case("duty-nan", ["--duty", "nan"], "--duty")
bench_cmd_case("duty-negative", ["--duty", "-1"], "--duty")
bench_cmd_case("threads-zero", ["--threads", "0"], "--threads")
bench_cmd_case("runs-zero", ["--runs", "0"], "--runs")
bench_cmd_case("batch-zero", ["--batch", "0"], "--batch")
bench_cmd_case("window-nan", ["--window-s", "nan"], "--window-s")
bench_cmd_case("variant-unknown", ["--variants", "nope"], "nope")
bench_cmd_case("meter-unknown", ["--meter", "nope:x"], "nope")
bench_cmd_case("out-in-proc", ["--out", "/proc/nope"], "/proc/nope")


@case("bench-bundle-missing")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["bench", str(d / "nope"), "--meter", "model:rpi4b", "--quick", "--out", str(d / "out" / "o")]


# ---- the command line itself ------------------------------------------------------------------
@case("cli-unknown-command", "frobnicate")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["frobnicate"]


@case("cli-build-unknown-option", "--fast")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return [*build_argv(d), "--fast"]


@case("cli-build-variants-unknown", "--variants", early=True)
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return [*build_argv(d), "--variants", "onnx-int4"]


@case("cli-verify-missing", "nope")
def _(d: Path, _: dict[str, Any]) -> list[str]:
    return ["verify", str(d / "nope")]


# ---- the test -------------------------------------------------------------------------------
def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(strict=False, reason=c.xfail)] if c.xfail else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(ids) > 150  # the table covers every command and class of input


@pytest.mark.parametrize("c", _params())
def test_malformed_input_is_one_line_and_exit_2(
    c: Case, tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    fx: dict[str, Any] = {}
    if c.needs == "bench":
        fx["bench"] = request.getfixturevalue("good_bench")
    if c.needs == "bundle":
        fx["bundle"] = request.getfixturevalue("good_build") / "out" / "b" / "bundle"
    d = tmp_path / "p"
    write_project(d)
    monkeypatch.chdir(tmp_path)  # a default output folder would land here, and be noticed
    argv = c.make(d, fx)
    before = snapshot(tmp_path, d / "out")
    outcome = run_in_process(argv, capsys)
    line = assert_refused(outcome, mentions=c.mentions)
    assert snapshot(tmp_path, d / "out") == before, f"files changed outside the output folder: {line}"
    assert not (d / "out" / "b").exists(), "a refused build must not leave an output folder"
    if c.early:
        assert "[load]" not in outcome.out, f"refused only after the build started: {line}"
