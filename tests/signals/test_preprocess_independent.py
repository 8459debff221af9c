"""Every preprocessing op against arithmetic written out in the test (issue 17).

These are the steps the device runs, so each expected value is computed here in float64 from
its definition: explicit sums for powers, a DFT matrix instead of ``np.fft``, a loop for the
running phase, complex powers for ``powers_iq``. Nothing here calls the op under test to get
the expected answer. Parameter checks are pinned at their boundaries with their messages.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

from edgekit.errors import ConfigError, DataError
from edgekit.signals.preprocess import OPS, Pipeline


def _caps(n: int = 3, length: int = 16, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.5, (n, 2, length)).astype(np.float32)


def _run(op: str, x: np.ndarray, **params: object) -> np.ndarray:
    out = Pipeline.from_spec([{"op": op, **params}])(x)
    assert out.dtype == np.float32
    return out


def _z(x: np.ndarray) -> np.ndarray:
    return x[:, 0].astype(np.float64) + 1j * x[:, 1].astype(np.float64)


def test_identity_is_a_copy() -> None:
    x = _caps()
    out = _run("identity", x)
    assert np.array_equal(out, x) and out is not x
    out[0, 0, 0] = 99.0
    assert x[0, 0, 0] != 99.0


def test_scale_multiplies() -> None:
    x = _caps()
    expected = x.astype(np.float64) * 2.5
    np.testing.assert_allclose(_run("scale", x, factor=2.5), expected, rtol=1e-6)
    np.testing.assert_allclose(_run("scale", x, factor=-0.5), x.astype(np.float64) * -0.5, rtol=1e-6)


def test_rms_normalize_divides_by_the_root_mean_power_of_each_capture() -> None:
    x = _caps(n=2, length=8)
    expected = np.empty((2, 2, 8))
    for k in range(2):
        power = sum(float(x[k, 0, t]) ** 2 + float(x[k, 1, t]) ** 2 for t in range(8)) / 8
        expected[k] = x[k] / math.sqrt(power + 1e-8)
    np.testing.assert_allclose(_run("rms_normalize", x), expected, rtol=1e-5)
    # eps is added to the power: a large eps shows where
    for k in range(2):
        power = sum(float(v) ** 2 for v in x[k].ravel()) / 8
        expected[k] = x[k] / math.sqrt(power + 4.0)
    np.testing.assert_allclose(_run("rms_normalize", x, eps=4.0), expected, rtol=1e-5)


def test_rms_normalize_of_features_uses_their_mean_square() -> None:
    f = np.array([[3.0, 4.0], [1.0, 1.0]], dtype=np.float32)  # (N, F): one channel
    out = _run("rms_normalize", f, eps=1e-12)
    np.testing.assert_allclose(out[0], np.array([3.0, 4.0]) / math.sqrt(12.5), rtol=1e-6)
    np.testing.assert_allclose(out[1], [1.0, 1.0], rtol=1e-6)


def test_rms_normalize_of_silence_is_zero_and_one_dimension_is_refused() -> None:
    assert np.array_equal(_run("rms_normalize", np.zeros((1, 2, 4), np.float32)), np.zeros((1, 2, 4)))
    with pytest.raises(DataError) as e:
        _run("rms_normalize", np.ones(4, np.float32))
    assert str(e.value) == "preprocess op 'rms_normalize' expects a batch (N, ...), got (4,)"


def _wrapped(a: float) -> float:
    """Fold an angle into (-pi, pi]."""
    a = math.remainder(a, 2 * math.pi)
    return math.pi if a == -math.pi else a


def _mag_phase_expected(x: np.ndarray, phase: str) -> np.ndarray:
    n, _, length = x.shape
    out = np.empty((n, 2, length))
    for k in range(n):
        zs = [complex(float(x[k, 0, t]), float(x[k, 1, t])) for t in range(length)]
        out[k, 0] = [abs(z) for z in zs]
        angles = [cmath.phase(z) for z in zs]
        steps = [_wrapped(angles[t] - angles[t - 1]) for t in range(1, length)]
        if phase == "wrap":
            out[k, 1] = angles
        elif phase == "diff":
            out[k, 1] = [0.0, *steps]
        else:
            run = [angles[0]]
            for s in steps:
                run.append(run[-1] + s)
            out[k, 1] = run
    return out


@pytest.mark.parametrize("phase", ["wrap", "unwrap", "diff"])
def test_mag_phase_channels_in_every_mode(phase: str) -> None:
    x = _caps(n=2, length=32)
    np.testing.assert_allclose(_run("mag_phase", x, phase=phase), _mag_phase_expected(x, phase),
                               rtol=1e-5, atol=2e-5)


def test_mag_phase_default_is_unwrap_and_keep_iq_puts_iq_first() -> None:
    # a tone that turns 3 rad per sample: the unwrapped phase keeps growing
    t = np.arange(12)
    x = np.stack([np.cos(3.0 * t), np.sin(3.0 * t)])[None].astype(np.float32)
    out = _run("mag_phase", x)
    np.testing.assert_allclose(out[0, 1], 3.0 * t, atol=1e-4)
    np.testing.assert_allclose(out[0, 0], np.ones(12), atol=1e-6)
    both = _run("mag_phase", x, keep_iq=True)
    assert both.shape == (1, 4, 12)
    np.testing.assert_array_equal(both[:, :2], x)
    np.testing.assert_allclose(both[0, 2], np.ones(12), atol=1e-6)  # |z|, then phase
    np.testing.assert_allclose(both[0, 3], 3.0 * t, atol=1e-4)


def _dft_power_db(x: np.ndarray, n_fft: int, eps: float) -> np.ndarray:
    """Segment-averaged |DFT|^2 / n_fft in dB, bins ordered from -n_fft/2 (a DFT matrix, no FFT)."""
    n, _, length = x.shape
    w = np.exp(-2j * np.pi * np.outer(np.arange(n_fft), np.arange(n_fft)) / n_fft)
    out = np.empty((n, 1, n_fft))
    for k in range(n):
        z = _z(x[k : k + 1])[0]
        if length >= n_fft:
            segs = [z[s * n_fft : (s + 1) * n_fft] for s in range(length // n_fft)]
        else:
            segs = [np.concatenate([z, np.zeros(n_fft - length)])]
        power = sum(np.abs(w @ s) ** 2 for s in segs) / len(segs) / n_fft
        shifted = np.array([power[(b + n_fft // 2) % n_fft] for b in range(n_fft)])  # bin -n/2 first
        out[k, 0] = 10.0 * np.log10(shifted + eps)
    return out


@pytest.mark.parametrize("length", [8 * 3 + 5, 8, 5])  # several segments and a tail, one, zero-padded
def test_spectrum_is_the_segment_average_power_in_db(length: int) -> None:
    x = _caps(n=2, length=length)
    np.testing.assert_allclose(_run("spectrum", x, n_fft=8), _dft_power_db(x, 8, 1e-10), rtol=1e-4, atol=1e-3)


def test_spectrum_eps_floors_the_power_and_a_tone_lands_in_its_bin() -> None:
    x = np.zeros((1, 2, 16), np.float32)
    np.testing.assert_allclose(_run("spectrum", x, n_fft=16, eps=1e-3), np.full((1, 1, 16), -30.0), atol=1e-4)
    t = np.arange(16)
    tone = np.stack([np.cos(2 * np.pi * 3 * t / 16), np.sin(2 * np.pi * 3 * t / 16)])[None].astype(np.float32)
    out = _run("spectrum", tone, n_fft=16)
    assert int(out[0, 0].argmax()) == 8 + 3  # bin +3 after the shift puts bin 0 at index 8
    assert out[0, 0, 11] == pytest.approx(10 * math.log10(16 * 16 / 16), abs=1e-3)  # |X|^2 / n = 16


def _powers_expected(x: np.ndarray, ks: list[int]) -> np.ndarray:
    n, _, length = x.shape
    out = np.empty((n, 2 * len(ks), length))
    for a in range(n):
        for t in range(length):
            z = complex(float(x[a, 0, t]), float(x[a, 1, t]))
            for j, k in enumerate(ks):
                v = 0j if z == 0 else abs(z) * (z / abs(z)) ** k
                out[a, 2 * j, t], out[a, 2 * j + 1, t] = v.real, v.imag
    return out


@pytest.mark.parametrize("powers", ["1,2,4", "3,5,7", "1,8,16", "6", "2,1,4"])
def test_powers_iq_against_complex_powers(powers: str) -> None:
    x = _caps(n=2, length=12)
    x[0, :, 3] = 0.0  # a silent sample stays 0
    ks = [int(k) for k in powers.split(",")]
    np.testing.assert_allclose(_run("powers_iq", x, powers=powers), _powers_expected(x, ks),
                               rtol=1e-4, atol=1e-5)


def test_standardize_subtracts_the_mean_and_divides_by_std() -> None:
    x = _caps()
    expected = (x.astype(np.float64) - 0.5) / 4.0
    np.testing.assert_allclose(_run("standardize", x, mean=0.5, std=4.0), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_run("standardize", x), x, rtol=0, atol=0)


def test_features_are_one_row_per_capture() -> None:
    out = _run("features", _caps(n=3, length=256))
    assert out.ndim == 2 and out.shape[0] == 3


@pytest.mark.parametrize("op", ["mag_phase", "spectrum", "powers_iq", "features"])
def test_ops_on_iq_refuse_other_shapes_naming_themselves(op: str) -> None:
    for bad in (np.zeros((2, 3, 8), np.float32), np.zeros((2, 8), np.float32)):
        with pytest.raises(DataError) as e:
            _run(op, bad)
        assert str(e.value) == f"preprocess op {op!r} expects captures (N, 2, L), got shape {bad.shape}"


def test_pipeline_applies_steps_in_order() -> None:
    x = _caps()
    spec: list[dict[str, object]] = [
        {"op": "scale", "factor": 2.0},
        {"op": "standardize", "mean": 1.0, "std": 2.0},
    ]
    out = Pipeline.from_spec(spec)(x)
    np.testing.assert_allclose(out, (x.astype(np.float64) * 2.0 - 1.0) / 2.0, rtol=1e-6, atol=1e-7)
    assert Pipeline()(x.astype(np.float64)).dtype == np.float32


# --- parameters: defaults written out, boundaries, messages ------------------------------------------------
def test_defaults_are_written_into_the_spec() -> None:
    spec = [{"op": name} for name in OPS]
    assert Pipeline.from_spec(spec).to_spec() == [
        {"op": "identity"},
        {"op": "scale", "factor": 1.0},
        {"op": "rms_normalize", "eps": 1e-8},
        {"op": "mag_phase", "phase": "unwrap", "keep_iq": False},
        {"op": "spectrum", "n_fft": 1024, "eps": 1e-10},
        {"op": "powers_iq", "powers": "1,2,4"},
        {"op": "features"},
        {"op": "standardize", "mean": 0.0, "std": 1.0},
    ]


@pytest.mark.parametrize(
    ("op", "key", "value", "accepted"),
    [
        ("spectrum", "n_fft", 8, None),
        ("spectrum", "n_fft", 65536, None),
        ("spectrum", "n_fft", 7, "an integer in 8..65536"),
        ("spectrum", "n_fft", 65537, "an integer in 8..65536"),
        ("spectrum", "n_fft", 64.5, "an integer in 8..65536"),
        ("spectrum", "eps", 0.0, "a number > 0"),
        ("spectrum", "eps", math.inf, "a number > 0"),
        ("rms_normalize", "eps", -1e-9, "a number > 0"),
        ("rms_normalize", "eps", math.nan, "a number > 0"),
        ("scale", "factor", math.nan, "a finite number"),
        ("scale", "factor", -math.inf, "a finite number"),
        ("scale", "factor", True, "a finite number"),
        ("scale", "factor", "2", "a finite number"),
        ("standardize", "std", 0.0, "a number > 0"),
        ("standardize", "mean", math.inf, "a finite number"),
        ("mag_phase", "phase", "unwrapped", "wrap, unwrap or diff"),
        ("mag_phase", "keep_iq", 1, "true or false"),
        ("powers_iq", "powers", "1,16", None),
        ("powers_iq", "powers", "0,2", "a comma list of integers 1..16"),
        ("powers_iq", "powers", "2,17", "a comma list of integers 1..16"),
        ("powers_iq", "powers", "2,x", "a comma list of integers 1..16"),
    ],
)
def test_parameter_boundaries(op: str, key: str, value: object, accepted: str | None) -> None:
    spec = [{"op": op, key: value}]
    if accepted is None:
        assert dict(Pipeline.from_spec(spec).steps[0].params)[key] == value
        return
    with pytest.raises(ConfigError) as e:
        Pipeline.from_spec(spec)
    assert str(e.value) == f"preprocess step 0 ({op}): param {key}={value!r} is invalid; expected {accepted}"


def test_coercion_of_numbers() -> None:
    params = dict(Pipeline.from_spec([{"op": "spectrum", "n_fft": 64.0, "eps": 1}]).steps[0].params)
    assert params == {"n_fft": 64, "eps": 1.0}
    assert type(params["n_fft"]) is int and type(params["eps"]) is float
    assert dict(Pipeline.from_spec([{"op": "scale", "factor": 3}]).steps[0].params)["factor"] == 3.0


def test_spec_errors_name_the_step() -> None:
    with pytest.raises(ConfigError) as e:
        Pipeline.from_spec({"op": "scale"})  # type: ignore[arg-type]
    assert str(e.value) == "preprocess spec must be a list of steps, got dict"
    with pytest.raises(ConfigError) as e:
        Pipeline.from_spec([{"op": "identity"}, "scale"])  # type: ignore[list-item]
    assert str(e.value) == "preprocess step 1: must be a table like {op = \"rms_normalize\"}, got 'scale'"
    with pytest.raises(ConfigError) as e:
        Pipeline.from_spec([{"op": "fft"}])
    assert str(e.value) == f"preprocess step 0: unknown op 'fft'; accepted ops: {', '.join(OPS)}"
    with pytest.raises(ConfigError) as e:
        Pipeline.from_spec([{"op": "scale", "gain": 2}])
    assert str(e.value) == "preprocess step 0 (scale): unknown param 'gain'; accepted params: factor"
    with pytest.raises(ConfigError) as e:
        Pipeline.from_spec([{"op": "identity", "gain": 2}])
    assert str(e.value) == "preprocess step 0 (identity): unknown param 'gain'; accepted params: none"


def test_pipeline_equality_hash_and_repr() -> None:
    a = Pipeline.from_spec([{"op": "scale", "factor": 2}])
    b = Pipeline.from_spec([{"op": "scale", "factor": 2.0}])
    c = Pipeline.from_spec([{"op": "scale", "factor": 3}])
    assert a == b and hash(a) == hash(b) and a != c and a != "scale"
    assert repr(a) == "Pipeline([{'op': 'scale', 'factor': 2.0}])"
    assert hash(a) == hash(a.steps) and hash(a) != hash(c)


@pytest.mark.parametrize("op", [name for name in OPS if name != "features"])
def test_a_step_called_alone_turns_float64_into_float32(op: str) -> None:
    x = _caps(length=64).astype(np.float64)
    step = Pipeline.from_spec([{"op": op, **({"n_fft": 16} if op == "spectrum" else {})}]).steps[0]
    out = step(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, Pipeline([step])(x.astype(np.float32)), rtol=1e-5, atol=1e-5)
