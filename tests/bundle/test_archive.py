"""Archives: one top folder, one manifest, no escapes, no special files, a size and member cap
checked before anything is written; written bundles and archives are 0644/0755 under the umask."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgekit.bundle import ArchiveLimits, load_bundle, pack_bundle
from edgekit.bundle.archive import parse_size, unpack_archive
from edgekit.errors import BundleError, UsageError
from tests.bundle.conftest import (
    assert_one_line_error,
    make_bundle,
    member,
    run_cli,
    sha256,
    tar_folder,
    tar_of,
)


@pytest.fixture
def manifest_bytes(bundle: Path) -> bytes:
    return (bundle / "manifest.json").read_bytes()


def _unpack_refused(
    archive: Path, tmp_path: Path, *needles: str, limits: ArchiveLimits | None = None
) -> Path:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(BundleError) as e:
        unpack_archive(archive, dest, limits)
    msg = str(e.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, msg
    return dest


def test_a_real_archive_unpacks_and_verifies(bundle: Path, tmp_path: Path) -> None:
    archive = tar_folder(tmp_path / "ok.tar.gz", bundle, "tiny.bundle")
    assert run_cli("verify", archive).code == 0
    b = load_bundle(archive, extract_to=tmp_path / "x")
    assert b.root == tmp_path / "x" / "tiny.bundle"


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("/etc/evil", "outside the bundle folder"),
        ("b/../../evil", "outside the bundle folder"),
        ("other/evil", "outside the bundle folder 'b'"),
    ],
)
def test_members_outside_the_top_folder_are_refused(
    manifest_bytes: bytes, tmp_path: Path, name: str, needle: str
) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), manifest_bytes),
            (member(name), b"x"),
        ],
    )
    dest = _unpack_refused(archive, tmp_path, needle)
    assert list(dest.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    ("info", "needle"),
    [
        (member("b/l", tarfile.SYMTYPE, linkname="/etc/passwd"), "leaves the bundle"),
        (member("b/l", tarfile.SYMTYPE, linkname="../../x"), "leaves the bundle"),
        (member("b/l", tarfile.LNKTYPE, linkname="elsewhere/x"), "does not name a file"),
        (member("b/dev", tarfile.CHRTYPE), "device, FIFO"),
        (member("b/fifo", tarfile.FIFOTYPE), "device, FIFO"),
    ],
)
def test_escaping_links_and_special_files_are_refused(
    manifest_bytes: bytes, tmp_path: Path, info: tarfile.TarInfo, needle: str
) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [(member("b", tarfile.DIRTYPE), None), (member("b/manifest.json"), manifest_bytes), (info, None)],
    )
    dest = _unpack_refused(archive, tmp_path, needle)
    assert list(dest.iterdir()) == []


def test_two_manifests_are_refused(manifest_bytes: bytes, tmp_path: Path) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), manifest_bytes),
            (member("b/variants/manifest.json"), manifest_bytes),
        ],
    )
    run = run_cli("verify", archive)
    assert_one_line_error(run, 2, "exactly one b/manifest.json", "found 2")


def test_no_manifest_and_empty_archive_are_refused(tmp_path: Path) -> None:
    archive = tar_of(tmp_path / "a.tar.gz", [(member("b", tarfile.DIRTYPE), None), (member("b/x"), b"x")])
    _unpack_refused(archive, tmp_path, "found 0")
    empty = tar_of(tmp_path / "e.tar.gz", [])
    assert_one_line_error(run_cli("verify", empty), 2, "empty archive")


def test_a_member_twice_is_refused(manifest_bytes: bytes, tmp_path: Path) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [(member("b/manifest.json"), manifest_bytes), (member("b/manifest.json"), b"{}")],
    )
    _unpack_refused(archive, tmp_path, "appears twice")


def _zeros(n: int) -> Iterator[bytes]:
    yield bytes(n)


def test_size_bomb_is_refused_before_writing(manifest_bytes: bytes, tmp_path: Path) -> None:
    """256 KiB of zeros compress to well under 1 KiB; a 64 KiB cap refuses the archive unwritten."""
    archive = tar_of(
        tmp_path / "bomb.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), manifest_bytes),
            (member("b/zeros.bin"), bytes(256 << 10)),
        ],
    )
    assert archive.stat().st_size < 4096
    dest = _unpack_refused(
        archive, tmp_path, "more than 65536 bytes", limits=ArchiveLimits(max_bytes=64 << 10)
    )
    assert list(dest.iterdir()) == []
    run = run_cli("verify", archive, "--max-size", "64K")
    assert_one_line_error(run, 2, "more than 65536 bytes", "--max-size")


def test_declared_gigabytes_are_refused_at_the_header(manifest_bytes: bytes, tmp_path: Path) -> None:
    """A header declaring 2 GiB (with no data behind it) is refused by the default 1 GiB cap, from
    the header alone: nothing is read, decompressed or written beyond it."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = member("b/manifest.json")
        info.size = len(manifest_bytes)
        tar.addfile(info, io.BytesIO(manifest_bytes))
    big = member("b/huge.bin")
    big.size = 2 << 30
    body = raw.getvalue().rstrip(b"\0")
    body += b"\0" * (-len(body) % 512) + big.tobuf(format=tarfile.PAX_FORMAT)
    archive = tmp_path / "declared.tar.gz"
    archive.write_bytes(gzip.compress(body))
    dest = _unpack_refused(archive, tmp_path, f"more than {1 << 30} bytes")
    assert list(dest.iterdir()) == []


def test_member_count_cap(manifest_bytes: bytes, tmp_path: Path) -> None:
    members = [(member("b/manifest.json"), manifest_bytes)] + [(member(f"b/f{i}"), b"") for i in range(20)]
    archive = tar_of(tmp_path / "many.tar.gz", members)
    _unpack_refused(archive, tmp_path, "more than 10 members", limits=ArchiveLimits(max_members=10))


def test_size_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_size("1073741824", "x") == 1 << 30
    assert parse_size("512M", "x") == 512 << 20
    assert parse_size("2GiB", "x") == 2 << 30
    for bad in ("", "-1", "0", "1.5G", "lots"):
        with pytest.raises(UsageError, match="is not a size"):
            parse_size(bad, "--max-size")
    monkeypatch.setenv("EDGEKIT_BUNDLE_MAX_SIZE", "3K")
    assert ArchiveLimits.resolve(None).max_bytes == 3 << 10
    assert ArchiveLimits.resolve("5K").max_bytes == 5 << 10  # the option wins over the variable
    monkeypatch.delenv("EDGEKIT_BUNDLE_MAX_SIZE")
    assert ArchiveLimits.resolve(None).max_bytes == 1 << 30


def test_unreadable_archive_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b" + os.urandom(200))
    assert_one_line_error(run_cli("verify", junk), 2, "not a readable bundle archive")


def _modes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix() or ".": stat.S_IMODE(p.lstat().st_mode)
        for p in [root, *root.rglob("*")]
        if not p.is_symlink()
    }


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_bundle_modes_follow_0644_0755_under_the_umask(
    bundle: Path, tmp_path: Path, umask: int
) -> None:
    sources = {f"variants/{p.name}": p for p in (bundle / "variants").iterdir()}
    manifest = {k: v for k, v in json.loads((bundle / "manifest.json").read_text()).items() if k != "files"}
    out = tmp_path / "out"
    out.mkdir()
    old = os.umask(umask)
    try:
        folder, archive = pack_bundle(out, "tiny", manifest, sources)
    finally:
        os.umask(old)
    want_dir, want_file = 0o755 & ~umask, 0o644 & ~umask
    modes = _modes(folder)
    assert modes["."] == want_dir and modes["variants"] == want_dir
    assert {k: v for k, v in modes.items() if k not in (".", "variants")} == {
        "manifest.json": want_file,
        "variants/onnx-a.onnx": want_file,
        "variants/onnx-b.onnx": want_file,
    }
    assert stat.S_IMODE(archive.stat().st_mode) == want_file
    with tarfile.open(archive) as tar:  # members carry 0644/0755 whoever packed them
        assert {m.name: m.mode for m in tar} == {
            "tiny.bundle": 0o755,
            "tiny.bundle/manifest.json": 0o644,
            "tiny.bundle/variants": 0o755,
            "tiny.bundle/variants/onnx-a.onnx": 0o644,
            "tiny.bundle/variants/onnx-b.onnx": 0o644,
        }


def test_unpacked_modes_are_readable_whatever_the_archive_says(bundle: Path, tmp_path: Path) -> None:
    def private(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mode = 0o700 if info.isdir() else 0o600
        return info

    archive = tmp_path / "private.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bundle, arcname="tiny.bundle", filter=private)
    dest = tmp_path / "x"
    dest.mkdir()
    old = os.umask(0o022)
    try:
        root = unpack_archive(archive, dest)
    finally:
        os.umask(old)
    modes = _modes(root)
    assert modes.pop(".") == 0o755 and modes.pop("variants") == 0o755
    assert set(modes.values()) == {0o644}


def test_pack_bundle_refuses_to_replace_what_is_not_a_bundle(bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "bundle").mkdir(parents=True)
    (out / "bundle" / "precious.txt").write_text("not ours")
    with pytest.raises(BundleError, match="is not a bundle; refusing to replace it"):
        pack_bundle(out, "tiny", {}, {"variants/a.onnx": bundle / "variants" / "onnx-a.onnx"})
    assert (out / "bundle" / "precious.txt").read_text() == "not ours"


def test_written_hashes_match_hashlib(tmp_path: Path) -> None:
    src = make_bundle(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    manifest = {k: v for k, v in json.loads((src / "manifest.json").read_text()).items() if k != "files"}
    folder, _ = pack_bundle(
        out,
        "tiny",
        manifest,
        {
            "variants/onnx-a.onnx": src / "variants" / "onnx-a.onnx",
            "variants/onnx-b.onnx": src / "variants" / "onnx-b.onnx",
        },
    )
    written = json.loads((folder / "manifest.json").read_text())["files"]
    assert written == {rel: sha256(src / rel) for rel in written}
