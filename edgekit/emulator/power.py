"""The scanner's own power monitor, simulated: an INA-style sensor on the 5 V supply rail.

The model (documented so energy figures derived from it can be judged):

- sampling at ``sample_period_us`` (10 ms = 100 Hz), sent in POWER batches every
  ``power_period_ms`` (100 ms by default, i.e. 10 samples per batch);
- supply ``supply_mv`` = 5000 mV (a battery pack's 5 V boost output) sagging by
  ``source_resistance_mohm`` x current (200 mOhm: 20 mV at 100 mA);
- current = ``idle_ua`` (MCU running, radio front end powered down: 45 mA)
  + ``streaming_ua`` while streaming (front end, ADC and USB active: +35 mA)
  + ``capture_ua`` for ``capture_window_us`` after each capture starts (ADC burst, DMA and the
  USB transfer of ~4 KB: +60 mA for 20 ms) + Gaussian noise of ``noise_ua`` (0.5 mA RMS).

Idle draw is thus ~225 mW, streaming ~400 mW and a capture burst ~700 mW: the range of a
microcontroller with an SDR front end. Deterministic for a seed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from firmware_bridge import MAX_POWER_SAMPLES, PowerSample

__all__ = ["PowerModel", "PowerMonitor"]


@dataclass(frozen=True)
class PowerModel:
    """Parameters of the simulated supply and load (see the module docstring)."""

    sample_period_us: int = 10_000
    supply_mv: int = 5_000
    source_resistance_mohm: int = 200
    idle_ua: int = 45_000
    streaming_ua: int = 35_000
    capture_ua: int = 60_000
    capture_window_us: int = 20_000
    noise_ua: float = 500.0

    @property
    def max_batch_period_ms(self) -> int:
        """The longest POWER period whose batch still fits one packet."""
        return MAX_POWER_SAMPLES * self.sample_period_us // 1000


class PowerMonitor:
    """Samples the model on a fixed tick; ``take(now_us)`` returns the readings due so far.

    Times are the device's clock (µs since boot). The scanner reports what the load does with
    ``set_streaming`` and ``note_capture``; readings reflect the state at each tick time.
    """

    def __init__(self, model: PowerModel | None = None, *, seed: int = 0, start_us: int = 0):
        self.model = model if model is not None else PowerModel()
        self._rng = np.random.default_rng(np.random.SeedSequence((seed, 0x90E4)))
        self._next_tick_us = start_us
        self._streaming: list[tuple[int, bool]] = [(start_us, False)]
        self._captures: deque[int] = deque()

    def restart(self, start_us: int) -> None:
        """Start sampling afresh at ``start_us`` (after a reboot or a gap): no backlog."""
        self._next_tick_us = start_us
        self._streaming = [(start_us, self._streaming[-1][1])]
        self._captures.clear()

    def set_streaming(self, streaming: bool, t_us: int) -> None:
        """The front end was switched on (START) or off (STOP, reboot) at ``t_us``."""
        self._streaming.append((t_us, streaming))

    def note_capture(self, t_us: int) -> None:
        """A capture started at ``t_us`` (draws the burst current for a short window)."""
        self._captures.append(t_us)

    def take(self, now_us: int) -> list[PowerSample]:
        """Readings for every tick before ``now_us`` not yet taken (oldest first; at most
        ``MAX_POWER_SAMPLES``: an older backlog is skipped, as a sensor FIFO would)."""
        m = self.model
        if now_us <= self._next_tick_us:
            return []
        n = (now_us - self._next_tick_us - 1) // m.sample_period_us + 1
        if n > MAX_POWER_SAMPLES:
            self._next_tick_us += (n - MAX_POWER_SAMPLES) * m.sample_period_us
            n = MAX_POWER_SAMPLES
        ticks = self._next_tick_us + m.sample_period_us * np.arange(n, dtype=np.int64)
        self._next_tick_us = int(ticks[-1]) + m.sample_period_us
        noise = self._rng.normal(0.0, m.noise_ua, n)
        out: list[PowerSample] = []
        for tick, jitter in zip(ticks.tolist(), noise.tolist(), strict=True):
            current = m.idle_ua + jitter
            if self._streaming_at(tick):
                current += m.streaming_ua
            if self._capturing_at(tick):
                current += m.capture_ua
            sag_mv = m.source_resistance_mohm * current / 1e6
            out.append(PowerSample(tick, round(m.supply_mv - sag_mv), round(current)))
        self._prune(self._next_tick_us)
        return out

    def _streaming_at(self, t_us: int) -> bool:
        state = self._streaming[0][1]
        for since_us, on in self._streaming:
            if since_us > t_us:
                break
            state = on
        return state

    def _capturing_at(self, t_us: int) -> bool:
        window = self.model.capture_window_us
        return any(c <= t_us < c + window for c in self._captures)

    def _prune(self, next_tick_us: int) -> None:
        window = self.model.capture_window_us
        while self._captures and self._captures[0] + window <= next_tick_us:
            self._captures.popleft()
        # keep the last transition at or before the next tick, and every later one
        keep = 0
        for i, (since_us, _) in enumerate(self._streaming):
            if since_us <= next_tick_us:
                keep = i
        del self._streaming[:keep]
