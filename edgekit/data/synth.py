"""Synthetic radio captures: ten modulation classes plus two out-of-distribution families
(OFDM and frequency hopping).

Every capture is ``N_SAMPLES`` complex baseband samples stored as ``(2, L)`` float32 (I, Q).
The signal is normalised to unit average power over the capture *before* noise, so the
requested SNR (signal power / noise power over the capture) holds by construction. Generation
is vectorised per class and done in fixed-size chunks, so memory stays bounded and the output
for a seed does not depend on how the caller consumes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgekit.data.dataset import Dataset
from edgekit.data.limits import check_allocation

__all__ = [
    "ALL_CLASSES",
    "BYTES_PER_CAPTURE",
    "CLASSES",
    "IQ_FULL_SCALE",
    "N_SAMPLES",
    "OOD_CLASSES",
    "SAMPLE_RATE_HZ",
    "SynthParts",
    "from_int16_iq",
    "generate",
    "generate_parts",
    "to_int16_iq",
]

CLASSES: tuple[str, ...] = (
    "noise", "tone", "am", "fm", "bpsk", "qpsk", "8psk", "16qam", "gfsk", "chirp",
)  # fmt: skip
"""In-distribution classes: the model's ten labels, in this order."""
OOD_CLASSES: tuple[str, ...] = ("ofdm", "fhss")
"""Classes kept out of training, to test that a model can say "unknown": two families, so a
score chosen on one can be measured on the other. New classes are only ever appended: a class's
samples for a seed depend on the classes before it in ``ALL_CLASSES`` and never on later ones."""
ALL_CLASSES: tuple[str, ...] = CLASSES + OOD_CLASSES
"""Every label a synthetic dataset may carry; ``Dataset.labels`` is always this tuple."""

N_SAMPLES = 1024
"""Complex samples per capture."""
SAMPLE_RATE_HZ = 1_000_000.0
"""Nominal sample rate; only used to express frequency offsets in Hz."""
IQ_FULL_SCALE = 16.0
"""Float amplitude that maps to int16 full scale (32767) in ``to_int16_iq``.

Signals have unit power before noise; at -10 dB SNR each of I and Q has an RMS of about 2.3,
so 16.0 leaves ~7 sigma of headroom while the quantisation step (~5e-4) stays ~66 dB below the
signal."""

BYTES_PER_CAPTURE = 2 * N_SAMPLES * 4 + 128
"""Memory one generated capture holds: float32 I and Q, plus label, metadata and per-capture
draws (a generous 128 bytes). Chunk temporaries are bounded by ``_CHUNK`` and not counted."""
_PARTS_BYTES_PER_CAPTURE = 2 * N_SAMPLES * 16  # complex128 signal and noise kept apart

_CHUNK = 4096  # captures per generation chunk: bounds memory (complex128 temporaries)
_PAD = 8  # extra leading samples generated so the multipath FIR has history
_N_TAPS = 4  # multipath channel length, in samples
_PSK_SPS = (2, 4, 8)  # samples per symbol for the linear modulations
_GFSK_SPS = (4, 8)
_RRC_SPAN_SYM = 8  # root-raised-cosine length in symbols
_INT16_MAX = 32767

_LINEAR = {
    "bpsk": np.array([1.0, -1.0], dtype=np.complex128),
    "qpsk": np.exp(1j * (np.pi / 4 + np.pi / 2 * np.arange(4))),
    "8psk": np.exp(1j * (np.pi / 4 * np.arange(8))),
    "16qam": ((np.arange(4)[:, None] * 2 - 3) + 1j * (np.arange(4)[None, :] * 2 - 3)).ravel()
    / np.sqrt(10.0),
}


@dataclass(frozen=True, eq=False)
class SynthParts:
    """A generated dataset plus its clean signal and noise, kept apart (for SNR checks).

    ``signal`` and ``noise`` are complex128 ``(N, L)``; ``dataset.x`` is their sum (plus any
    front-end ``drift`` impairments) as float32. For the ``noise`` class the signal is zero.
    """

    dataset: Dataset
    signal: np.ndarray
    noise: np.ndarray


def generate(
    n: int,
    *,
    seed: int,
    classes: Sequence[str] | None = None,
    snr_range_db: tuple[float, float] = (-10.0, 20.0),
    cfo_max_hz: float = 10_000.0,
    multipath_prob: float = 0.3,
    drift: float = 0.0,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> Dataset:
    """Generate ``n`` labelled captures, deterministic for ``seed``.

    ``limit``: only the first ``limit`` captures of the ``n``-capture recipe, identical to
    ``generate(n, ...)[:limit]`` at a fraction of the cost (the privacy audit samples a few rows
    of a large training recipe).

    ``classes`` defaults to ``CLASSES`` (in-distribution only); ``"ofdm"`` and ``"fhss"`` may
    be asked for.
    Classes are balanced (round-robin, then shuffled). Per capture: SNR uniform in
    ``snr_range_db``, carrier offset uniform in ``±cfo_max_hz``, uniform random phase and, with
    probability ``multipath_prob``, a random 4-tap fading channel. ``drift`` in [0, 1] degrades
    the simulated front end (IQ imbalance, DC offset, frequency drift) to emulate a scanner that
    has drifted from the one the training data came from; 0 means none. For the ``noise`` class
    ``meta["snr_db"]`` keeps the drawn value, though it has no meaning (there is no signal).
    ``progress`` is called with the number of captures done after each chunk.
    """
    return _generate(
        n,
        seed=seed,
        classes=classes,
        snr_range_db=snr_range_db,
        cfo_max_hz=cfo_max_hz,
        multipath_prob=multipath_prob,
        drift=drift,
        progress=progress,
        keep_parts=False,
        limit=limit,
    ).dataset


def generate_parts(
    n: int,
    *,
    seed: int,
    classes: Sequence[str] | None = None,
    snr_range_db: tuple[float, float] = (-10.0, 20.0),
    cfo_max_hz: float = 10_000.0,
    multipath_prob: float = 0.3,
    drift: float = 0.0,
) -> SynthParts:
    """Like ``generate`` (same seed, same dataset) but also return clean signal and noise."""
    return _generate(
        n,
        seed=seed,
        classes=classes,
        snr_range_db=snr_range_db,
        cfo_max_hz=cfo_max_hz,
        multipath_prob=multipath_prob,
        drift=drift,
        progress=None,
        keep_parts=True,
    )


def to_int16_iq(x: np.ndarray) -> np.ndarray:
    """Convert float captures ``(N, 2, L)`` to interleaved int16 ``(N, L, 2)`` (I, Q).

    ``±IQ_FULL_SCALE`` maps to ``±32767``; larger values clip. This is the scanner's wire
    format for CAPTURE payloads (little-endian when serialised with ``.tobytes()``).
    """
    arr = np.asarray(x)
    if arr.ndim != 3 or arr.shape[1] != 2:
        raise ValueError(f"to_int16_iq expects (N, 2, L) captures, got shape {arr.shape}")
    scaled = np.rint(arr.astype(np.float64) * (_INT16_MAX / IQ_FULL_SCALE))
    clipped = np.clip(scaled, -_INT16_MAX, _INT16_MAX).astype(np.int16)
    return np.ascontiguousarray(clipped.transpose(0, 2, 1))


def from_int16_iq(raw: np.ndarray, n_samples: int) -> np.ndarray:
    """Inverse of ``to_int16_iq``: interleaved int16 I, Q -> float32 ``(N, 2, n_samples)``.

    ``raw`` may be ``(N, L, 2)`` or flat (as decoded from a byte stream); its size must be a
    multiple of ``2 * n_samples``.
    """
    arr = np.asarray(raw)
    if arr.dtype != np.int16:
        raise ValueError(f"from_int16_iq expects int16 samples, got {arr.dtype}")
    if n_samples <= 0 or arr.size % (2 * n_samples) != 0:
        raise ValueError(
            f"from_int16_iq: {arr.size} values is not a whole number of captures of "
            f"{n_samples} IQ samples"
        )
    iq = arr.reshape(-1, n_samples, 2).astype(np.float32) * np.float32(IQ_FULL_SCALE / _INT16_MAX)
    return np.ascontiguousarray(iq.transpose(0, 2, 1))


# --------------------------------------------------------------------------------------------
# Orchestration


def _validate(
    n: int,
    classes: Sequence[str] | None,
    snr_range_db: tuple[float, float],
    cfo_max_hz: float,
    multipath_prob: float,
    drift: float,
) -> tuple[str, ...]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    chosen = CLASSES if classes is None else tuple(classes)
    if not chosen:
        raise ValueError("classes must name at least one class")
    unknown = [c for c in chosen if c not in ALL_CLASSES]
    if unknown:
        raise ValueError(
            f"unknown class(es) {', '.join(unknown)}; accepted: {', '.join(ALL_CLASSES)}"
        )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"classes must not repeat, got {', '.join(chosen)}")
    lo, hi = snr_range_db
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"snr_range_db must be finite with low <= high, got {snr_range_db}")
    if not (np.isfinite(cfo_max_hz) and 0 <= cfo_max_hz < SAMPLE_RATE_HZ / 2):
        raise ValueError(f"cfo_max_hz must be in [0, {SAMPLE_RATE_HZ / 2:g}), got {cfo_max_hz}")
    if not 0.0 <= multipath_prob <= 1.0:
        raise ValueError(f"multipath_prob must be in [0, 1], got {multipath_prob}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be in [0, 1], got {drift}")
    return chosen


def _generate(
    n: int,
    *,
    seed: int,
    classes: Sequence[str] | None,
    snr_range_db: tuple[float, float],
    cfo_max_hz: float,
    multipath_prob: float,
    drift: float,
    progress: Callable[[int], None] | None,
    keep_parts: bool,
    limit: int | None = None,
) -> SynthParts:
    chosen = _validate(n, classes, snr_range_db, cfo_max_hz, multipath_prob, drift)
    n = int(n)
    # the first ``limit`` rows: every per-capture draw still covers all n (the main stream),
    # waveforms only for the whole chunks those rows fall in (a chunk's stream is drawn for all
    # its rows), cut to ``limit`` at the end
    n_recipe = n
    if limit is not None:
        n = min(n_recipe, -(-max(int(limit), 0) // _CHUNK) * _CHUNK)
    per_capture = BYTES_PER_CAPTURE + (_PARTS_BYTES_PER_CAPTURE if keep_parts else 0)
    check_allocation(n * per_capture, f"{n} synthetic captures")
    seq = np.random.SeedSequence(seed)
    rng = np.random.default_rng(seq)

    # Per-capture draws come from the main stream up front, so metadata does not depend on
    # chunking; waveforms come from one child stream per fixed-size chunk.
    class_ids = np.array([ALL_CLASSES.index(c) for c in chosen], dtype=np.int64)
    y = rng.permutation(class_ids[np.arange(n_recipe) % len(class_ids)])[:n]
    snr_db = rng.uniform(snr_range_db[0], snr_range_db[1], size=n_recipe)[:n]
    cfo_hz = rng.uniform(-cfo_max_hz, cfo_max_hz, size=n_recipe)[:n]
    is_noise = y == ALL_CLASSES.index("noise")
    cfo_hz[is_noise] = 0.0
    multipath = (rng.random(n_recipe) < multipath_prob)[:n] & ~is_noise

    L = N_SAMPLES
    x = np.empty((n, 2, L), dtype=np.float32)
    sps = np.zeros(n, dtype=np.int16)
    signal = np.empty((n, L), dtype=np.complex128) if keep_parts else None
    noise = np.empty((n, L), dtype=np.complex128) if keep_parts else None

    n_chunks = -(-n // _CHUNK)
    for k, child in enumerate(seq.spawn(-(-n_recipe // _CHUNK))[:n_chunks]):
        sl = slice(k * _CHUNK, min(n, (k + 1) * _CHUNK))
        crng = np.random.default_rng(child)
        sig, sps[sl] = _clean_chunk(y[sl], crng)
        sig = _impair(sig, cfo_hz[sl], multipath[sl], crng)
        sig = sig[:, _PAD:]
        power = np.mean(np.abs(sig) ** 2, axis=1, keepdims=True)
        sig = sig / np.sqrt(np.where(power > 0, power, 1.0))

        m = sig.shape[0]
        noise_power = np.where(is_noise[sl], 1.0, 10.0 ** (-snr_db[sl] / 10.0))
        # float32 normals: half the cost, and x is float32 anyway
        nz = crng.standard_normal((m, 2, L), dtype=np.float32)
        nz *= np.sqrt(noise_power / 2.0).astype(np.float32)[:, None, None]
        if drift > 0:
            total = _front_end_drift(sig + (nz[:, 0] + 1j * nz[:, 1]), drift, cfo_max_hz, crng)
            x[sl, 0, :] = total.real
            x[sl, 1, :] = total.imag
        else:
            x[sl, 0, :] = sig.real + nz[:, 0]
            x[sl, 1, :] = sig.imag + nz[:, 1]
        if signal is not None and noise is not None:
            signal[sl] = sig
            noise[sl] = nz[:, 0] + 1j * nz[:, 1]
        if progress is not None:
            progress(sl.stop)

    meta = {
        "snr_db": snr_db.astype(np.float32),
        "class": np.array([ALL_CLASSES[i] for i in y], dtype="<U8"),
        "cfo_hz": cfo_hz.astype(np.float32),
        "multipath": multipath,
        "sps": sps,
    }
    ds = Dataset(x=x, y=y, labels=ALL_CLASSES, meta=meta)
    if limit is not None and limit < n:
        ds = ds.subset(np.arange(max(int(limit), 0)))
        signal = signal[:limit] if signal is not None else None
        noise = noise[:limit] if noise is not None else None
    empty = np.empty((0, L), dtype=np.complex128)
    return SynthParts(
        dataset=ds,
        signal=signal if signal is not None else empty,
        noise=noise if noise is not None else empty,
    )


def _clean_chunk(y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clean complex baseband (m, _PAD + L) for a chunk, grouped by class; also sps per row."""
    m = y.shape[0]
    length = N_SAMPLES + _PAD
    out = np.zeros((m, length), dtype=np.complex128)
    sps = np.zeros(m, dtype=np.int16)
    for cid, name in enumerate(ALL_CLASSES):  # fixed order keeps the stream deterministic
        idx = np.flatnonzero(y == cid)
        if idx.size == 0:
            continue
        sig, s = _GENERATORS[name](idx.size, length, rng)
        out[idx] = sig
        sps[idx] = s
    return out, sps


def _impair(
    sig: np.ndarray,
    cfo_hz: np.ndarray,
    multipath: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Multipath FIR (where flagged), random phase and carrier offset."""
    m, length = sig.shape
    idx = np.flatnonzero(multipath)
    if idx.size:
        decay = rng.uniform(0.5, 2.0, size=(idx.size, 1))
        pdp = np.exp(-np.arange(_N_TAPS)[None, :] / decay)
        h = (
            rng.standard_normal((idx.size, _N_TAPS)) + 1j * rng.standard_normal((idx.size, _N_TAPS))
        ) * np.sqrt(pdp / 2.0)
        h /= np.sqrt(np.sum(np.abs(h) ** 2, axis=1, keepdims=True))
        src = sig[idx]
        faded = h[:, :1] * src
        for k in range(1, _N_TAPS):  # loop over taps, not captures
            faded[:, k:] += h[:, k : k + 1] * src[:, :-k]
        sig = sig.copy()
        sig[idx] = faded
    phase0 = np.asarray(rng.uniform(0.0, 2 * np.pi, size=m))
    return sig * _phasor(phase0, 2 * np.pi * cfo_hz / SAMPLE_RATE_HZ, length, -_PAD)


def _phasor(phase0: np.ndarray, omega: np.ndarray, length: int, t0: int) -> np.ndarray:
    """``exp(j(phase0 + omega t))`` for t = t0 .. t0+length-1, one row per capture.

    Factored as a coarse times a fine rotation (t = 32a + b) so only ~2*sqrt(length) complex
    exponentials are evaluated per row instead of ``length``: the full product is ~10x faster.
    """
    step = 32
    n_coarse = -(-length // step)
    a = np.arange(n_coarse) * step + t0
    b = np.arange(step)
    coarse = np.exp(1j * (phase0[:, None] + omega[:, None] * a[None, :]))
    fine = np.exp(1j * omega[:, None] * b[None, :])
    full = (coarse[:, :, None] * fine[:, None, :]).reshape(phase0.shape[0], -1)
    return full[:, :length]


def _front_end_drift(
    x: np.ndarray, drift: float, cfo_max_hz: float, rng: np.random.Generator
) -> np.ndarray:
    """Receiver degradation scaled by ``drift``: IQ imbalance, DC offset, frequency drift."""
    m, length = x.shape
    gain_db = rng.uniform(0.0, 3.0 * drift, size=(m, 1))
    skew = np.deg2rad(rng.uniform(-20.0, 20.0, size=(m, 1)) * drift)
    rms = np.sqrt(np.mean(np.abs(x) ** 2, axis=1, keepdims=True))
    dc = 0.3 * drift * rms * np.exp(1j * rng.uniform(0, 2 * np.pi, size=(m, 1)))
    # frequency walks linearly by up to cfo_max_hz * drift over the capture
    rate = rng.uniform(-1.0, 1.0, size=(m, 1)) * max(cfo_max_hz, 1_000.0) * drift
    t = np.arange(length)[None, :]
    x = x * np.exp(1j * np.pi * rate / SAMPLE_RATE_HZ * t**2 / length)
    i = x.real * 10.0 ** (gain_db / 20.0)
    q = x.imag * np.cos(skew) + x.real * np.sin(skew)
    return i + 1j * q + dc


# --------------------------------------------------------------------------------------------
# Class generators: each returns (m, length) complex128 with roughly unit power, and sps.

_Gen = Callable[[int, int, np.random.Generator], tuple[np.ndarray, np.ndarray | int]]


def _noise(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    return np.zeros((m, length), dtype=np.complex128), 0


def _tone(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    f = rng.uniform(-0.05, 0.05, size=(m, 1))
    return np.exp(2j * np.pi * f * np.arange(length)[None, :]), 0


def _message(m: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth real message in [-1, 1]: a sum of three low-frequency sinusoids."""
    f = rng.uniform(0.002, 0.03, size=(m, 3, 1))
    ph = rng.uniform(0, 2 * np.pi, size=(m, 3, 1))
    amp = rng.uniform(0.3, 1.0, size=(m, 3, 1))
    msg = np.sum(amp * np.sin(2 * np.pi * f * np.arange(length) + ph), axis=1)
    result: np.ndarray = msg / np.max(np.abs(msg), axis=1, keepdims=True)
    return result


def _am(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    depth = rng.uniform(0.3, 0.9, size=(m, 1))
    return (1.0 + depth * _message(m, length, rng)).astype(np.complex128), 0


def _fm(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    dev = rng.uniform(0.01, 0.08, size=(m, 1))  # peak deviation, cycles/sample
    phase = 2 * np.pi * np.cumsum(dev * _message(m, length, rng), axis=1)
    return np.exp(1j * phase), 0


def _rrc_taps(rolloff: np.ndarray, sps: int) -> np.ndarray:
    """Unit-energy root-raised-cosine taps, one row per rolloff value."""
    t = (np.arange(_RRC_SPAN_SYM * sps + 1) - _RRC_SPAN_SYM * sps / 2)[None, :] / sps
    b = rolloff[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        num = np.sin(np.pi * t * (1 - b)) + 4 * b * t * np.cos(np.pi * t * (1 + b))
        den = np.pi * t * (1 - (4 * b * t) ** 2)
        h = num / den
    h = np.where(np.abs(t) < 1e-9, 1 - b + 4 * b / np.pi, h)
    edge = np.abs(np.abs(4 * b * t) - 1) < 1e-9
    h_edge = (b / np.sqrt(2)) * (
        (1 + 2 / np.pi) * np.sin(np.pi / (4 * b)) + (1 - 2 / np.pi) * np.cos(np.pi / (4 * b))
    )
    h = np.where(edge, np.broadcast_to(h_edge, h.shape), h)
    result: np.ndarray = h / np.sqrt(np.sum(h**2, axis=1, keepdims=True))
    return result


def _shape(
    symbols: np.ndarray, taps: np.ndarray, sps: int, length: int, rng: np.random.Generator
) -> np.ndarray:
    """Upsample symbols by ``sps``, filter row-wise by ``taps`` (FFT), cut ``length`` samples."""
    m, n_sym = symbols.shape
    up = np.zeros((m, n_sym * sps), dtype=np.complex128)
    up[:, ::sps] = symbols
    n_fft = 1 << int(np.ceil(np.log2(up.shape[1] + taps.shape[1] - 1)))
    filtered = np.fft.ifft(np.fft.fft(up, n_fft) * np.fft.fft(taps, n_fft), axis=1)
    # skip the filter transient, then a random whole-sample timing offset
    start = taps.shape[1] + rng.integers(0, sps, size=(m, 1))
    result: np.ndarray = np.take_along_axis(filtered, start + np.arange(length)[None, :], axis=1)
    return result


def _linear_mod(name: str) -> _Gen:
    constellation = _LINEAR[name]

    def gen(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        out = np.empty((m, length), dtype=np.complex128)
        choice = rng.integers(0, len(_PSK_SPS), size=m)
        sps_row = np.zeros(m, dtype=np.int16)
        for j, sps in enumerate(_PSK_SPS):  # a loop over the sps set, not over captures
            idx = np.flatnonzero(choice == j)
            if idx.size == 0:
                continue
            n_sym = (length + 2 * _RRC_SPAN_SYM * sps + 2 * sps) // sps + 1
            symbols = constellation[rng.integers(0, len(constellation), (idx.size, n_sym))]
            taps = _rrc_taps(rng.uniform(0.2, 0.5, size=idx.size), sps)
            out[idx] = _shape(symbols, taps, sps, length, rng)
            sps_row[idx] = sps
        return out, sps_row

    return gen


def _gfsk(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty((m, length), dtype=np.complex128)
    choice = rng.integers(0, len(_GFSK_SPS), size=m)
    sps_row = np.zeros(m, dtype=np.int16)
    for j, sps in enumerate(_GFSK_SPS):
        idx = np.flatnonzero(choice == j)
        if idx.size == 0:
            continue
        k = idx.size
        bt = rng.choice(np.array([0.3, 0.5]), size=(k, 1))
        h = rng.uniform(0.3, 1.0, size=(k, 1))  # modulation index
        t = (np.arange(4 * sps + 1) - 2 * sps)[None, :] / sps
        sigma = np.sqrt(np.log(2.0)) / (2 * np.pi * bt)
        g = np.exp(-(t**2) / (2 * sigma**2))
        g /= np.sum(g, axis=1, keepdims=True)
        n_sym = (length + 8 * sps) // sps + 2
        nrz = np.repeat(rng.choice(np.array([-1.0, 1.0]), size=(k, n_sym)), sps, axis=1)
        freq = _shape_real(nrz, g)
        start = g.shape[1] + rng.integers(0, sps, size=(k, 1))
        freq = np.take_along_axis(freq, start + np.arange(length)[None, :], axis=1)
        out[idx] = np.exp(1j * np.pi * h * np.cumsum(freq, axis=1) / sps)
        sps_row[idx] = sps
    return out, sps_row


def _shape_real(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    n_fft = 1 << int(np.ceil(np.log2(x.shape[1] + taps.shape[1] - 1)))
    result: np.ndarray = np.fft.irfft(
        np.fft.rfft(x, n_fft) * np.fft.rfft(taps, n_fft), n_fft, axis=1
    )
    return result


def _chirp(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    bw = rng.uniform(0.05, 0.4, size=(m, 1))  # cycles/sample swept over the capture
    direction = rng.choice(np.array([-1.0, 1.0]), size=(m, 1))
    f0 = -direction * bw / 2 + rng.uniform(-0.05, 0.05, size=(m, 1))
    t = np.arange(length)[None, :]
    phase = 2 * np.pi * (f0 * t + 0.5 * direction * bw / length * t**2)
    return np.exp(1j * phase), 0


def _ofdm(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """64-subcarrier QPSK OFDM with a 16-sample cyclic prefix (802.11a-like, 52 used)."""
    n_fft, n_cp = 64, 16
    used = np.r_[1:27, 38:64]  # skip DC and the band edges
    n_sym = -(-(length + n_fft + n_cp) // (n_fft + n_cp))
    grid = np.zeros((m, n_sym, n_fft), dtype=np.complex128)
    grid[:, :, used] = _LINEAR["qpsk"][rng.integers(0, 4, size=(m, n_sym, used.size))]
    body = np.fft.ifft(grid, axis=2) * np.sqrt(n_fft)
    frames = np.concatenate([body[:, :, -n_cp:], body], axis=2).reshape(m, -1)
    start = rng.integers(0, n_fft + n_cp, size=(m, 1))
    return np.take_along_axis(frames, start + np.arange(length)[None, :], axis=1), 0


def _fhss(m: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Frequency hopping: binary FSK data (8 samples per bit) on a carrier that hops among 16
    channels across +-0.375 cycles/sample, dwelling 64, 128 or 256 samples per hop."""
    n_ch, sps = 16, 8
    channels = (np.arange(n_ch) - (n_ch - 1) / 2) / n_ch * 0.8
    dwell = rng.choice(np.array([64, 128, 256]), size=(m, 1))
    t = np.arange(length)[None, :]
    hop = (t + rng.integers(0, 256, size=(m, 1))) // dwell  # a random hop boundary phase
    seq = rng.integers(0, n_ch, size=(m, (length + 256) // 64 + 1))
    carrier = channels[np.take_along_axis(seq, hop, axis=1)]
    bits = rng.choice(np.array([-1.0, 1.0]), size=(m, length // sps + 1))
    data = np.repeat(bits, sps, axis=1)[:, :length]
    dev = rng.uniform(0.005, 0.02, size=(m, 1))  # FSK deviation, cycles/sample
    return np.exp(2j * np.pi * np.cumsum(carrier + dev * data, axis=1)), sps


_GENERATORS: dict[str, _Gen] = {
    "noise": _noise,
    "tone": _tone,
    "am": _am,
    "fm": _fm,
    "bpsk": _linear_mod("bpsk"),
    "qpsk": _linear_mod("qpsk"),
    "8psk": _linear_mod("8psk"),
    "16qam": _linear_mod("16qam"),
    "gfsk": _gfsk,
    "chirp": _chirp,
    "ofdm": _ofdm,
    "fhss": _fhss,  # appended after ofdm: earlier classes draw from the stream first
}
