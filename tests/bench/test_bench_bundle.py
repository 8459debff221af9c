"""``edgekit bench`` records which bundle it measured (its ID) and honours --trusted-key."""

from __future__ import annotations

import json
from pathlib import Path

from edgekit.bench_result import load_bench_json
from edgekit.cli import main
from tests.bundle.conftest import assert_one_line_error, key_id_of, write_key_pair
from tests.bundle.conftest import run_cli as run_edgekit

from .conftest import QUICK, CliRun, make_bundle, run_cli


def test_bench_json_records_the_bundle_id(estimate_run: CliRun) -> None:
    bundle = estimate_run.out_dir.parent / "bundle"
    expected = run_edgekit("verify", bundle).json["bundle_id"]
    result = load_bench_json(estimate_run.out_dir / "bench.json")
    assert result.bundle_id == expected
    assert result.bundle["bundle_id"] == expected and result.bundle["signed_by"] is None
    assert f"bundle {expected} verified" in estimate_run.stderr


def test_trusted_key_on_bench(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "bundle", variants={"onnx-fp32": 4})
    key, pub = write_key_pair(tmp_path / "release")
    args = [str(bundle), "--meter", "model:rpi4b", *QUICK, "--trusted-key", str(pub)]
    unsigned = run_cli(args, tmp_path / "refused")
    assert_one_line_error(
        run_edgekit("verify", bundle, "--trusted-key", pub), 1, "not signed"
    )  # the same refusal as verify, as a bad bundle (2) for bench
    assert unsigned.code == 2 and len(unsigned.stderr.strip().splitlines()) == 1
    assert "not signed" in unsigned.stderr and not (tmp_path / "refused").exists()

    assert main(["sign", str(bundle), "--key", str(key)]) == 0
    signed = run_cli(args, tmp_path / "out")
    # accepted: measured (0), or measured but for an energy figure the estimate refused (1, the
    # host-load-driven model's idle drift on a busy CI host); a refused bundle would be 2
    energy_refused = signed.code == 1 and "energy not measured" in signed.stdout
    assert signed.code == 0 or energy_refused, signed.stderr
    raw = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert raw["bundle"]["signed_by"] == key_id_of(pub)
    assert raw["bundle_id"] == run_edgekit("verify", bundle).json["bundle_id"]
