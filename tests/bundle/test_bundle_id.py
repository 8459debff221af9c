"""The bundle ID: SHA-256 of the RFC 8785 canonical manifest; stable across re-writes, changed by
any file; strict parsing so every reader agrees on what was hashed."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from edgekit.bundle import bundle_id, check_bundle, pack_bundle, parse_manifest
from edgekit.errors import BundleError
from tests.bundle.conftest import assert_one_line_error, rehash, run_cli, write_manifest


def _integers_only(value: Any) -> Any:
    """The manifest with every float made an int, so Python's sorted compact JSON equals JCS."""
    if isinstance(value, dict):
        return {k: _integers_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers_only(v) for v in value]
    if isinstance(value, float):
        return round(value)
    return value


def test_id_is_sha256_of_sorted_compact_json(bundle: Path) -> None:
    """For ASCII keys and integer numbers, RFC 8785 is sorted keys, no whitespace, UTF-8: the
    expected ID is computed here with json and hashlib alone."""
    m = _integers_only(json.loads((bundle / "manifest.json").read_text()))
    write_manifest(bundle, m)
    expected = hashlib.sha256(
        json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    run = run_cli("verify", bundle)
    assert run.code == 0, run.stderr
    assert run.json["bundle_id"] == expected


def test_numbers_are_canonical_as_in_ecmascript() -> None:
    """JCS writes 2.0 as 2 and 1e21 as 1e+21: the same value, however written, is the same ID."""
    a = {"x": 2.0, "y": 1e21, "z": "é"}
    b = parse_manifest(b'{"z": "\\u00e9", "y": 1E+21, "x": 2}')
    assert bundle_id(a) == bundle_id(b)
    assert bundle_id(a) == hashlib.sha256('{"x":2,"y":1e+21,"z":"é"}'.encode()).hexdigest()


def test_id_is_stable_across_reformatting_and_rewrites(bundle: Path, tmp_path: Path) -> None:
    before = check_bundle(bundle).bundle_id
    m = json.loads((bundle / "manifest.json").read_text())
    reordered = dict(reversed(list(m.items())))
    (bundle / "manifest.json").write_text(json.dumps(reordered, separators=(",", ":")))
    assert check_bundle(bundle).bundle_id == before
    # written twice by pack_bundle from the same manifest and files: the same ID
    sources = {rel: bundle / rel for rel in m["files"]}
    body = {k: v for k, v in m.items() if k != "files"}
    ids = []
    for out in ("one", "two"):
        (tmp_path / out).mkdir()
        folder, archive = pack_bundle(tmp_path / out, "tiny", body, sources)
        ids += [check_bundle(folder).bundle_id, check_bundle(archive).bundle_id]
    assert ids == [before] * 4


def test_any_file_change_changes_the_id(bundle: Path) -> None:
    original = json.loads((bundle / "manifest.json").read_text())
    seen = {check_bundle(bundle).bundle_id}
    for rel in original["files"]:
        path = bundle / rel
        data = path.read_bytes()
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        rehash(bundle, original)
        new = check_bundle(bundle)
        assert new.ok and new.bundle_id not in seen, rel
        seen.add(new.bundle_id)
        path.write_bytes(data)
    rehash(bundle, original)
    assert check_bundle(bundle).bundle_id in seen


def test_signature_file_is_not_part_of_the_id(bundle: Path, keys: dict[str, Path]) -> None:
    before = check_bundle(bundle).bundle_id
    assert run_cli("sign", bundle, "--key", keys["good"]).code == 0
    assert check_bundle(bundle).bundle_id == before


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": NaN}', "NaN is not JSON"),
        ('{"a": Infinity}', "Infinity is not JSON"),
        ('{"a": 1e999}', "overflows a double"),
        ('{"a": 9007199254740993}', "beyond 2**53"),
        ('{"a": "\\ud800"}', "lone surrogate"),
        ("[" * 100 + "]" * 100, "must be a JSON object"),
        ('{"a":' * 50 + "1" + "}" * 50, "nested deeper than 32"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper"),
        ("\xff", "not UTF-8"),
        ('{"a": 1', "malformed JSON at line 1"),
    ],
)
def test_strict_parsing_is_one_line(text: str, needle: str) -> None:
    with pytest.raises(BundleError) as e:
        parse_manifest(text.encode("utf-8", "surrogatepass") if text != "\xff" else b"\xff", "m.json")
    assert "\n" not in str(e.value) and str(e.value).startswith("m.json: ")
    assert needle in str(e.value)


def test_strict_parsing_through_the_cli(bundle: Path) -> None:
    text = (bundle / "manifest.json").read_text()
    (bundle / "manifest.json").write_text(text.replace('"name": "tiny"', '"name": "tiny", "name": "evil"', 1))
    assert_one_line_error(run_cli("verify", bundle), 2, "duplicate key 'name'")


def test_real_manifest_round_trips(bundle: Path) -> None:
    m = json.loads((bundle / "manifest.json").read_text())
    assert parse_manifest((bundle / "manifest.json").read_bytes()) == m
    assert bundle_id(copy.deepcopy(m)) == bundle_id(m)
