"""Artifact hygiene of a compiled-tree library (the ELF shared object of ``trees-compiled``).

Checked: every printable run of 4+ bytes in every section (as ``strings -a`` would list it)
that names a home folder, a user profile or an e-mail address (``ENV_TEXT``), the build host's
name or the login name of the user building (4+ characters), or one of the build's own folders
(given by the caller). Always stripped unless ``[privacy] keep_metadata``: the compiler's
identification (``.comment``) and the static symbol table (source file names and local symbols);
neither is loaded at run time.

Not checked: member rows. The library holds split thresholds (single feature values, turned
into bin indices by TL2cgen's quantisation) and leaf values, never an input row; a threshold equal
to one member's feature value is how a tree splits, not a memorised capture.

Stripping uses the library's own binutils (``strip``, or ``aarch64-linux-gnu-strip`` for the Pi's
library): ``--strip-unneeded``, ``.comment``, and every section not loaded at run time (no
SHF_ALLOC flag) that holds a finding. A finding in a loaded section (code, read-only data) is
reported and kept. The stripped copy replaces the file only when every loaded section and the
dynamic symbols are byte-identical (so the code the device runs is the same, checkable for any
machine) and, for a library this host can run, the caller's output check agrees.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from edgekit.privacy.hygiene import ENV_TEXT, Cleaning

__all__ = ["STRIP_TOOLS", "scan_elf", "strip_elf_file"]

STRIP_TOOLS: dict[str, str] = {"EM_X86_64": "strip", "EM_AARCH64": "aarch64-linux-gnu-strip"}
"""ELF machine (pyelftools' name) -> the binutils strip of a Debian build host for it."""
_PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")
# symbol versions ("expf@GLIBC_2.27") look like e-mail addresses to ENV_TEXT; they name a library
_SYMBOL_VERSION = re.compile(r"@@?[A-Z][A-Z0-9]*_[0-9][0-9.]*")
_ALWAYS = {".comment": "compiler identification", ".symtab": "source file names, local symbols"}
_WHAT = {**_ALWAYS, ".strtab": "the static symbols' names"}  # strip takes .strtab with .symtab


def _names(folders: Sequence[str | Path]) -> list[str]:
    """Text that names this build's machine, user or folders (short or empty names skipped)."""
    found = [socket.gethostname(), os.environ.get("USER", "")]
    with contextlib.suppress(KeyError, OSError):  # no passwd entry for this uid
        found.append(getpass.getuser())
    found += [str(Path(f).resolve()) for f in folders]
    return sorted({n for n in found if len(n) >= 4})


def _machine(path: Path) -> str:
    with path.open("rb") as f:
        return str(ELFFile(f)["e_machine"])


def _sections(path: Path) -> list[tuple[str, bool, bytes]]:
    """(name, loaded at run time, bytes) of every section with contents."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        return [
            (s.name, bool(s["sh_flags"] & SH_FLAGS.SHF_ALLOC), s.data())
            for s in elf.iter_sections()
            if s["sh_type"] != "SHT_NOBITS" and s.name
        ]


def scan_elf(path: Path, folders: Sequence[str | Path] = ()) -> dict[str, list[str]]:
    """Section name -> one line per finding of build-environment text (never the text itself)."""
    names = _names(folders)
    found: dict[str, list[str]] = {}
    for name, _loaded, data in _sections(path):
        for m in _PRINTABLE.finditer(data):
            text = m.group().decode("ascii")
            plain = _SYMBOL_VERSION.sub("", text)
            why = "names a path or a user" if ENV_TEXT.search(plain) else (
                "names this build's host, user or folder" if any(n in text for n in names) else "")
            if why:
                found.setdefault(name, []).append(f"{len(text)} characters, {why}")
    return found


def _loaded_image(path: Path) -> list[tuple[str, bytes]]:
    """What the loader maps and links against: every SHF_ALLOC section's name and bytes."""
    return [(n, d) for n, loaded, d in _sections(path) if loaded]


def strip_elf_file(
    path: Path,
    same_outputs: Callable[[Path, Path], bool] | None,
    *,
    keep_metadata: bool = False,
    folders: Sequence[str | Path] = (),
) -> Cleaning:
    """Strip the library at ``path`` in place (see the module docstring); ``same_outputs`` is
    None for a library this host cannot run. ``path`` must be the caller's own (it is replaced)."""
    label = path.name
    try:
        found = scan_elf(path, folders)
        sections = {n: loaded for n, loaded, _ in _sections(path)}
        machine = _machine(path)
    except (ELFError, OSError, ValueError) as e:
        return Cleaning(kept=[f"{label}: not an ELF file this scan reads ({e}): not scanned"])
    lines = [f"{label} section {s}: {line}" for s, items in found.items() for line in items]
    if keep_metadata:
        return Cleaning(kept=[f"{line} ([privacy] keep_metadata)" for line in lines])
    removable = sorted({s for s in found if not sections[s]} | {s for s in _ALWAYS if s in sections})
    if not removable:
        return Cleaning(kept=[f"{line}: in a loaded section, kept" for line in lines])
    tool = shutil.which(STRIP_TOOLS.get(machine, ""))
    if tool is None:
        why = f"no strip for {machine} ({STRIP_TOOLS.get(machine, 'none known')})"
        return Cleaning(kept=[f"{line}: {why}" for line in lines] or [f"{label}: not stripped, {why}"])
    tmp = path.with_name(f".stripped-{path.name}")  # same folder: the caller's own
    try:
        args = [tool, "--strip-unneeded", *(f"--remove-section={s}" for s in removable)]
        proc = subprocess.run([*args, "-o", str(tmp), str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            why = proc.stderr.strip()[:200]
            return Cleaning(kept=[*lines, f"{label}: {tool} failed ({why}): kept as built"])
        unchanged = _loaded_image(tmp) == _loaded_image(path)
        if not unchanged or (same_outputs is not None and not same_outputs(path, tmp)):
            return Cleaning(kept=[*lines, f"{label}: stripping changed the library: kept as built"])
        left = scan_elf(tmp, folders)
        gone = [s for s in sections if s not in {n for n, _, _ in _sections(tmp)}]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    removed = [
        f"{label} section {s}" + (f" ({_WHAT[s]})" if s in _WHAT else "")
        + (f": {len(found[s])} string(s) naming the build environment" if s in found else "")
        for s in gone
    ]
    kept = [f"{label} section {s}: {line}: in a loaded section, kept" for s, items in left.items()
            for line in items]
    return Cleaning(removed=removed, kept=kept)
