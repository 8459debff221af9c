"""Bundle archives: packing a bundle folder, and unpacking that trusts nothing in the archive.

An archive holds exactly one top folder (``<name>.bundle/``) with one ``manifest.json`` in it.
Before anything is written, every member is checked: it lies inside that folder, is a regular
file, a folder, or a link that stays inside it (no devices, FIFOs or absolute links), no name
appears twice, and the members and their declared sizes stay within :class:`ArchiveLimits`; so an
archive that would unpack to more than the cap is refused having written nothing. Extraction then
runs with :func:`tarfile.data_filter` as a second line of defence.

Written folders are 0755 and files 0644, masked by the umask, so a service user on the device
can read a bundle that root unpacked (``mkdtemp``/``mkstemp`` alone would give 0700/0600).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import re
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.bundle.manifest import MANIFEST
from edgekit.errors import BundleError, UsageError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MEMBERS",
    "ENV_MAX_SIZE",
    "ArchiveLimits",
    "dir_mode",
    "file_mode",
    "pack_archive",
    "parse_size",
    "unpack_archive",
]

DEFAULT_MAX_BYTES = 1 << 30
"""1 GiB: a bundle of a few models is megabytes; the cap only stops archives built to fill a disk."""
DEFAULT_MAX_MEMBERS = 10_000
ENV_MAX_SIZE = "EDGEKIT_BUNDLE_MAX_SIZE"
_MAX_SINGLE_READ = 16 << 20  # tarfile reads a PAX/GNU long header whole: bound it in memory
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)
_READ_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError)


def parse_size(text: str, where: str) -> int:
    """``"1073741824"``, ``"512M"``, ``"1GiB"`` -> bytes (binary units); UsageError naming ``where``."""
    m = _SIZE.fullmatch(text)
    if not m or int(m.group(1)) < 1:
        raise UsageError(f"{where}: {text!r} is not a size; write bytes or a number with K, M or G (binary)")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an archive may unpack to: total bytes of its files, and number of members."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS

    @classmethod
    def resolve(cls, option: str | None, environ: Mapping[str, str] | None = None) -> ArchiveLimits:
        """From ``--max-size`` when given, else ``$EDGEKIT_BUNDLE_MAX_SIZE``, else the defaults."""
        env = os.environ if environ is None else environ
        if option is not None:
            return cls(max_bytes=parse_size(option, "--max-size"))
        if env.get(ENV_MAX_SIZE):
            return cls(max_bytes=parse_size(env[ENV_MAX_SIZE], ENV_MAX_SIZE))
        return cls()


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (no race with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def file_mode() -> int:
    """0644 under the umask."""
    return 0o644 & ~_umask()


def dir_mode() -> int:
    """0755 under the umask."""
    return 0o755 & ~_umask()


class _BoundedReads:
    """A seekable file whose single reads are bounded, so no header can allocate a gigabyte."""

    def __init__(self, inner: io.BufferedIOBase, source: Path) -> None:
        self._inner = inner
        self._source = source

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > _MAX_SINGLE_READ:
            raise BundleError(f"{self._source}: archive header declares {n} bytes; refusing to read it")
        return self._inner.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        self._inner.close()


def _open_decompressed(raw: io.BufferedIOBase) -> io.BufferedIOBase:
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw, mode="rb")  # type: ignore[arg-type]  # any binary file object works
    return raw


def _norm_name(name: str, source: Path) -> list[str]:
    """Member name -> its parts; absolute names and '..' parts are refused."""
    stripped = name
    while stripped.startswith("./"):
        stripped = stripped[2:]
    parts = stripped.rstrip("/").split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BundleError(f"{source}: member {name[:120]!r} lies outside the bundle folder; refused")
    return parts


def _check_members(tar: tarfile.TarFile, source: Path, limits: ArchiveLimits) -> tuple[str, list[Any]]:
    """Read every header (no data is written) and refuse anything but one safe bundle folder."""
    members: list[tarfile.TarInfo] = []
    seen: set[str] = set()
    regular: set[str] = set()
    total = 0
    top: str | None = None
    manifests: list[str] = []
    for m in tar:
        if len(members) >= limits.max_members:
            raise BundleError(f"{source}: more than {limits.max_members} members; refused")
        parts = _norm_name(m.name, source)
        top = top or parts[0]
        if parts[0] != top:
            raise BundleError(
                f"{source}: member {m.name[:120]!r} lies outside the bundle folder {top!r}; "
                "an archive holds exactly one top folder"
            )
        name = "/".join(parts)
        if len(parts) == 1 and not m.isdir():
            raise BundleError(f"{source}: {name[:120]!r} must be the bundle folder, not a file or link")
        if name in seen:
            raise BundleError(f"{source}: member {name[:120]!r} appears twice; refused")
        seen.add(name)
        if m.isreg():
            total += m.size
            if total > limits.max_bytes:
                raise BundleError(
                    f"{source}: unpacks to more than {limits.max_bytes} bytes (the cap; raise it with "
                    f"--max-size or {ENV_MAX_SIZE}); refused before writing"
                )
            regular.add(name)
            if parts[-1] == MANIFEST:
                manifests.append(name)
        elif m.issym():
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), m.linkname))
            if m.linkname.startswith("/") or not (target == top or target.startswith(top + "/")):
                raise BundleError(f"{source}: link {name[:120]!r} -> {m.linkname[:120]!r} leaves the bundle")
        elif m.islnk():
            target = posixpath.normpath(m.linkname.removeprefix("./"))
            if target not in regular:
                raise BundleError(
                    f"{source}: hard link {name[:120]!r} -> {m.linkname[:120]!r} does not name a file "
                    "earlier in the bundle"
                )
        elif not m.isdir():
            raise BundleError(
                f"{source}: member {name[:120]!r} is a device, FIFO or other special file; refused"
            )
        members.append(m)
    if top is None:
        raise BundleError(f"{source}: empty archive; not an edgekit bundle")
    if manifests != [f"{top}/{MANIFEST}"]:
        where = ", ".join(manifests) or "none"
        raise BundleError(
            f"{source}: an archive holds exactly one {top}/{MANIFEST}; found {len(manifests)} ({where})"
        )
    return top, members


def _extract_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    safe = tarfile.data_filter(member, dest)
    if safe.isdir():
        return safe.replace(mode=dir_mode(), deep=False)
    if safe.isreg():
        return safe.replace(mode=file_mode(), deep=False)
    return safe


def unpack_archive(path: Path, dest: Path, limits: ArchiveLimits | None = None) -> Path:
    """Check then unpack ``path`` into ``dest`` (new or empty); return the bundle folder in it."""
    limits = limits or ArchiveLimits()
    if not os.path.lexists(dest):
        try:
            dest.mkdir(parents=True)
        except OSError as e:
            raise BundleError(f"{dest}: cannot create the folder to unpack into ({e.strerror or e})") from e
    if not dest.is_dir() or any(dest.iterdir()):
        raise BundleError(f"{dest}: an archive is unpacked into a new or empty folder")
    try:
        with (
            path.open("rb") as raw,
            _open_decompressed(raw) as plain,
            tarfile.open(fileobj=_BoundedReads(plain, path), mode="r:") as tar,  # type: ignore[call-overload]
        ):
            top, members = _check_members(tar, path, limits)
            tar.extractall(dest, members=members, filter=_extract_filter)
    except BundleError:
        raise
    except tarfile.FilterError as e:
        raise BundleError(f"{path}: unsafe archive member: {e}") from e
    except _READ_ERRORS as e:
        raise BundleError(f"{path}: not a readable bundle archive: {e}") from e
    return dest / top


def _pack_filter(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if info.isdir():
        info.mode = 0o755
    elif info.isreg():
        info.mode = 0o644
    return info


def pack_archive(folder: Path, archive: Path, top: str) -> Path:
    """Write ``folder`` as ``archive`` (gzip tar, one top folder ``top``), atomically, mode 0644.

    Members are 0644/0755 with owner 0 and no names, so unpacking on the device gives a readable
    bundle whoever packed it.
    """
    fd, part = tempfile.mkstemp(prefix=".bundle-", suffix=".tar.gz.part", dir=archive.parent)
    os.close(fd)
    try:
        with tarfile.open(part, "w:gz") as tar:
            tar.add(folder, arcname=top, filter=_pack_filter)
        os.chmod(part, file_mode())
        os.replace(part, archive)
    finally:
        if os.path.exists(part):
            os.unlink(part)
    return archive
