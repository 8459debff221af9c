"""The second held-out family (frequency hopping): adding it left every existing class's
samples unchanged for the same seed, and it hops as described."""

from __future__ import annotations

import hashlib

import numpy as np

from edgekit.data.synth import ALL_CLASSES, CLASSES, generate, generate_parts

# SHA-256 of x, y and the metadata columns, computed with the generator as it was before the
# fhss class existed (commit 014b286); recipes without fhss must still give these bytes.
_GOLDEN = {
    "default": "30ff7c89e213133d24b666aa59bddbcd7c4145a008d95a5b79b5181d7f191cc5",
    "ofdm": "a4e46c17165a3943ad4e7daf026fa4b46880fef3583e98c0f9b34a40207d7d9e",
    "drift": "1eadc56953d6d2f410cd604323653af58f937738ce9999bd9a985e0f8ce957b4",
}


def _digest(ds: object) -> str:
    d = hashlib.sha256()
    d.update(ds.x.tobytes())  # type: ignore[attr-defined]
    d.update(ds.y.tobytes())  # type: ignore[attr-defined]
    meta = ds.meta  # type: ignore[attr-defined]
    for k in sorted(meta):
        d.update(k.encode())
        d.update(meta[k].tobytes())
    return d.hexdigest()


def test_existing_recipes_are_byte_identical():
    assert _digest(generate(300, seed=7)) == _GOLDEN["default"]
    assert _digest(generate(240, seed=202, classes=[*CLASSES, "ofdm"])) == _GOLDEN["ofdm"]
    assert _digest(generate(100, seed=5, drift=0.5)) == _GOLDEN["drift"]


def test_fhss_is_asked_for_and_labelled():
    ds = generate(48, seed=3, classes=ALL_CLASSES)
    fh = ds.y == ALL_CLASSES.index("fhss")
    assert fh.sum() == 4 and set(ds.meta["class"][fh]) == {"fhss"}
    assert (ds.meta["sps"][fh] == 8).all()


def test_fhss_hops_across_the_band():
    # Clean signal, no carrier offset: the instantaneous frequency sits on one of 16 channels
    # (+- the FSK deviation) and changes channel at least twice per capture.
    parts = generate_parts(8, seed=9, classes=("fhss",), cfo_max_hz=0.0, multipath_prob=0.0)
    channels = (np.arange(16) - 7.5) / 16 * 0.8
    for sig in parts.signal:
        f = np.angle(sig[1:] * np.conj(sig[:-1])) / (2 * np.pi)
        nearest = np.abs(f[:, None] - channels[None, :]).min(axis=1)
        assert nearest.max() <= 0.02 + 1e-9
        ch = np.abs(f[:, None] - channels[None, :]).argmin(axis=1)
        assert len(np.unique(ch)) >= 2
        assert np.isclose(np.mean(np.abs(sig) ** 2), 1.0)
