"""Named, parameterised, pure preprocessing steps and a ``Pipeline`` built from a spec.

A bundle stores its preprocessing as data (``[{"op": "rms_normalize", "eps": 1e-8}, ...]``),
not code, so the device runs exactly what the build measured and a changed step is visible in
the manifest. ``to_spec`` writes every parameter, defaults included, so a later change of a
default cannot silently change a shipped bundle.

Steps work on a batch: ``(N, 2, L)`` float captures (I, Q) in, a float32 array out. A single
capture must be given as ``x[None]``; there is no implicit batch dimension.

Every op here computes in float32 (the device's cost: half the memory traffic, no complex128
temporaries) and agrees with a float64 computation within 1e-5 relative; the one float64 value
is the running phase of ``mag_phase(phase="unwrap")``, a sum along the capture. ``features``
delegates to ``signals.features``, which keeps float64 for its higher-order cumulants.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.errors import ConfigError, DataError

__all__ = ["OPS", "Pipeline", "Step"]


@dataclass(frozen=True)
class _Param:
    kind: type  # int, float, bool or str
    default: Any
    check: Callable[[Any], bool] = lambda _v: True
    accepted: str = ""


@dataclass(frozen=True)
class _Op:
    func: Callable[..., np.ndarray]
    params: dict[str, _Param]
    doc: str


def _batch_iq(x: np.ndarray, op: str) -> np.ndarray:
    if x.ndim != 3 or x.shape[1] != 2:
        raise DataError(f"preprocess op {op!r} expects captures (N, 2, L), got shape {x.shape}")
    return x


def _identity(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32, copy=True)


def _scale(x: np.ndarray, factor: float) -> np.ndarray:
    return (x * np.float32(factor)).astype(np.float32, copy=False)


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _rms_normalize(x: np.ndarray, eps: float) -> np.ndarray:
    """Unit mean power per capture: mean over L of I^2 + Q^2 (any (N, C, ...) works)."""
    if x.ndim < 2:
        raise DataError(f"preprocess op 'rms_normalize' expects a batch (N, ...), got {x.shape}")
    x = _f32(x)
    axes = tuple(range(1, x.ndim))
    channels = x.shape[1] if x.ndim >= 3 else 1
    # float32 throughout: numpy's pairwise summation keeps the mean of a few thousand squares
    # within ~1e-7 relative of the float64 value, at half the memory traffic.
    power = np.mean(np.square(x), axis=axes, keepdims=True) * np.float32(channels)
    out: np.ndarray = x / np.sqrt(power + np.float32(eps))
    return out


def _phase_steps(i: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Wrapped phase step from sample n-1 to n, angle(z[n] * conj(z[n-1])), in float32.

    This equals diff(unwrap(angle(z))) (both are the step folded into (-pi, pi]) without
    forming the running phase, so no float32 error accumulates along the capture.
    """
    re = i[:, 1:] * i[:, :-1] + q[:, 1:] * q[:, :-1]
    im = q[:, 1:] * i[:, :-1] - i[:, 1:] * q[:, :-1]
    return np.arctan2(im, re)


def _mag_phase(x: np.ndarray, phase: str, keep_iq: bool) -> np.ndarray:
    """Channels (|z|, phase): phase wrapped, unwrapped along L, or differenced (inst. freq.).

    With ``keep_iq`` the I and Q channels come first: (I, Q, |z|, phase), so a model sees both
    the raw constellation and the carrier-offset-free phase steps.
    """
    iq = _f32(_batch_iq(x, "mag_phase"))
    i, q = iq[:, 0], iq[:, 1]
    mag = np.hypot(i, q)
    ang = np.arctan2(q, i)
    if phase != "wrap":
        steps = _phase_steps(i, q)
        # np.unwrap keeps a step of exactly +pi as +pi and maps -pi to +pi as well; arctan2
        # already returns (-pi, pi], the same convention.
        if phase == "diff":
            ang = np.concatenate([np.zeros_like(ang[:, :1]), steps], axis=1)
        else:
            # The running phase is the one sum whose float32 rounding grows with L (about
            # L * eps * |phase|), so only the accumulator is float64.
            run = np.cumsum(steps, axis=1, dtype=np.float64)
            ang = np.concatenate([ang[:, :1], (ang[:, :1] + run).astype(np.float32)], axis=1)
    out = np.stack([mag, ang], axis=1)
    if keep_iq:
        out = np.concatenate([iq, out], axis=1)
    return out


def _spectrum(x: np.ndarray, n_fft: int, eps: float) -> np.ndarray:
    """Log-power spectrum in dB, fftshifted, shape (N, 1, n_fft).

    If L >= n_fft the capture is cut into L // n_fft segments whose power spectra are averaged
    (lower variance); if L < n_fft it is zero-padded. The FFT runs in complex64 (numpy >= 2
    transforms single precision natively).
    """
    iq = _f32(_batch_iq(x, "spectrum"))
    n, _, length = iq.shape
    z = np.empty((n, length), dtype=np.complex64)
    z.real, z.imag = iq[:, 0], iq[:, 1]
    n_seg = max(1, length // n_fft)
    segs = z[:, : n_seg * n_fft].reshape(n, n_seg, -1) if length >= n_fft else z[:, None, :]
    spec = np.fft.fftshift(np.fft.fft(segs, n_fft, axis=2), axes=2)
    power = np.mean(spec.real**2 + spec.imag**2, axis=1) / np.float32(n_fft)
    out: np.ndarray = np.float32(10.0) * np.log10(power + np.float32(eps))
    return _f32(out[:, None, :])


def _powers_iq(x: np.ndarray, powers: str) -> np.ndarray:
    """I and Q of z**k / |z|**(k-1) for each k: the phase multiplied by k, the magnitude kept.

    Raising to the k-th power folds k-ary phase modulation onto one point (QPSK at k=4, 8PSK
    at k=8), the classical cue for the modulation order that a small CNN cannot compute from raw
    IQ by itself. Output (N, 2K, L): I_1, Q_1, I_2, Q_2, ...

    Computed in float32 on (cos, sin) pairs of the unit phasor: each power comes from earlier
    ones by one complex product (squaring where it can), so no complex128 array is formed.
    """
    ks = [int(k) for k in powers.split(",")]
    iq = _f32(_batch_iq(x, "powers_iq"))
    i, q = iq[:, 0], iq[:, 1]
    mag = np.sqrt(i * i + q * q)
    # 1/|z|, and 0 for a silent sample (its powers are 0, as z**k is)
    inv = np.divide(np.float32(1.0), mag, out=np.zeros_like(mag), where=mag > 0)
    unit: dict[int, tuple[np.ndarray, np.ndarray]] = {1: (i * inv, q * inv)}

    def power(k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in unit:
            ca, sa = power(k // 2)  # k = a + b with a = b (a squaring) when k is even
            cb, sb = power(k - k // 2)
            unit[k] = (ca * cb - sa * sb, ca * sb + sa * cb)
        return unit[k]

    out = np.empty((iq.shape[0], 2 * len(ks), iq.shape[2]), dtype=np.float32)
    for j, k in enumerate(ks):
        if k == 1:
            out[:, 2 * j : 2 * j + 2] = iq  # |z| * z / |z| is z itself, exactly
            continue
        ck, sk = power(k)
        np.multiply(mag, ck, out=out[:, 2 * j])
        np.multiply(mag, sk, out=out[:, 2 * j + 1])
    return out


def _features(x: np.ndarray) -> np.ndarray:
    # imported on first use: the feature extractor pulls in numba and scipy.stats (about 1 s),
    # which a pipeline without a "features" step (the daemon's, for a CNN) never needs
    from edgekit.signals.features import extract_features

    return extract_features(_batch_iq(x, "features"))


def _standardize(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return ((x - np.float32(mean)) / np.float32(std)).astype(np.float32, copy=False)


def _finite(v: Any) -> bool:
    return math.isfinite(v)


def _positive(v: Any) -> bool:
    return math.isfinite(v) and v > 0


OPS: dict[str, _Op] = {
    "identity": _Op(_identity, {}, "copy the input unchanged"),
    "scale": _Op(
        _scale,
        {"factor": _Param(float, 1.0, _finite, "a finite number")},
        "multiply by a constant",
    ),
    "rms_normalize": _Op(
        _rms_normalize,
        {"eps": _Param(float, 1e-8, _positive, "a number > 0")},
        "scale each capture to unit mean power",
    ),
    "mag_phase": _Op(
        _mag_phase,
        {
            "phase": _Param(
                str, "unwrap", lambda v: v in ("wrap", "unwrap", "diff"), "wrap, unwrap or diff"
            ),
            "keep_iq": _Param(bool, False, lambda v: isinstance(v, bool), "true or false"),
        },
        "magnitude and phase as two channels (four with keep_iq: I, Q, |z|, phase)",
    ),
    "spectrum": _Op(
        _spectrum,
        {
            "n_fft": _Param(int, 1024, lambda v: 8 <= v <= 65536, "an integer in 8..65536"),
            "eps": _Param(float, 1e-10, _positive, "a number > 0"),
        },
        "log-power spectrum in dB, (N, 1, n_fft)",
    ),
    "powers_iq": _Op(
        _powers_iq,
        {
            "powers": _Param(
                str, "1,2,4",
                lambda v: all(p.strip().isdigit() and 1 <= int(p) <= 16 for p in v.split(",")),
                "a comma list of integers 1..16",
            ),
        },
        "I and Q of z**k with the magnitude kept, one pair per k, (N, 2K, L)",
    ),
    "features": _Op(_features, {}, "hand-crafted features (N, F), see signals.features"),
    "standardize": _Op(
        _standardize,
        {
            "mean": _Param(float, 0.0, _finite, "a finite number"),
            "std": _Param(float, 1.0, _positive, "a number > 0"),
        },
        "(x - mean) / std",
    ),
}
"""The registry: op name -> implementation, parameters (type, default, check) and summary."""


@dataclass(frozen=True)
class Step:
    """One validated step: an op name and its full parameter set."""

    op: str
    params: tuple[tuple[str, Any], ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return OPS[self.op].func(x, **dict(self.params))


class Pipeline:
    """An ordered list of steps; calling it applies them in turn. Pure and deterministic."""

    def __init__(self, steps: Sequence[Step] = ()) -> None:
        self.steps: tuple[Step, ...] = tuple(steps)

    @classmethod
    def from_spec(cls, steps: list[dict[str, object]]) -> Pipeline:
        """Build from ``[{"op": name, **params}, ...]``; a bad step is a one-line ConfigError."""
        if not isinstance(steps, list):
            raise ConfigError(
                f"preprocess spec must be a list of steps, got {type(steps).__name__}"
            )
        return cls([_parse_step(i, raw) for i, raw in enumerate(steps)])

    def to_spec(self) -> list[dict[str, object]]:
        """The spec that rebuilds this pipeline, with every parameter written out."""
        return [{"op": s.op, **dict(s.params)} for s in self.steps]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(x, dtype=np.float32)
        for step in self.steps:
            out = step(out)
        return out

    def __repr__(self) -> str:
        return f"Pipeline({self.to_spec()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pipeline) and self.steps == other.steps

    def __hash__(self) -> int:
        return hash(self.steps)


def _parse_step(index: int, raw: object) -> Step:
    where = f"preprocess step {index}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f'{where}: must be a table like {{op = "rms_normalize"}}, got {raw!r}')
    name = raw.get("op")
    if not isinstance(name, str) or name not in OPS:
        raise ConfigError(f"{where}: unknown op {name!r}; accepted ops: {', '.join(OPS)}")
    op = OPS[name]
    where = f"preprocess step {index} ({name})"
    accepted = ", ".join(op.params) or "none"
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "op":
            continue
        if key not in op.params:
            raise ConfigError(f"{where}: unknown param {key!r}; accepted params: {accepted}")
        params[key] = _coerce(where, key, value, op.params[key])
    full = {k: params.get(k, p.default) for k, p in op.params.items()}
    return Step(op=name, params=tuple(full.items()))


def _coerce(where: str, key: str, value: object, param: _Param) -> Any:
    bad = ConfigError(f"{where}: param {key}={value!r} is invalid; expected {param.accepted}")
    if isinstance(value, bool) and param.kind is not bool:
        raise bad
    if param.kind is float and isinstance(value, int | float):
        value = float(value)
    elif param.kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, param.kind):
        raise bad
    if not param.check(value):
        raise bad
    return value
