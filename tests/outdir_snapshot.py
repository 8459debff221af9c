"""A snapshot of a folder tree, computed without edgekit: names, kinds, sizes, mtimes, SHA-256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under ``root`` (hidden ones too): links by target, files by size, mtime, hash."""
    out: dict[str, tuple[object, ...]] = {}
    if not os.path.lexists(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir", st.st_mtime_ns)
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = ("file", st.st_size, st.st_mtime_ns, digest)
    return out


def file_contents(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every regular file under ``root`` (mtimes ignored)."""
    return {k: v[3] for k, v in snapshot(root).items() if v[0] == "file"}  # type: ignore[misc]
