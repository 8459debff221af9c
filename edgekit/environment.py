"""What the board was doing while it was measured: model, governor, clock, temperature, throttling.

A benchmark figure from a Pi that throttled, ran the ``powersave`` governor or sat at 80 °C is
not the same figure as one from a cool board at full clock, so every bench result carries this
probe, taken before and after the run. ``read_board_identity`` says which board it is (device tree
model and compatible list -> profile key and SoC: "measured on the target" is checked against it)
and ``cpu_snapshot`` is the cheap governor/clock/temperature read taken around every energy window.
Device roots are injectable (``sysfs_root``, ``proc_root``, ``devicetree_root``, ``vcgencmd``) so
tests run the same code on a fake tree. Anything that cannot be read is ``None``, never a guess.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgekit.energy.boards import (
    BOARD_SOCS,
    board_from_compatible,
    board_from_model_string,
    soc_from_compatible,
)

__all__ = [
    "THROTTLE_BITS",
    "BoardIdentity",
    "Environment",
    "EnvironmentRoots",
    "ThrottleState",
    "cpu_snapshot",
    "decode_throttled",
    "probe_environment",
    "read_board_identity",
    "read_throttled",
    "throttle_warnings",
    "throttled_during",
]

# ``vcgencmd get_throttled`` bits (Raspberry Pi firmware): low nibble "now", bits 16-19 "has
# occurred since boot".
THROTTLE_BITS: dict[int, str] = {
    0: "under-voltage detected",
    1: "arm frequency capped",
    2: "currently throttled",
    3: "soft temperature limit active",
    16: "under-voltage has occurred",
    17: "arm frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}
_NOW_MASK = 0xF
_OCCURRED_MASK = 0xF0000
_LIBRARIES = ("edgekit", "numpy", "onnx", "onnxruntime", "ai-edge-litert", "tflite-runtime", "psutil")


@dataclass(frozen=True)
class EnvironmentRoots:
    """Where the probe reads the device; tests point these at a fake tree."""

    sysfs_root: Path = Path("/sys")
    proc_root: Path = Path("/proc")
    devicetree_root: Path | None = None
    vcgencmd: str | Path = "vcgencmd"

    @property
    def devicetree(self) -> Path:
        return self.devicetree_root if self.devicetree_root is not None else self.proc_root / "device-tree"

    def as_kwargs(self) -> dict[str, Any]:
        """These roots as keyword arguments for ``probe_environment``, ``open_meter``,
        ``detect_meter`` (``MeterRoots`` uses the same names)."""
        return {
            "sysfs_root": self.sysfs_root,
            "proc_root": self.proc_root,
            "devicetree_root": self.devicetree_root,
            "vcgencmd": self.vcgencmd,
        }


@dataclass(frozen=True)
class ThrottleState:
    """A decoded ``vcgencmd get_throttled`` value."""

    raw: int
    now: tuple[str, ...]
    occurred: tuple[str, ...]

    @property
    def throttled_now(self) -> bool:
        return bool(self.raw & _NOW_MASK)

    def to_dict(self) -> dict[str, Any]:
        return {"raw": f"0x{self.raw:x}", "now": list(self.now), "occurred": list(self.occurred)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThrottleState:
        return decode_throttled(int(str(data["raw"]), 0))


def decode_throttled(value: int) -> ThrottleState:
    """Split the bit field into "now" and "has occurred" flag names (unknown bits named by number)."""
    now: list[str] = []
    occurred: list[str] = []
    for bit in range(32):
        if value & (1 << bit):
            name = THROTTLE_BITS.get(bit, f"bit {bit}")
            (occurred if bit >= 16 else now).append(name)
    return ThrottleState(value, tuple(now), tuple(occurred))


def _vcgencmd_path(vcgencmd: str | Path) -> str | None:
    if isinstance(vcgencmd, Path) or "/" in str(vcgencmd):
        return str(vcgencmd) if Path(vcgencmd).exists() else None
    return shutil.which(str(vcgencmd))


def read_throttled(vcgencmd: str | Path = "vcgencmd", *, timeout_s: float = 5.0) -> ThrottleState | None:
    """Run ``vcgencmd get_throttled`` (``throttled=0x50005``); None when absent or unparsable."""
    exe = _vcgencmd_path(vcgencmd)
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "get_throttled"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    _, eq, value = proc.stdout.strip().partition("=")
    if proc.returncode != 0 or not eq:
        return None
    try:
        return decode_throttled(int(value.strip(), 0))
    except ValueError:
        return None


def _read(path: Path) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return path.read_text(errors="replace").replace("\x00", "").strip() or None
    return None


def _read_number(path: Path, scale: float) -> float | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return float(text) * scale
    except ValueError:
        return None


def _board_model(roots: EnvironmentRoots) -> str | None:
    model = _read(roots.devicetree / "model")
    if model:
        return model
    cpuinfo = _read(roots.proc_root / "cpuinfo") or ""
    for key in ("Model", "model name", "Hardware"):
        for line in cpuinfo.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return None


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


@dataclass(frozen=True)
class BoardIdentity:
    """Which board this is: profile key (``rpi4b``), device-tree model, SoC, compatible list,
    and the revision code from ``/proc/cpuinfo``; None where the tree does not say."""

    board: str | None
    model: str | None
    soc: str | None
    compatible: tuple[str, ...] = ()
    revision: str | None = None

    def as_context(self) -> dict[str, str | None]:
        """The keys energy provenance records (``board``, ``board_model``, ``soc``)."""
        return {"board": self.board, "board_model": self.model, "soc": self.soc}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "compatible": list(self.compatible)}


def _cpuinfo_field(roots: EnvironmentRoots, key: str) -> str | None:
    for line in (_read(roots.proc_root / "cpuinfo") or "").splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key and value.strip():
            return value.strip()
    return None


def read_board_identity(
    *, proc_root: str | Path = "/proc", devicetree_root: str | Path | None = None
) -> BoardIdentity:
    """The board's identity from the device tree (``model``, ``compatible``) and ``cpuinfo``."""
    roots = EnvironmentRoots(
        proc_root=Path(proc_root),
        devicetree_root=None if devicetree_root is None else Path(devicetree_root),
    )
    model = _board_model(roots)
    try:
        raw = (roots.devicetree / "compatible").read_bytes().decode("ascii", errors="replace")
    except OSError:
        raw = ""
    compatible = tuple(c for c in raw.split("\x00") if c.strip())
    board = board_from_compatible(raw) or (board_from_model_string(model) if model else None)
    # without a compatible list, a recognised board names its SoC (each board has exactly one)
    soc = soc_from_compatible(raw) or (BOARD_SOCS.get(board) if board else None)
    return BoardIdentity(board, model, soc, compatible, _cpuinfo_field(roots, "Revision"))


def cpu_snapshot(*, sysfs_root: str | Path = "/sys") -> dict[str, Any]:
    """Governor and clock of every cpufreq policy, and zone-0 temperature: cheap sysfs reads
    taken before and after every energy window, so a regime change can be named."""
    root = Path(sysfs_root)
    cpufreq = root / "devices" / "system" / "cpu" / "cpufreq"
    policies = sorted(cpufreq.glob("policy*")) if cpufreq.is_dir() else []
    if not policies:  # older kernels: only per-cpu folders
        policies = [root / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"]
    freqs = {p.name: _read_number(p / "scaling_cur_freq", 1e-3) for p in policies}
    first = policies[0]
    return {
        "governor": _read(first / "scaling_governor"),
        "freq_mhz": _read_number(first / "scaling_cur_freq", 1e-3),
        "max_freq_mhz": _read_number(first / "scaling_max_freq", 1e-3),
        "policies_mhz": {k: v for k, v in freqs.items() if v is not None} or None,
        "temp_c": _read_number(root / "class" / "thermal" / "thermal_zone0" / "temp", 1e-3),
    }


@dataclass(frozen=True)
class Environment:
    """One probe of the board; every field is None when it could not be read."""

    board_model: str | None
    machine: str
    cpu_count: int | None
    cpu_governor: str | None
    cpu_freq_mhz: float | None
    cpu_max_freq_mhz: float | None
    temperature_c: float | None
    throttled: ThrottleState | None
    kernel: str | None
    python: str
    versions: dict[str, str] = field(default_factory=dict)
    board: str | None = None
    soc: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["throttled"] = self.throttled.to_dict() if self.throttled else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Environment:
        values: dict[str, Any] = {k: data.get(k) for k in cls.__dataclass_fields__}
        raw = data.get("throttled")
        values["throttled"] = ThrottleState.from_dict(raw) if raw else None
        values["versions"] = dict(data.get("versions") or {})
        return cls(**values)

    @property
    def summary(self) -> str:
        """One line: board, governor @ clock, temperature, throttling."""
        parts = [self.board_model or f"unknown board ({self.machine})"]
        if self.cpu_governor or self.cpu_freq_mhz:
            clock = f"{self.cpu_freq_mhz:.0f} MHz" if self.cpu_freq_mhz is not None else "? MHz"
            parts.append(f"governor {self.cpu_governor or '?'} @ {clock}")
        if self.temperature_c is not None:
            parts.append(f"{self.temperature_c:.1f} °C")
        if self.throttled is not None:
            parts.append(
                f"throttled={self.throttled.to_dict()['raw']}"
                + (
                    f" ({', '.join(self.throttled.now + self.throttled.occurred)})"
                    if self.throttled.raw
                    else ""
                )
            )
        else:
            parts.append("throttling unknown (no vcgencmd)")
        return "; ".join(parts)


def probe_environment(
    *,
    sysfs_root: str | Path = "/sys",
    proc_root: str | Path = "/proc",
    devicetree_root: str | Path | None = None,
    vcgencmd: str | Path = "vcgencmd",
) -> Environment:
    """Read board model, cpu0 governor and clock, zone-0 temperature, throttling, versions."""
    roots = EnvironmentRoots(
        Path(sysfs_root),
        Path(proc_root),
        None if devicetree_root is None else Path(devicetree_root),
        vcgencmd,
    )
    cpufreq = roots.sysfs_root / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"
    kernel = _read(roots.proc_root / "sys" / "kernel" / "osrelease")
    identity = read_board_identity(proc_root=roots.proc_root, devicetree_root=roots.devicetree_root)
    return Environment(
        board_model=_board_model(roots),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        cpu_governor=_read(cpufreq / "scaling_governor"),
        cpu_freq_mhz=_read_number(cpufreq / "scaling_cur_freq", 1e-3),  # kHz in sysfs
        cpu_max_freq_mhz=_read_number(cpufreq / "scaling_max_freq", 1e-3),
        temperature_c=_read_number(
            roots.sysfs_root / "class" / "thermal" / "thermal_zone0" / "temp",
            1e-3,  # millidegrees
        ),
        throttled=read_throttled(roots.vcgencmd),
        kernel=kernel,
        python=sys.version.split()[0],
        versions=_library_versions(),
        board=identity.board,
        soc=identity.soc,
    )


def _new_flags(before: Environment, after: Environment) -> int:
    """Throttle bits that mark the run: "now" bits at the end, sticky bits that were clear before."""
    b, a = before.throttled, after.throttled
    if a is None:
        return 0
    new_occurred = (a.raw & _OCCURRED_MASK) & ~((b.raw if b else 0) & _OCCURRED_MASK)
    return (a.raw & _NOW_MASK) | new_occurred


def throttled_during(before: Environment, after: Environment) -> bool:
    """Whether ``vcgencmd get_throttled`` says the board throttled (or was capped) during the run."""
    return bool(_new_flags(before, after))


def throttle_warnings(before: Environment, after: Environment) -> list[str]:
    """Warnings when the board was throttled at the start, or throttled during the run.

    "During" means a "now" flag at the end, or a "has occurred" flag that was clear at the start
    (the sticky bits only reset at boot, so a flag already set before the run says nothing).
    """
    out: list[str] = []
    b, a = before.throttled, after.throttled
    if b is not None and b.throttled_now:
        out.append(f"board was already throttled when the run started: {', '.join(b.now)}")
    flags_during = _new_flags(before, after)
    if a is not None and flags_during:
        flags = decode_throttled(flags_during)
        out.append(
            "board THROTTLED DURING THE RUN "
            f"(get_throttled {b.to_dict()['raw'] if b else '?'} -> {a.to_dict()['raw']}: "
            f"{', '.join(flags.now + flags.occurred)}); latency and energy figures are not "
            "representative of an unthrottled board"
        )
    if (
        before.cpu_freq_mhz is not None
        and after.cpu_freq_mhz is not None
        and after.cpu_freq_mhz < 0.9 * before.cpu_freq_mhz
    ):
        out.append(
            f"cpu0 clock fell from {before.cpu_freq_mhz:.0f} to {after.cpu_freq_mhz:.0f} MHz during the run"
        )
    return out
