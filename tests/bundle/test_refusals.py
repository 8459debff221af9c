"""Every refusal of bundle verification and archive unpacking, each with its exact message and at
its boundary (issue 17): path escapes, missing, unlisted and irregular files, hash mismatches,
linked folders, two manifests, one top folder, size and member caps, links and special files."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from edgekit.bundle import ArchiveLimits, check_bundle, load_bundle, sha256_file
from edgekit.bundle.archive import ENV_MAX_SIZE, dir_mode, file_mode, parse_size, unpack_archive
from edgekit.errors import BundleError, UsageError
from tests.bundle.conftest import make_bundle, member, tar_folder, tar_of

A, B = "variants/onnx-a.onnx", "variants/onnx-b.onnx"


def _problems(path: Path) -> tuple[str, ...]:
    return check_bundle(path).problems


# --- folders -----------------------------------------------------------------------------------------
def test_a_valid_bundle_has_no_problem_and_loads(bundle: Path) -> None:
    v = check_bundle(bundle)
    assert v.ok and v.problems == () and v.source == bundle and len(v.bundle_id) == 64
    b = load_bundle(bundle)
    assert b.root == bundle and b.bundle_id == v.bundle_id and b.variant()["name"] == "onnx-a"
    assert b.variant("onnx-b")["file"] == B
    assert b.model_path("onnx-b") == bundle / B and b.file_path(A) == bundle / A


def test_a_missing_file_is_refused(bundle: Path) -> None:
    (bundle / B).unlink()
    assert _problems(bundle) == (f"{B}: missing",)
    with pytest.raises(BundleError) as e:
        load_bundle(bundle)
    assert str(e.value) == f"{bundle}: refusing a bundle that fails verification: {B}: missing"


def test_a_file_not_listed_is_refused_but_the_manifest_and_signature_are_not_files(bundle: Path) -> None:
    (bundle / "variants" / "stray.bin").write_bytes(b"x")
    (bundle / "notes.txt").write_text("x")
    assert _problems(bundle) == (
        "notes.txt: not listed in the manifest",
        "variants/stray.bin: not listed in the manifest",
    )


def test_several_problems_are_all_reported_and_counted_in_the_refusal(bundle: Path) -> None:
    (bundle / B).unlink()
    (bundle / "zz.bin").write_bytes(b"x")
    (bundle / "aa.bin").write_bytes(b"x")
    v = check_bundle(bundle)
    assert v.problems == (
        f"{B}: missing",
        "aa.bin: not listed in the manifest",
        "zz.bin: not listed in the manifest",
    )
    assert not v.ok
    assert v.refusal() == f"{bundle}: refusing a bundle that fails verification: {B}: missing (and 2 more)"


def test_a_link_escaping_the_bundle_is_refused_even_with_the_right_hash(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.onnx"
    outside.write_bytes((bundle / B).read_bytes())
    (bundle / B).unlink()
    (bundle / B).symlink_to(outside)
    assert _problems(bundle) == (f"{B}: resolves to {outside.resolve()}, outside the bundle",)


def test_a_link_inside_the_bundle_is_accepted(bundle: Path) -> None:
    data = (bundle / B).read_bytes()
    (bundle / B).unlink()
    (bundle / "variants" / "real.bin").write_bytes(data)
    (bundle / B).symlink_to("real.bin")
    # the target itself is not listed: that one is refused, the link is fine
    assert _problems(bundle) == ("variants/real.bin: not listed in the manifest",)


def test_a_link_loop_cannot_be_resolved(bundle: Path) -> None:
    (bundle / B).unlink()
    (bundle / B).symlink_to("onnx-b.onnx")
    (problem,) = _problems(bundle)
    assert problem.startswith(f"{B}: cannot be resolved (")


def test_a_fifo_is_not_a_regular_file(bundle: Path) -> None:
    (bundle / B).unlink()
    os.mkfifo(bundle / B)
    assert _problems(bundle) == (f"{B}: not a regular file",)


def test_a_changed_byte_is_a_hash_mismatch(bundle: Path) -> None:
    data = bytearray((bundle / A).read_bytes())
    data[-1] ^= 1
    (bundle / A).write_bytes(bytes(data))
    assert _problems(bundle) == (f"{A}: SHA-256 does not match the manifest",)


def test_a_linked_folder_is_refused(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (bundle / "more").symlink_to(tmp_path / "elsewhere")
    assert _problems(bundle) == ("more: a link to a folder; not allowed",)


def test_not_a_bundle_is_an_error_not_a_problem(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as e:
        check_bundle(tmp_path / "nope")
    assert str(e.value) == f"{tmp_path / 'nope'}: no such bundle (a folder or a .tar.gz archive)"
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError) as e:
        check_bundle(tmp_path / "empty")
    assert str(e.value) == f"{tmp_path / 'empty' / 'manifest.json'}: no manifest.json; not an edgekit bundle"


def test_loading_rechecks_files_right_before_opening(bundle: Path) -> None:
    b = load_bundle(bundle)
    (bundle / A).write_bytes(b"changed")
    with pytest.raises(BundleError) as e:
        b.model_path("onnx-a")
    assert str(e.value) == (
        f"{bundle}: refusing to load variant 'onnx-a': {A}: SHA-256 does not match the manifest"
    )
    with pytest.raises(BundleError) as e:
        b.file_path(A)
    assert str(e.value) == f"{bundle}: refusing to load {A}: SHA-256 does not match the manifest"
    with pytest.raises(BundleError) as e:
        b.file_path("variants/other.onnx")
    assert (
        str(e.value)
        == f"{bundle}: refusing to load 'variants/other.onnx': not listed in the manifest's files"
    )
    with pytest.raises(BundleError) as e:
        b.variant("zzz")
    assert str(e.value) == f"{bundle}: no variant 'zzz' in the bundle; it has ['onnx-a', 'onnx-b']"
    assert b.model_path("onnx-b") == bundle / B


def test_sha256_file_reads_in_chunks_like_hashlib(tmp_path: Path) -> None:
    data = os.urandom((1 << 20) * 2 + 17)
    (tmp_path / "big").write_bytes(data)
    assert sha256_file(tmp_path / "big") == hashlib.sha256(data).hexdigest()


# --- archives ----------------------------------------------------------------------------------------
def _refused(archive: Path, tmp_path: Path, message: str, limits: ArchiveLimits | None = None) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(BundleError) as e:
        unpack_archive(archive, dest, limits)
    assert str(e.value) == f"{archive}: {message}"
    assert not dest.exists() or not any(dest.iterdir())  # nothing was written


def _manifest(bundle: Path) -> bytes:
    return (bundle / "manifest.json").read_bytes()


def test_a_real_archive_in_any_compression_verifies(bundle: Path, tmp_path: Path) -> None:
    raw = gzip.decompress(tar_folder(tmp_path / "b.tar.gz", bundle, "b.bundle").read_bytes())
    plain = tmp_path / "b.tar"
    for name, data in (("b.tar", raw), ("b.tar.bz2", bz2.compress(raw)), ("b.tar.xz", lzma.compress(raw))):
        path = tmp_path / name
        path.write_bytes(data)
        v = check_bundle(path)
        assert v.ok and v.source == path, v.problems
    root = load_bundle(plain, extract_to=tmp_path / "x").root
    assert root == tmp_path / "x" / "b.bundle"


def test_a_problem_inside_an_archive_is_reported(bundle: Path, tmp_path: Path) -> None:
    (bundle / B).unlink()
    archive = tar_folder(tmp_path / "b.tar.gz", bundle, "b.bundle")
    assert check_bundle(archive).problems == (f"{B}: missing",)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/b/x", "member '/b/x' lies outside the bundle folder; refused"),
        ("b/../x", "member 'b/../x' lies outside the bundle folder; refused"),
        ("b//x", "member 'b//x' lies outside the bundle folder; refused"),
        ("b/./x", "member 'b/./x' lies outside the bundle folder; refused"),
        ("c/x", "member 'c/x' lies outside the bundle folder 'b'; an archive holds exactly one top folder"),
    ],
)
def test_members_outside_the_one_top_folder(bundle: Path, tmp_path: Path, name: str, why: str) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), _manifest(bundle)),
            (member(name), b"x"),
        ],
    )
    _refused(archive, tmp_path, why)


def test_a_leading_dot_slash_is_the_same_folder(bundle: Path, tmp_path: Path) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [(member("./b", tarfile.DIRTYPE), None), (member("././b/manifest.json"), _manifest(bundle))],
    )
    assert unpack_archive(archive, tmp_path / "d") == tmp_path / "d" / "b"


def test_a_file_at_the_top_is_refused(bundle: Path, tmp_path: Path) -> None:
    archive = tar_of(tmp_path / "a.tar.gz", [(member("b"), b"x")])
    _refused(archive, tmp_path, "'b' must be the bundle folder, not a file or link")


def test_a_member_twice(bundle: Path, tmp_path: Path) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), _manifest(bundle)),
            (member("b/x"), b"1"),
            (member("./b/x"), b"2"),
        ],
    )
    _refused(archive, tmp_path, "member 'b/x' appears twice; refused")


@pytest.mark.parametrize(
    ("manifests", "found"),
    [
        (
            ["b/manifest.json", "b/variants/manifest.json"],
            "found 2 (b/manifest.json, b/variants/manifest.json)",
        ),
        (["b/variants/manifest.json"], "found 1 (b/variants/manifest.json)"),
        ([], "found 0 (none)"),
    ],
)
def test_exactly_one_manifest_at_the_top(
    bundle: Path, tmp_path: Path, manifests: list[str], found: str
) -> None:
    members = [(member("b", tarfile.DIRTYPE), None), (member("b/variants", tarfile.DIRTYPE), None)]
    members += [(member(m), _manifest(bundle)) for m in manifests]
    archive = tar_of(tmp_path / "a.tar.gz", members)
    _refused(archive, tmp_path, f"an archive holds exactly one b/manifest.json; {found}")


def test_an_empty_archive(tmp_path: Path) -> None:
    _refused(tar_of(tmp_path / "e.tar.gz", []), tmp_path, "empty archive; not an edgekit bundle")


def test_the_size_cap_is_inclusive(bundle: Path, tmp_path: Path) -> None:
    man = _manifest(bundle)
    members = [
        (member("b", tarfile.DIRTYPE), None),
        (member("b/manifest.json"), man),
        (member("b/x"), bytes(100)),
    ]
    archive = tar_of(tmp_path / "a.tar.gz", members)
    total = len(man) + 100
    assert unpack_archive(archive, tmp_path / "ok", ArchiveLimits(max_bytes=total)) == tmp_path / "ok" / "b"
    _refused(
        archive,
        tmp_path,
        f"unpacks to more than {total - 1} bytes (the cap; raise it with --max-size or "
        f"{ENV_MAX_SIZE}); refused before writing",
        ArchiveLimits(max_bytes=total - 1),
    )


def test_the_member_cap_is_inclusive(bundle: Path, tmp_path: Path) -> None:
    members = [
        (member("b", tarfile.DIRTYPE), None),
        (member("b/manifest.json"), _manifest(bundle)),
        (member("b/x"), b"x"),
    ]
    archive = tar_of(tmp_path / "a.tar.gz", members)
    assert unpack_archive(archive, tmp_path / "ok", ArchiveLimits(max_members=3)) == tmp_path / "ok" / "b"
    _refused(archive, tmp_path, "more than 2 members; refused", ArchiveLimits(max_members=2))


@pytest.mark.parametrize(
    ("name", "target", "ok"),
    [
        ("b/l", "manifest.json", True),
        ("b/variants/l", "../manifest.json", True),
        ("b/variants/l", "..", True),  # the top folder itself
        ("b/l", "../c/x", False),
        ("b/l", "/etc/passwd", False),
        ("b/l", "../b2/x", False),  # a sibling whose name starts like the top folder
    ],
)
def test_symlinks_stay_inside(bundle: Path, tmp_path: Path, name: str, target: str, ok: bool) -> None:
    members = [
        (member("b", tarfile.DIRTYPE), None),
        (member("b/variants", tarfile.DIRTYPE), None),
        (member("b/manifest.json"), _manifest(bundle)),
        (member(name, tarfile.SYMTYPE, linkname=target), None),
    ]
    archive = tar_of(tmp_path / "a.tar.gz", members)
    if ok:
        from edgekit.bundle.archive import (
            _check_members,  # the header check alone: data_filter has its own view
        )

        with tarfile.open(archive) as tar:
            top, checked = _check_members(tar, archive, ArchiveLimits())
        assert top == "b" and len(checked) == 4
    else:
        _refused(archive, tmp_path, f"link {name!r} -> {target!r} leaves the bundle")


def test_hard_links_must_name_an_earlier_file(bundle: Path, tmp_path: Path) -> None:
    man = _manifest(bundle)
    good = tar_of(
        tmp_path / "g.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), man),
            (member("b/h", tarfile.LNKTYPE, linkname="b/manifest.json"), None),
        ],
    )
    root = unpack_archive(good, tmp_path / "g")
    assert (root / "h").read_bytes() == man
    for target in ("b/later", "b"):
        bad = tar_of(
            tmp_path / "h.tar.gz",
            [
                (member("b", tarfile.DIRTYPE), None),
                (member("b/manifest.json"), man),
                (member("b/h", tarfile.LNKTYPE, linkname=target), None),
                (member("b/later"), b"x"),
            ],
        )
        _refused(bad, tmp_path, f"hard link 'b/h' -> {target!r} does not name a file earlier in the bundle")


@pytest.mark.parametrize("kind", [tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE])
def test_special_files_are_refused(bundle: Path, tmp_path: Path, kind: bytes) -> None:
    archive = tar_of(
        tmp_path / "a.tar.gz",
        [
            (member("b", tarfile.DIRTYPE), None),
            (member("b/manifest.json"), _manifest(bundle)),
            (member("b/dev", kind), None),
        ],
    )
    _refused(archive, tmp_path, "member 'b/dev' is a device, FIFO or other special file; refused")


def test_unpacking_needs_a_new_or_empty_folder(bundle: Path, tmp_path: Path) -> None:
    archive = tar_folder(tmp_path / "b.tar.gz", bundle, "b")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    for dest in (busy, tmp_path / "b.tar.gz"):
        with pytest.raises(BundleError) as e:
            unpack_archive(archive, dest)
        assert str(e.value) == f"{dest}: an archive is unpacked into a new or empty folder"
    assert unpack_archive(archive, tmp_path / "new" / "deep") == tmp_path / "new" / "deep" / "b"
    (tmp_path / "empty").mkdir()
    root = unpack_archive(archive, tmp_path / "empty")
    assert os.stat(root).st_mode & 0o777 == dir_mode()
    assert os.stat(root / "manifest.json").st_mode & 0o777 == file_mode()


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    with pytest.raises(BundleError) as e:
        unpack_archive(junk, tmp_path / "d")
    assert str(e.value).startswith(f"{junk}: not a readable bundle archive: ")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1", 1),
        ("1073741824", 1 << 30),
        ("512M", 512 << 20),
        ("1GiB", 1 << 30),
        (" 2 kb ", 2048),
        ("3t", 3 << 40),
        ("4MB", 4 << 20),
        ("5k", 5 << 10),
        ("6g", 6 << 30),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text, "--max-size") == size


@pytest.mark.parametrize("text", ["0", "0M", "-1", "1.5G", "1P", "G", ""])
def test_parse_size_refusals(text: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_size(text, "--max-size")
    assert str(e.value) == (
        f"--max-size: {text!r} is not a size; write bytes or a number with K, M or G (binary)"
    )


def test_limits_come_from_the_option_then_the_environment() -> None:
    assert ArchiveLimits.resolve(None, {}) == ArchiveLimits(1 << 30, 10_000)
    assert ArchiveLimits.resolve(None, {ENV_MAX_SIZE: ""}) == ArchiveLimits()
    assert ArchiveLimits.resolve(None, {ENV_MAX_SIZE: "2M"}).max_bytes == 2 << 20
    assert ArchiveLimits.resolve("3M", {ENV_MAX_SIZE: "2M"}).max_bytes == 3 << 20
    with pytest.raises(UsageError, match=f"^{ENV_MAX_SIZE}: 'x' is not a size"):
        ArchiveLimits.resolve(None, {ENV_MAX_SIZE: "x"})


def test_members_are_packed_by_tarfile_not_edgekit_and_data_follow(bundle: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(bundle, arcname="b")
    (tmp_path / "p.tar").write_bytes(buf.getvalue())
    root = unpack_archive(tmp_path / "p.tar", tmp_path / "d")
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "manifest.json",
        "variants",
        A,
        B,
    ]
    assert make_bundle  # the fixture's bundle is the one built by conftest


# --- the functions around the checks ------------------------------------------------------------------
def test_verify_bundle_lists_the_problems_and_passes_limits_on(bundle: Path, tmp_path: Path) -> None:
    from edgekit.bundle import verify_bundle

    assert verify_bundle(bundle) == []
    archive = tar_folder(tmp_path / "b.tar.gz", bundle, "b")
    assert verify_bundle(archive) == []
    with pytest.raises(BundleError, match="unpacks to more than 10 bytes"):
        verify_bundle(archive, limits=ArchiveLimits(max_bytes=10))
    (bundle / B).unlink()
    assert verify_bundle(bundle) == [f"{B}: missing"]


def test_load_bundle_unpacks_an_archive_into_a_new_folder_within_the_limits(
    bundle: Path, tmp_path: Path
) -> None:
    archive = tar_folder(tmp_path / "b.tar.gz", bundle, "b")
    b = load_bundle(archive)
    try:
        assert b.root.name == "b" and b.root.parent != tmp_path and b.model_path("onnx-a").is_file()
    finally:
        import shutil

        shutil.rmtree(b.root.parent)
    with pytest.raises(BundleError, match="unpacks to more than 10 bytes"):
        load_bundle(archive, extract_to=tmp_path / "x", limits=ArchiveLimits(max_bytes=10))


def test_messages_name_the_archive_not_where_it_was_unpacked(bundle: Path, tmp_path: Path) -> None:
    import json

    m = json.loads((bundle / "manifest.json").read_text())
    del m["labels"]
    (bundle / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError) as e:
        check_bundle(bundle)
    assert str(e.value).startswith(f"{bundle / 'manifest.json'}: ")
    archive = tar_folder(tmp_path / "b.tar.gz", bundle, "b")
    with pytest.raises(BundleError) as e:
        check_bundle(archive)
    assert str(e.value).startswith(f"{archive}: manifest.json: ")


def test_the_bundle_id_is_the_sha256_of_the_canonical_manifest(bundle: Path) -> None:
    import json

    import rfc8785

    expected = hashlib.sha256(rfc8785.dumps(json.loads((bundle / "manifest.json").read_text()))).hexdigest()
    assert check_bundle(bundle).bundle_id == expected
    assert load_bundle(bundle).bundle_id == expected


def test_a_malformed_signature_is_a_problem(bundle: Path) -> None:
    (bundle / "manifest.sig").write_text("not json")
    (problem,) = check_bundle(bundle).problems
    assert problem.startswith("manifest.sig: malformed: ")


def test_files_inside_a_linked_folder_are_not_walked(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.bin").write_bytes(b"x")
    (bundle / "more").symlink_to(tmp_path / "elsewhere")
    assert _problems(bundle) == ("more: a link to a folder; not allowed",)


def test_a_model_file_that_is_not_onnx_is_named(bundle: Path) -> None:
    from tests.bundle.conftest import rehash

    (bundle / B).write_bytes(b"\x08\x01garbage that protobuf cannot parse \xff\xff\xff")
    rehash(bundle)
    (problem,) = _problems(bundle)
    assert problem.startswith("variant 'onnx-b': onnx-b.onnx: not a readable ONNX model: ")
    assert not problem.endswith("None")
