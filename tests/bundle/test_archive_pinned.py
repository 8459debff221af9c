"""Archive unpacking and packing pinned by hand-built archives (issue 17): what a refusal quotes,
look-alike names, the second line of defence (``tarfile.data_filter``), the bounded header reads,
the modes written under any umask, and how a packed archive is named and owned.

Every archive here is written with :mod:`tarfile`/:mod:`gzip` directly and every expected value is
written out (umask arithmetic, message text), not computed with ``edgekit.bundle``.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from edgekit.bundle import archive as archive_mod
from edgekit.bundle.archive import (
    _MAX_SINGLE_READ,
    ArchiveLimits,
    _BoundedReads,
    _open_decompressed,
    _umask,
    dir_mode,
    file_mode,
    pack_archive,
    unpack_archive,
)
from edgekit.errors import BundleError, UsageError
from tests.bundle.conftest import member, tar_of

MANIFEST = b'{"schema_version": 1}'
LONG = 200  # member names longer than the 120 characters a message quotes


def _refusal(archive: Path, tmp_path: Path) -> str:
    dest = tmp_path / "dest"
    with pytest.raises(BundleError) as e:
        unpack_archive(archive, dest)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{archive}: "), msg
    return msg


def _quoted(text: str) -> str:
    """How a refusal quotes a name: its first 120 characters, repr'd (written out, not edgekit's)."""
    assert len(text) > 121
    return repr(text[:120])


def _base() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [(member("b", tarfile.DIRTYPE), None), (member("b/manifest.json"), MANIFEST)]


# --- what a refusal quotes: the first 120 characters of each name, never more ---------------------


def test_an_absolute_long_name_is_quoted_to_120_characters(tmp_path: Path) -> None:
    name = "/" + "a" * LONG
    msg = _refusal(tar_of(tmp_path / "a.tar.gz", [*_base(), (member(name), b"x")]), tmp_path)
    assert f"member {_quoted(name)} lies outside the bundle folder; refused" in msg


def test_a_long_name_outside_the_top_folder_is_quoted_to_120_characters(tmp_path: Path) -> None:
    name = "c/" + "o" * LONG
    msg = _refusal(tar_of(tmp_path / "a.tar.gz", [*_base(), (member(name), b"x")]), tmp_path)
    assert f"member {_quoted(name)} lies outside the bundle folder 'b'" in msg


def test_a_long_file_at_the_top_is_quoted_to_120_characters(tmp_path: Path) -> None:
    name = "f" * LONG
    msg = _refusal(tar_of(tmp_path / "a.tar.gz", [(member(name), b"x")]), tmp_path)
    assert f"{_quoted(name)} must be the bundle folder, not a file or link" in msg


def test_a_long_name_twice_is_quoted_to_120_characters(tmp_path: Path) -> None:
    name = "b/" + "t" * LONG
    msg = _refusal(
        tar_of(tmp_path / "a.tar.gz", [*_base(), (member(name), b"1"), (member(name), b"2")]), tmp_path
    )
    assert f"member {_quoted(name)} appears twice; refused" in msg


def test_a_long_escaping_link_quotes_both_names_to_120_characters(tmp_path: Path) -> None:
    name, target = "b/" + "l" * LONG, "/" + "e" * LONG
    link = member(name, tarfile.SYMTYPE, linkname=target)
    msg = _refusal(tar_of(tmp_path / "a.tar.gz", [*_base(), (link, None)]), tmp_path)
    assert f"link {_quoted(name)} -> {_quoted(target)} leaves the bundle" in msg


def test_a_long_hard_link_quotes_both_names_to_120_characters(tmp_path: Path) -> None:
    name, target = "b/" + "h" * LONG, "b/" + "n" * LONG
    link = member(name, tarfile.LNKTYPE, linkname=target)
    msg = _refusal(tar_of(tmp_path / "a.tar.gz", [*_base(), (link, None)]), tmp_path)
    assert f"hard link {_quoted(name)} -> {_quoted(target)} does not name a file" in msg


def test_a_long_device_name_is_quoted_to_120_characters(tmp_path: Path) -> None:
    name = "b/" + "d" * LONG
    msg = _refusal(tar_of(tmp_path / "a.tar.gz", [*_base(), (member(name, tarfile.CHRTYPE), None)]), tmp_path)
    assert f"member {_quoted(name)} is a device, FIFO or other special file; refused" in msg


# --- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("look_alike", ["b/manifest.json ", "b/manifest.jsonX", "b/Manifest.json"])
def test_only_the_exact_manifest_name_is_the_manifest(tmp_path: Path, look_alike: str) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz", [(member("b", tarfile.DIRTYPE), None), (member(look_alike), MANIFEST)]
    )
    msg = _refusal(archive, tmp_path)
    assert msg.endswith("an archive holds exactly one b/manifest.json; found 0 (none)")


def test_names_that_differ_in_a_trailing_character_are_different_files(tmp_path: Path) -> None:
    names = ["b/v", "b/vX", "b/v "]
    archive = tar_of(tmp_path / "a.tar.gz", [*_base(), *((member(n), n.encode()) for n in names)])
    root = unpack_archive(archive, tmp_path / "d")
    for n in names:
        assert (root.parent / n).read_bytes() == n.encode()


# --- the second line of defence --------------------------------------------------------------------


def test_a_link_inside_by_name_but_outside_through_another_link_is_refused(tmp_path: Path) -> None:
    """``b/d/e/s -> ../..`` is ``b`` and ``b/q -> d/e/s/../..`` is ``b/d`` by name, so both pass the
    member check; on disk ``s`` is ``b``, so ``q`` resolves to the parent of the destination, and
    ``tarfile.data_filter`` refuses it during extraction."""
    members = [
        *_base(),
        (member("b/d", tarfile.DIRTYPE), None),
        (member("b/d/e", tarfile.DIRTYPE), None),
        (member("b/d/e/s", tarfile.SYMTYPE, linkname="../.."), None),
        (member("b/q", tarfile.SYMTYPE, linkname="d/e/s/../.."), None),
    ]
    archive = tar_of(tmp_path / "a.tar.gz", members)
    msg = _refusal(archive, tmp_path)
    assert msg.startswith(f"{archive}: unsafe archive member: "), msg
    assert not (tmp_path / "dest" / "b" / "q").is_symlink()


def test_one_layer_of_compression_is_read_not_two(tmp_path: Path) -> None:
    """The magic of the file picks one decompressor; a tar.gz compressed again is not a tar."""
    inner = tar_of(tmp_path / "a.tar.gz", _base()).read_bytes()
    twice = tmp_path / "twice.tar.gz.gz"
    twice.write_bytes(gzip.compress(inner))
    assert "not a readable bundle archive" in _refusal(twice, tmp_path)


# --- bounded reads ----------------------------------------------------------------------------------


def test_a_pax_header_declaring_17_mib_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A PAX extended header is read whole by tarfile; one declaring 17 MiB (34816 blocks of 512
    bytes, above the 16 MiB bound) is refused naming the archive, with no data behind it."""
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type = tarfile.XHDTYPE
    pax.size = 34816 * 512
    archive = tmp_path / "pax.tar.gz"
    archive.write_bytes(gzip.compress(pax.tobuf(format=tarfile.USTAR_FORMAT) + bytes(1024)))
    msg = _refusal(archive, tmp_path)
    assert msg == f"{archive}: archive header declares 17825792 bytes; refusing to read it"


def test_bounded_reads_at_and_beyond_the_bound() -> None:
    assert _MAX_SINGLE_READ == 16 * 1024 * 1024
    inner = io.BytesIO(b"0123456789")
    r = _BoundedReads(inner, Path("x.tar"))
    assert r.read(0) == b""
    assert r.read(4) == b"0123"
    assert r.read(16 * 1024 * 1024) == b"456789"  # exactly at the bound: read
    for n in (16 * 1024 * 1024 + 1, -1, None):
        with pytest.raises(BundleError) as e:
            r.read(n)  # type: ignore[arg-type]
        assert str(e.value) == f"x.tar: archive header declares {n} bytes; refusing to read it"
    assert r.seek(-3, os.SEEK_END) == 7 and r.tell() == 7 and r.read(3) == b"789"
    assert r.seek(2) == 2 and r.read(1) == b"2"
    r.close()
    assert inner.closed


def test_sniffing_the_compression_reads_a_few_bytes_not_the_archive() -> None:
    class Spy(io.BytesIO):
        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.sizes: list[Any] = []

        def read(self, n: int | None = -1) -> bytes:
            self.sizes.append(n)
            return super().read(n)

    raw = Spy(b"plain tar bytes " * 1000)
    assert _open_decompressed(raw) is raw  # no magic: the file itself
    assert raw.tell() == 0
    assert raw.sizes and all(isinstance(n, int) and 0 < n <= 512 for n in raw.sizes), raw.sizes


# --- modes under the umask --------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "want_dir", "want_file"), [(0o002, 0o755, 0o644), (0o000, 0o755, 0o644)])
def test_unpacked_modes_under_a_permissive_umask(
    tmp_path: Path, umask: int, want_dir: int, want_file: int
) -> None:
    """Under umask 002 or 000, files created with the system default would be 0664/0666 and folders
    0775/0777; the bundle is written 0644/0755 whatever the archive or the umask says."""
    members = [
        (member("b", tarfile.DIRTYPE), None),
        (member("b/manifest.json", mode=0o666), MANIFEST),
        (member("b/sub", tarfile.DIRTYPE), None),
        (member("b/sub/f", mode=0o664), b"f"),
    ]
    archive = tar_of(tmp_path / "a.tar.gz", members)
    old = os.umask(umask)
    try:
        root = unpack_archive(archive, tmp_path / "d")
    finally:
        os.umask(old)
    modes = {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}
    assert stat.S_IMODE(root.stat().st_mode) == want_dir
    assert modes == {"manifest.json": want_file, "sub": want_dir, "sub/f": want_file}


def _fake_status(text: str | None) -> Any:
    """An ``open`` that serves ``text`` as /proc/self/status (None: /proc unreadable)."""

    def fake(path: str, *args: Any, **kwargs: Any) -> io.StringIO:
        if text is None or path != "/proc/self/status":
            raise FileNotFoundError(2, "No such file or directory", path)
        return io.StringIO(text)

    return fake


def test_the_umask_is_read_from_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc says 0077 while the process umask is 022: the value read is /proc's."""
    status = "Name:\tpython\nUmask:\t0077\nState:\tR (running)\n"
    monkeypatch.setattr(archive_mod, "open", _fake_status(status), raising=False)
    old = os.umask(0o022)
    try:
        assert _umask() == 0o077
        assert file_mode() == 0o600 and dir_mode() == 0o700
    finally:
        os.umask(old)


@pytest.mark.parametrize("status", [None, "Name:\tpython\nUmask:\tzz\n", "Name:\tpython\n"])
def test_without_proc_the_umask_is_read_and_restored(
    monkeypatch: pytest.MonkeyPatch, status: str | None
) -> None:
    monkeypatch.setattr(archive_mod, "open", _fake_status(status), raising=False)
    old = os.umask(0o027)
    try:
        assert _umask() == 0o027
        assert file_mode() == 0o640 and dir_mode() == 0o750
        assert os.umask(0o027) == 0o027  # left as it was
    finally:
        os.umask(old)


# --- unpacking into a folder that cannot be made; limits from the option ----------------------------


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    archive = tar_of(tmp_path / "a.tar.gz", _base())
    (tmp_path / "file").write_text("x")
    dest = tmp_path / "file" / "dest"
    with pytest.raises(BundleError) as e:
        unpack_archive(archive, dest)
    assert str(e.value) == f"{dest}: cannot create the folder to unpack into (Not a directory)"


@pytest.mark.parametrize(
    ("option", "environ", "where"),
    [("lots", {}, "--max-size"), (None, {"EDGEKIT_BUNDLE_MAX_SIZE": "lots"}, "EDGEKIT_BUNDLE_MAX_SIZE")],
)
def test_a_bad_size_names_where_it_came_from(option: str | None, environ: dict[str, str], where: str) -> None:
    with pytest.raises(UsageError) as e:
        ArchiveLimits.resolve(option, environ)
    assert str(e.value) == f"{where}: 'lots' is not a size; write bytes or a number with K, M or G (binary)"


# --- packing -------------------------------------------------------------------------------------------


def _folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "manifest.json").write_bytes(MANIFEST)
    (root / "sub" / "f").write_bytes(b"f")
    return root


def test_a_packed_archive_has_no_owner_and_is_written_beside_under_a_hidden_part_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    moves: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        moves.append((os.fspath(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(archive_mod.os, "replace", replace)
    archive = pack_archive(folder, out / "t.tar.gz", "t.bundle")
    assert archive == out / "t.tar.gz"
    # written beside the archive (one file system: the replace is atomic), hidden, marked partial
    [(src, dst)] = moves
    part = Path(src)
    assert part.parent == out and dst == os.fspath(archive)
    assert part.name.startswith(".bundle-") and part.name.endswith(".tar.gz.part")
    assert sorted(p.name for p in out.iterdir()) == ["t.tar.gz"]
    with tarfile.open(archive) as tar:
        owners = {m.name: (m.uid, m.gid, m.uname, m.gname) for m in tar}
    assert owners == dict.fromkeys(
        ["t.bundle", "t.bundle/manifest.json", "t.bundle/sub", "t.bundle/sub/f"], (0, 0, "", "")
    )


def test_a_failed_pack_leaves_no_partial_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "src")
    out = tmp_path / "out"
    (out / "t.tar.gz" / "keep").mkdir(parents=True)  # a non-empty folder where the archive goes
    with pytest.raises(OSError):
        pack_archive(folder, out / "t.tar.gz", "t.bundle")
    assert [p.name for p in out.iterdir()] == ["t.tar.gz"]
    assert (out / "t.tar.gz" / "keep").is_dir()
