"""Line damage for the virtual scanner, applied to encoded packets (one frame each).

Each fault draws from its own random stream (derived from the seed), so enabling one fault
does not change where another strikes, and a seed gives the same damage every run. The
``FaultStats`` counters say exactly what was done, so a test can hold the host's decoder
statistics against them:

- **drop**: the frame is not written; its sequence number was already consumed, so the host
  counts one lost packet per drop (``lost_packets``);
- **corrupt**: 1-3 bytes of the frame (never its 0x00 delimiter, never into a 0x00) are flipped,
  so the host drops exactly one frame (a CRC failure or a framing error) per corruption;
- **garbage**: random bytes and a 0x00 are written *before* a frame; the host drops
  ``garbage_frames`` frames but recovers every valid packet.

Mid-packet resets belong to the scanner (they reboot it), not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["FaultConfig", "FaultInjector", "FaultKind", "FaultStats"]

FaultKind = Literal["drop", "corrupt"]
_MAX_GARBAGE_BYTES = 48
_MAX_FLIPS = 3


@dataclass(frozen=True)
class FaultConfig:
    """Probabilities per packet (each in [0, 1]); all zero = a perfect line."""

    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    garbage_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("drop_rate", "corrupt_rate", "garbage_rate"):
            p = getattr(self, name)
            if not (math.isfinite(p) and 0.0 <= p <= 1.0):
                raise ValueError(f"{name.replace('_', '-')}: need a probability in [0, 1], got {p}")

    @property
    def any(self) -> bool:
        """True when some fault may strike."""
        return bool(self.drop_rate or self.corrupt_rate or self.garbage_rate)


@dataclass(slots=True)
class FaultStats:
    """What the injector did (mutable counters)."""

    packets: int = 0
    dropped: int = 0
    corrupted: int = 0
    garbage_bursts: int = 0
    garbage_frames: int = 0
    garbage_bytes: int = 0


class FaultInjector:
    """``apply(frame)`` -> the bytes to write instead, and which fault (if any) hit the packet."""

    def __init__(self, config: FaultConfig | None = None, *, seed: int = 0) -> None:
        self.config = config if config is not None else FaultConfig()
        self.stats = FaultStats()
        streams = np.random.SeedSequence((seed, 0xFA17)).spawn(3)
        self._drop_rng, self._corrupt_rng, self._garbage_rng = (np.random.default_rng(s) for s in streams)

    def apply(self, frame: bytes) -> tuple[bytes, FaultKind | None]:
        """Damage one encoded frame (COBS bytes ending with 0x00) as configured."""
        cfg, stats = self.config, self.stats
        stats.packets += 1
        prefix = b""
        if cfg.garbage_rate and self._garbage_rng.random() < cfg.garbage_rate:
            prefix = self._garbage()
        if cfg.drop_rate and self._drop_rng.random() < cfg.drop_rate:
            stats.dropped += 1
            return prefix, "drop"
        if cfg.corrupt_rate and self._corrupt_rng.random() < cfg.corrupt_rate:
            stats.corrupted += 1
            return prefix + self._corrupt(frame), "corrupt"
        return prefix + frame, None

    def _corrupt(self, frame: bytes) -> bytes:
        rng = self._corrupt_rng
        body = bytearray(frame[:-1])
        n = min(len(body), int(rng.integers(1, _MAX_FLIPS + 1)))
        for pos in rng.choice(len(body), size=n, replace=False).tolist():
            old = body[pos]
            # XOR with a mask that neither keeps the byte nor turns it into a delimiter
            mask = int(rng.integers(1, 256))
            while old ^ mask == 0:
                mask = int(rng.integers(1, 256))
            body[pos] = old ^ mask
        return bytes(body) + frame[-1:]

    def _garbage(self) -> bytes:
        rng, stats = self._garbage_rng, self.stats
        size = int(rng.integers(1, _MAX_GARBAGE_BYTES + 1))
        noise = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        stats.garbage_bursts += 1
        stats.garbage_bytes += size
        stats.garbage_frames += sum(1 for piece in noise.split(b"\x00") if piece)
        return noise + b"\x00"
