"""Line damage for the virtual scanner, applied to encoded packets (one frame each).

Each fault draws from its own random stream (derived from the seed), so enabling one fault
does not change where another strikes, and a seed gives the same damage every run. What a
fault does to the host is not assumed here: ``edgekit.emulator.truth.LineAccount`` follows the
bytes actually written and says what the host must count.

- **drop**: the frame is not written (its sequence number was consumed);
- **corrupt**: 1-3 bytes of the frame are replaced by other values, anywhere, the 0x00
  delimiter included and 0x00 included: a hit delimiter merges the frame with the next one, a
  new 0x00 splits it in two;
- **garbage**: random bytes are written *before* a frame, ended by a 0x00 only half of the time
  (unterminated garbage merges with the frame that follows and costs it);
- **duplicate**: the frame is written twice (as a link-layer retransmission would);
- **boot_hello_loss**: a BOOT HELLO is not written (each one, repeats included).

Mid-packet resets belong to the scanner (they reboot it), not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Damage", "FaultConfig", "FaultInjector", "FaultKind", "FaultStats"]

FaultKind = Literal["drop", "corrupt", "duplicate", "boot_hello_loss"]
_MAX_GARBAGE_BYTES = 48
_MAX_FLIPS = 3
_RATES = ("drop_rate", "corrupt_rate", "garbage_rate", "duplicate_rate", "boot_hello_loss")


@dataclass(frozen=True)
class FaultConfig:
    """Probabilities per packet (each in [0, 1]); all zero = a perfect line."""

    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    garbage_rate: float = 0.0
    duplicate_rate: float = 0.0
    boot_hello_loss: float = 0.0

    def __post_init__(self) -> None:
        for name in _RATES:
            p = getattr(self, name)
            if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                raise ValueError(f"{name.replace('_', '-')}: need a probability in [0, 1], got {p}")

    @property
    def any(self) -> bool:
        """True when some fault may strike."""
        return any(getattr(self, name) for name in _RATES)


@dataclass(slots=True)
class FaultStats:
    """What the injector did (mutable counters)."""

    packets: int = 0
    dropped: int = 0
    corrupted: int = 0
    delimiter_hits: int = 0
    splits: int = 0
    duplicated: int = 0
    boot_hellos_lost: int = 0
    garbage_bursts: int = 0
    garbage_unterminated: int = 0
    garbage_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Damage:
    """What to write for one packet: ``prefix`` (garbage, maybe empty) then ``body`` (the frame,
    possibly damaged, possibly twice); ``intact``: the packet's own bytes and delimiter are as
    encoded (whether the host can read it also depends on what was written before)."""

    prefix: bytes
    body: bytes
    intact: bool
    fault: FaultKind | None
    copies: int = 1

    @property
    def data(self) -> bytes:
        """All the bytes, in order."""
        return self.prefix + self.body


class FaultInjector:
    """``apply(frame)`` -> the ``Damage`` to write instead of the frame."""

    def __init__(self, config: FaultConfig | None = None, *, seed: int = 0) -> None:
        self.config = config if config is not None else FaultConfig()
        self.stats = FaultStats()
        streams = np.random.SeedSequence((seed, 0xFA17)).spawn(5)
        rngs = [np.random.default_rng(s) for s in streams]
        self._drop_rng, self._corrupt_rng, self._garbage_rng, self._dup_rng, self._boot_rng = rngs

    def apply(self, frame: bytes, *, boot_hello: bool = False) -> Damage:
        """Damage one encoded frame (COBS bytes ending with 0x00) as configured."""
        cfg, stats = self.config, self.stats
        stats.packets += 1
        prefix = b""
        if cfg.garbage_rate and self._garbage_rng.random() < cfg.garbage_rate:
            prefix = self._garbage()
        if boot_hello and cfg.boot_hello_loss and self._boot_rng.random() < cfg.boot_hello_loss:
            stats.boot_hellos_lost += 1
            return Damage(prefix, b"", False, "boot_hello_loss")
        if cfg.drop_rate and self._drop_rng.random() < cfg.drop_rate:
            stats.dropped += 1
            return Damage(prefix, b"", False, "drop")
        if cfg.corrupt_rate and self._corrupt_rng.random() < cfg.corrupt_rate:
            stats.corrupted += 1
            return Damage(prefix, self._corrupt(frame), False, "corrupt")
        if cfg.duplicate_rate and self._dup_rng.random() < cfg.duplicate_rate:
            stats.duplicated += 1
            return Damage(prefix, frame + frame, True, "duplicate", copies=2)
        return Damage(prefix, frame, True, None)

    def _corrupt(self, frame: bytes) -> bytes:
        rng, stats = self._corrupt_rng, self.stats
        body = bytearray(frame)
        n = min(len(body), int(rng.integers(1, _MAX_FLIPS + 1)))
        for pos in rng.choice(len(body), size=n, replace=False).tolist():
            old = body[pos]
            new = int(rng.integers(0, 255))
            new += new >= old  # any value but the old one, 0x00 included
            body[pos] = new
            if pos == len(body) - 1:
                stats.delimiter_hits += 1
            elif new == 0:
                stats.splits += 1
        return bytes(body)

    def _garbage(self) -> bytes:
        rng, stats = self._garbage_rng, self.stats
        size = int(rng.integers(1, _MAX_GARBAGE_BYTES + 1))
        noise = rng.integers(1, 256, size, dtype=np.uint8).tobytes()
        stats.garbage_bursts += 1
        stats.garbage_bytes += size
        if rng.random() < 0.5:
            stats.garbage_unterminated += 1
            return noise
        return noise + b"\x00"
