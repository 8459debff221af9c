"""Fixtures for the firmware_bridge tests: the C reference codec built into a tmp dir, and a
pseudo-terminal "device" that can be unplugged and replugged behind a stable symlink."""

from __future__ import annotations

import os
import shutil
import subprocess
import tty
from pathlib import Path

import pytest

FIRMWARE_DIR = Path(__file__).resolve().parents[2] / "firmware_bridge" / "firmware"
C_FLAGS = "-std=c99 -Wall -Wextra -Werror -pedantic"
# Every C test runs against both builds: -ffast-math lets the compiler assume no NaN or
# infinity exists, which silently removed the codec's old `x != x` checks.
C_OPTIMISATIONS = {"O2": "-O2", "O2-fast-math": "-O2 -ffast-math"}


def build_c(out: Path, optimisation: str) -> Path:
    """Build the codec and its test driver into ``out`` with ``optimisation``; returns out."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None or shutil.which("make") is None:
        pytest.skip("no C compiler (gcc/cc) or make on PATH: C codec cross-check not run")
    subprocess.run(
        [
            "make", "-s", "-C", str(FIRMWARE_DIR), f"OUT={out}", f"CC={cc}",
            f"CFLAGS={C_FLAGS} {optimisation}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session", params=sorted(C_OPTIMISATIONS))
def fb_vectors_exe(request, tmp_path_factory) -> Path:
    """Path of the compiled fb_vectors driver, once per optimisation (skips without a C
    compiler)."""
    out = tmp_path_factory.mktemp(f"fb_c_{request.param}")
    return build_c(out, C_OPTIMISATIONS[request.param]) / "fb_vectors"


class PtyDevice:
    """A fake scanner on a pseudo-terminal, reachable through a symlink that survives replugs."""

    def __init__(self, link_path: Path) -> None:
        self.link_path = link_path
        self.master: int | None = None
        self.slave: int | None = None
        self.plug()

    def plug(self) -> None:
        """Create a fresh pty and (re)point the symlink at its slave."""
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # bytes pass unchanged even before the link configures the port
        tmp = self.link_path.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        os.replace(tmp, self.link_path)

    def unplug(self) -> None:
        """Close both ends: the host's next read fails like a yanked USB cable."""
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None

    def write(self, data: bytes) -> None:
        assert self.master is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def read(self, timeout_s: float = 2.0) -> bytes:
        """Bytes the host wrote (waits up to timeout_s for the first)."""
        import select

        assert self.master is not None
        ready, _, _ = select.select([self.master], [], [], timeout_s)
        return os.read(self.master, 65536) if ready else b""


@pytest.fixture
def pty_device(tmp_path):
    device = PtyDevice(tmp_path / "ttyFAKE0")
    yield device
    device.unplug()
