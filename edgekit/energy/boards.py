"""Which board is this: the device tree's model and compatible strings -> a board profile key.

"Measured on the target" means the board the figure came from is the ``[target] board`` of the
build, so the mapping from what the kernel reports to ``rpi4b``/``rpi5``/``zero2w``/``cm4`` lives
in one place. The compatible list (``raspberrypi,4-model-b`` then ``brcm,bcm2711``) is the firmer
source; the model string (``Raspberry Pi 4 Model B Rev 1.4``) is the fallback.
"""

from __future__ import annotations

__all__ = ["BOARD_SOCS", "board_from_compatible", "board_from_model_string", "soc_from_compatible"]

# compatible entries the Raspberry Pi device trees carry, most specific first
_COMPATIBLE = {
    "raspberrypi,5-model-b": "rpi5",
    "raspberrypi,5-compute-module": "cm5",
    "raspberrypi,4-compute-module": "cm4",
    "raspberrypi,4-model-b": "rpi4b",
    "raspberrypi,model-zero-2-w": "zero2w",
}
BOARD_SOCS = {"rpi5": "bcm2712", "cm5": "bcm2712", "rpi4b": "bcm2711", "cm4": "bcm2711",
              "zero2w": "bcm2837"}


def board_from_model_string(model: str) -> str | None:
    """Map ``/proc/device-tree/model`` text to a profile key, or None if unknown."""
    text = model.replace("\x00", "").strip()
    if "Compute Module 5" in text:
        return "cm5"
    if "Raspberry Pi 5" in text:
        return "rpi5"
    if "Compute Module 4" in text:
        return "cm4"
    if "Raspberry Pi 4" in text:
        return "rpi4b"
    if "Zero 2" in text:
        return "zero2w"
    return None


def _entries(compatible: str) -> list[str]:
    return [c.strip() for c in compatible.replace("\x00", "\n").splitlines() if c.strip()]


def board_from_compatible(compatible: str) -> str | None:
    """Map the NUL-separated ``/proc/device-tree/compatible`` list to a profile key."""
    for entry in _entries(compatible):
        if entry in _COMPATIBLE:
            return _COMPATIBLE[entry]
    return None


def soc_from_compatible(compatible: str) -> str | None:
    """The SoC named in the compatible list (``brcm,bcm2711`` -> ``bcm2711``), or None."""
    for entry in _entries(compatible):
        vendor, _, chip = entry.partition(",")
        if vendor == "brcm" and chip.startswith("bcm"):
            return chip
    return None
