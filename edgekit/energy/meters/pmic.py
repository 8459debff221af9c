"""Raspberry Pi 5 PMIC rails via ``vcgencmd pmic_read_adc``: ``pmic[:gain=..,offset_w=..]``.

Lines look like ``VDD_CORE_A current(7)=10.87674000A`` and ``VDD_CORE_V volt(15)=0.89745940V``.
Rails pair by name (strip ``_A``/``_V``), never by the ADC index; voltage-only rails (EXT5V, BATT)
are ignored. The sum of V x I misses the 5 V branch (USB, fan, regulator losses), so the figure
is corrected linearly: ``board_w = gain * rails_sum_w + offset_w``. The default coefficients
(gain 1.1451, offset 0.5879 W) are a published fit against an external USB-C meter, used e.g. by
pitop (https://pitop.hongjunwu.com/guide/power); calibrate your own board and pass them in.
With ``gain=1,offset_w=0`` the meter reports the raw SoC rails sum and says so.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from edgekit.energy.meters.base import Meter, MeterInfo, MeterRoots, PowerSample, parse_spec
from edgekit.errors import MeterError

__all__ = [
    "DEFAULT_GAIN",
    "DEFAULT_OFFSET_W",
    "KEYS",
    "PmicMeter",
    "PmicReading",
    "parse_pmic_output",
    "rails_power_w",
]

KEYS = frozenset({"gain", "offset_w"})
DEFAULT_GAIN = 1.1451
DEFAULT_OFFSET_W = 0.5879

_LINE = re.compile(
    r"^\s*(?P<rail>[A-Za-z0-9_]+?)_(?P<kind>[AV])\s+\w+\(\s*\d+\s*\)\s*=\s*"
    r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>[AV])?\s*$"
)

PmicReading = dict[str, dict[str, float]]


def parse_pmic_output(text: str) -> PmicReading:
    """``{rail: {"A": amps, "V": volts}}`` from ``pmic_read_adc`` output; junk lines are skipped."""
    rails: PmicReading = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        rails.setdefault(match["rail"].upper(), {})[match["kind"]] = float(match["value"])
    return rails


def rails_power_w(rails: PmicReading) -> float:
    """Sum of V x I over rails that have both a current and a voltage."""
    return sum(r["V"] * r["A"] for r in rails.values() if "A" in r and "V" in r)


def _paired(rails: PmicReading) -> list[str]:
    return sorted(name for name, r in rails.items() if "A" in r and "V" in r)


class PmicMeter:
    """Pi 5 PMIC ADC through vcgencmd (a subprocess per read: ~10-20 ms, so ~10 Hz)."""

    def __init__(self, spec: str, roots: MeterRoots) -> None:
        args = parse_spec(spec, KEYS)
        self.gain = args.get_float("gain", DEFAULT_GAIN)
        self.offset_w = args.get_float("offset_w", DEFAULT_OFFSET_W)
        self._vcgencmd = str(roots.vcgencmd)
        self._clock = roots.clock
        rails = self.read_rails()
        paired = _paired(rails)
        if not paired:
            raise MeterError(
                f"meter spec {spec!r}: '{self._vcgencmd} pmic_read_adc' printed no rail with "
                "both current and voltage (not a Raspberry Pi 5?)"
            )
        raw = self.gain == 1.0 and self.offset_w == 0.0
        measures = (
            "SoC PMIC rails sum (excludes the 5 V branch)"
            if raw
            else f"board input estimated from PMIC rails: {self.gain} x rails + {self.offset_w} W"
        )
        self._info = MeterInfo(
            name="pmic",
            spec=spec,
            kind="measured",
            sample_rate_hz=10.0,
            resolution_w=None,
            measures=measures,
            notes=f"{len(paired)} rails paired by name: {', '.join(paired)}",
        )

    @property
    def info(self) -> MeterInfo:
        return self._info

    def read_rails(self) -> PmicReading:
        """Run ``vcgencmd pmic_read_adc`` and parse it."""
        try:
            done = subprocess.run(
                [self._vcgencmd, "pmic_read_adc"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise MeterError(f"cannot run '{self._vcgencmd} pmic_read_adc': {e}") from e
        if done.returncode != 0:
            raise MeterError(
                f"'{self._vcgencmd} pmic_read_adc' exited {done.returncode}: "
                f"{done.stderr.strip()[:200]}"
            )
        return parse_pmic_output(done.stdout)

    def read(self) -> PowerSample:
        timestamp_s = self._clock.monotonic()
        rails = self.read_rails()
        power_w = (self.gain or 0.0) * rails_power_w(rails) + (self.offset_w or 0.0)
        ext5v = rails.get("EXT5V", {}).get("V")
        return PowerSample(timestamp_s, power_w, ext5v, power_w / ext5v if ext5v else None)

    def close(self) -> None:
        pass


def open_spec(spec: str, roots: MeterRoots) -> Meter:
    """Open the Pi 5 PMIC meter; ``roots.vcgencmd`` may point at any executable."""
    if isinstance(roots.vcgencmd, Path) and not roots.vcgencmd.exists():
        raise MeterError(f"meter spec {spec!r}: {roots.vcgencmd} does not exist")
    return PmicMeter(spec, roots)
