"""The model every variant is built from: concrete input shape, one input, known score output.

Models exported by other frameworks often declare dynamic height and width, fixed batches of 1,
extra inputs (a recurrent state) or outputs shaped ``[N, C, 1, 1]``. Quantisers and onnx2tf need
concrete shapes, and edgekit feeds one input and reads ``(N, classes)`` scores, so the build's load
stage writes a *prepared* copy of the model once: every non-batch dimension fixed from the data's
shape (or ``model.input_shape``), every other input folded in as a constant (``[model.inputs]``),
and the batch dimension kept as declared (dynamic, or fixed, which every feeder then respects).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from edgekit.config import BuildConfig
from edgekit.errors import DataError, ModelError

__all__ = [
    "PreparedModel",
    "check_input_values",
    "check_other_inputs",
    "check_score_shape",
    "concrete_input_shape",
    "prepare_model",
    "run_batched",
    "squeeze_scores",
]


@dataclass(frozen=True)
class PreparedModel:
    """The prepared copy and what was changed to make it."""

    path: Path
    model: onnx.ModelProto
    input_shape: list[int]
    """Concrete input shape, batch first: the fixed batch, or 1 when the batch is dynamic."""
    fixed_batch: int | None
    """The batch the model accepts when it declares one (often 1); None when any batch runs."""
    notes: list[str] = field(default_factory=list)


def check_score_shape(shape: Sequence[int | str], name: str, where: str) -> int | None:
    """The class count of a score output declared ``shape``; ModelError when it is not (N, C).

    Trailing dimensions of 1 are squeezed first (``[N, 1000, 1, 1]`` is 1000 classes), as a
    classifier head ending in a 1x1 convolution writes them.
    """
    dims = list(shape)
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    if shape and len(dims) != 2:
        shown = "[" + ", ".join(map(str, shape)) + "]"
        raise ModelError(
            f"{where}: output {name!r} has shape {shown}; edgekit judges classifiers, whose "
            "scores are (N, classes) after trailing 1-dims are squeezed (set model.output_name "
            "to pick another output)"
        )
    last = dims[-1] if dims else None
    return last if isinstance(last, int) else None


def squeeze_scores(scores: np.ndarray, where: str) -> np.ndarray:
    """``scores`` as (N, classes): trailing 1-dims squeezed; anything else is refused."""
    s = scores
    while s.ndim > 2 and s.shape[-1] == 1:
        s = s[..., 0]
    if s.ndim != 2:
        raise ModelError(
            f"{where}: the score output has shape {list(scores.shape)} at run time; class scores "
            "must be (N, classes) after trailing 1-dims are squeezed"
        )
    return s


def concrete_input_shape(
    declared: Sequence[int | str], sample: Sequence[int], override: Sequence[int], where: str
) -> list[int]:
    """The per-sample input shape to fix: ``override`` (model.input_shape) if given, else the
    data's; each must agree with every dimension the model declares."""
    wanted = list(override) if override else list(sample)
    src = f"model.input_shape {wanted}" if override else (
        f"after preprocessing the data has shape (N, {', '.join(map(str, wanted))})"
    )
    fits = len(wanted) == len(declared) - 1 and all(
        not (isinstance(d, int) and d > 0) or d == w
        for d, w in zip(declared[1:], wanted, strict=False)
    )
    if not fits:
        raise DataError(f"{where}: {src} but the model input expects {list(declared)}")
    return [int(w) for w in wanted]


def _set_dims(vi: onnx.ValueInfoProto, dims: Sequence[int | str]) -> None:
    shape = vi.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        new = shape.dim.add()
        if isinstance(d, int):
            new.dim_value = d
        else:
            new.dim_param = d


def check_other_inputs(cfg: BuildConfig, inputs: Sequence[str], input_name: str) -> None:
    """Every input but ``input_name`` needs a value in ``[model.inputs]``; no stray keys."""
    src = cfg.source or str(cfg.model_path)
    others = [n for n in inputs if n != input_name]
    for name in cfg.model.inputs:
        if name not in others:
            raise ModelError(
                f"{src}: model.inputs.{name}: not another input of the model (other inputs: "
                f"{', '.join(others) or 'none'}; {input_name!r} is the one edgekit feeds)"
            )
    missing = [n for n in others if n not in cfg.model.inputs]
    if missing:
        raise ModelError(
            f"{cfg.model_path}: the model has inputs {', '.join(inputs)}; edgekit feeds one "
            f"({input_name!r}, model.input_name) and needs a constant or zero state for the others "
            f'in [model.inputs] (e.g. {missing[0]} = "zeros"; see docs/config.md)'
        )


def check_input_values(cfg: BuildConfig, inputs: Sequence[tuple[str, str]]) -> None:
    """Each ``[model.inputs]`` value must fit its input's dtype (``(name, dtype)`` pairs): an
    integer input (a band index, a token id) takes a whole number in its range, not a fraction
    that folding would silently truncate."""
    src = cfg.source or str(cfg.model_path)
    dtypes = dict(inputs)
    for name, value in cfg.model.inputs.items():
        dtype = dtypes.get(name, "")
        if value == "zeros" or not dtype.startswith(("int", "uint")):
            continue
        info = np.iinfo(np.dtype(dtype))
        v = float(value)
        if not v.is_integer() or not info.min <= v <= info.max:
            raise ModelError(
                f"{src}: model.inputs.{name}: {value!r} for input {name!r}, which is {dtype}; "
                f"give a whole number from {info.min} to {info.max}, or \"zeros\""
            )


def _declared(vi: onnx.ValueInfoProto) -> list[int | str]:
    out: list[int | str] = []
    for d in vi.type.tensor_type.shape.dim:
        out.append(int(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?"))
    return out


def _fold_input(model: onnx.ModelProto, vi: onnx.ValueInfoProto, value: float | str, src: str) -> str:
    """Replace graph input ``vi`` by a constant initialiser of its declared shape."""
    dims = _declared(vi)
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in dims]
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelError(f"{src}: model.inputs.{vi.name}: input is not a tensor") from e
    fill = 0.0 if value == "zeros" else float(value)
    # check_input_values has refused a fraction for an integer input; int() keeps large ids exact
    arr = np.full(shape, int(fill) if np.dtype(dtype).kind in "iu" else fill, dtype=dtype)
    model.graph.initializer.append(numpy_helper.from_array(arr, vi.name))
    kept = [i for i in model.graph.input if i.name != vi.name]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    what = "zeros" if value == "zeros" else f"{fill:g}"
    return f"input {vi.name!r} fixed to {what} of shape {shape} (model.inputs)"


def prepare_model(
    cfg: BuildConfig, model: onnx.ModelProto, input_name: str, sample: Sequence[int] | None,
    out: Path,
    *,
    where: str = "",
) -> PreparedModel:
    """Write the prepared copy of ``model`` to ``out`` (see the module docstring)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    src = cfg.source or str(cfg.model_path)
    notes: list[str] = []
    inits = {i.name for i in m.graph.initializer}
    real = [i for i in m.graph.input if i.name not in inits]
    given = dict(cfg.model.inputs)
    check_other_inputs(cfg, [i.name for i in real], input_name)
    for vi in real:
        if vi.name == input_name:
            continue
        notes.append(_fold_input(m, vi, given[vi.name], src))
    main = next(i for i in m.graph.input if i.name == input_name)
    declared = _declared(main)
    batch = declared[0] if declared else None
    fixed = batch if isinstance(batch, int) and batch > 0 else None
    if sample is None and not cfg.model.input_shape:
        per_sample = [d if isinstance(d, int) and d > 0 else -1 for d in declared[1:]]
        if any(d < 0 for d in per_sample):
            raise ModelError(
                f"{cfg.model_path}: input {input_name!r} declares {declared} and there is no data "
                "to fix its unknown dimensions; give the per-sample shape (model.input_shape = "
                "[3, 224, 224] in edgekit.toml, --input-shape 3,224,224 for inspect)"
            )
    else:
        per_sample = concrete_input_shape(
            declared,
            sample or [],
            cfg.model.input_shape,
            src if cfg.model.input_shape else where,
        )
    changed = any(not isinstance(d, int) or d <= 0 for d in declared[1:])
    if changed:
        notes.append(
            f"input {input_name!r} declared {declared}; fixed to "
            f"[{batch if fixed else 'N'}, {', '.join(map(str, per_sample))}] from "
            + ("model.input_shape" if cfg.model.input_shape else "the data's shape")
        )
    if changed:
        _set_dims(main, [fixed if fixed else (batch or "N"), *per_sample])
        # Stale intermediate shapes would contradict the fixed input: drop them (onnxruntime, the
        # quantisers and onnx2tf infer shapes themselves). A model that needed no change keeps
        # its graph as exported, so its variants are the same as without this step.
        del m.graph.value_info[:]
    onnx.save(m, str(out))
    return PreparedModel(out, m, [fixed or 1, *per_sample], fixed, notes)


def run_batched(
    run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch: int, fixed: int | None
) -> np.ndarray:
    """``run`` over ``x`` in chunks the model accepts: ``fixed`` rows (the last chunk padded with
    zeros and the padding dropped) when the model fixes its batch, else ``batch`` rows."""
    step = fixed or batch
    outs = []
    for i in range(0, len(x), step):
        chunk = np.ascontiguousarray(x[i : i + step])
        n = len(chunk)
        if fixed and n < fixed:
            pad = np.zeros((fixed - n, *chunk.shape[1:]), dtype=chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        outs.append(np.asarray(run(chunk))[:n])
    return np.concatenate(outs)
