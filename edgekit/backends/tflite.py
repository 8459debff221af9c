"""TFLite interpreter behind :class:`~edgekit.backends.base.InferenceBackend`.

Prefers ``ai_edge_litert`` (numpy 2, and 2-2.5x faster than tflite-runtime 2.14 on the Pi), falls
back to ``tflite_runtime`` where a board only has that, and otherwise raises
:class:`~edgekit._optional.MissingExtraError` naming the ``tflite`` extra.

Three differences from the ONNX model are absorbed here so callers pass the same data to every
backend:

- **layout**: onnx2tf may turn NCW/NCHW inputs into NWC/NHWC (unless run with ``-k``) and outputs
  likewise. :class:`TFLiteLayout` records the permutations; it comes from the constructor, else
  from the sidecar ``<model>.layout.json`` the converter writes, else from comparing the model's
  shapes with ``original_input_shapes`` when given, else identity (the model's layout is the
  caller's).
- **quantisation**: full-integer models take int8/uint8 inputs; float inputs are quantised with
  the input tensor's scale and zero point and outputs dequantised back to float32.
- **batching**: dynamic-batch models are resized to the batch (``resize_tensor_input`` then
  ``allocate_tensors``); fixed batch-1 models are run sample by sample.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit._optional import require
from edgekit.backends.base import Dim, LoadedModel, TensorSpec, as_float_batch, check_model_file
from edgekit.errors import ModelError

__all__ = [
    "TFLiteBackend",
    "TFLiteLayout",
    "channels_last_perm",
    "detect_permutation",
    "invert_perm",
    "layout_sidecar_path",
    "load_interpreter_class",
    "open_model",
]

_TFLITE_MAGIC = b"TFL3"  # flatbuffer file identifier at byte offset 4
Perm = tuple[int, ...]


@dataclass(frozen=True)
class TFLiteLayout:
    """How the TFLite model's tensors relate to the original (ONNX) model's.

    ``input_perms[i]`` permutes caller input *i* (original layout) into the model's layout
    (``x.transpose(perm)``); ``output_perms[j]`` permutes model output *j* back into the original
    layout. ``None`` means unchanged. ``input_order`` / ``output_order`` map caller position to the
    interpreter's tensor index when the converter reordered them; ``input_names`` /
    ``output_names`` are the original names shown in the specs.
    """

    input_perms: tuple[Perm | None, ...] = ()
    output_perms: tuple[Perm | None, ...] = ()
    input_order: tuple[int, ...] | None = None
    output_order: tuple[int, ...] | None = None
    input_names: tuple[str, ...] | None = None
    output_names: tuple[str, ...] | None = None

    def to_json(self) -> str:
        """Serialise for the ``.layout.json`` sidecar."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, source: Path) -> TFLiteLayout:
        """Parse a sidecar; ``source`` names the file in the error if it is malformed."""
        try:
            raw = json.loads(text)

            def perms(key: str) -> tuple[Perm | None, ...]:
                return tuple(
                    None if p is None else tuple(int(i) for i in p) for p in raw.get(key, [])
                )

            def ints(key: str) -> tuple[int, ...] | None:
                v = raw.get(key)
                return None if v is None else tuple(int(i) for i in v)

            def names(key: str) -> tuple[str, ...] | None:
                v = raw.get(key)
                return None if v is None else tuple(str(n) for n in v)

            return cls(
                input_perms=perms("input_perms"),
                output_perms=perms("output_perms"),
                input_order=ints("input_order"),
                output_order=ints("output_order"),
                input_names=names("input_names"),
                output_names=names("output_names"),
            )
        except (ValueError, TypeError, AttributeError) as e:
            raise ModelError(f"{source}: malformed TFLite layout sidecar: {e}") from e


def layout_sidecar_path(model_path: Path) -> Path:
    """Where the converter stores a model's :class:`TFLiteLayout`: ``<stem>.layout.json``."""
    return Path(model_path).with_suffix(".layout.json")


def channels_last_perm(rank: int) -> Perm:
    """Permutation NC... -> N...C (e.g. NCW -> NWC is (0, 2, 1), NCHW -> NHWC is (0, 2, 3, 1))."""
    return (0, *range(2, rank), 1)


def invert_perm(perm: Sequence[int]) -> Perm:
    """The permutation undoing ``perm``."""
    return tuple(int(i) for i in np.argsort(perm))


def detect_permutation(original: Sequence[Dim], converted: Sequence[Dim]) -> Perm | None:
    """Find how ``original`` was permuted into ``converted``: None (same), channels-last, or error.

    Dynamic dims (None, names, -1) match anything. Identity wins when both fit (e.g. square
    shapes); that ambiguity is why the converter writes the layout down instead of guessing.
    """
    if len(original) != len(converted):
        raise ModelError(
            f"rank differs: original {tuple(original)} vs converted {tuple(converted)}"
        )
    if _shapes_match(original, converted):
        return None
    if len(original) >= 3:
        perm = channels_last_perm(len(original))
        if _shapes_match([original[i] for i in perm], converted):
            return perm
    raise ModelError(
        f"cannot relate shapes: original {tuple(original)} vs converted {tuple(converted)}"
    )


def load_interpreter_class() -> Any:
    """``ai_edge_litert``'s Interpreter, else ``tflite_runtime``'s, else MissingExtraError."""
    for module in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            return importlib.import_module(module).Interpreter
        except ImportError:
            continue
    return require("ai_edge_litert.interpreter", "tflite", "TFLite inference").Interpreter


class TFLiteBackend(LoadedModel):
    """A TFLite interpreter over one ``.tflite`` file; see the module docstring for what it adapts.

    ``threads`` is the interpreter's CPU thread count (None: the runtime's default).
    ``transpose_input`` is a shortcut for single-input models (same meaning as
    ``TFLiteLayout.input_perms[0]``); ``original_input_shapes`` lets the backend detect the layout
    by comparing shapes when neither a layout nor a sidecar is given.
    """

    name = "tflite"

    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        layout: TFLiteLayout | None = None,
        transpose_input: Perm | None = None,
        original_input_shapes: Sequence[Sequence[Dim]] | None = None,
    ) -> None:
        self.path = check_model_file(Path(path))
        with self.path.open("rb") as f:
            head = f.read(8)
        if head[4:8] != _TFLITE_MAGIC:
            raise ModelError(f"{self.path}: not a TFLite model (no 'TFL3' identifier)")
        interpreter_cls = load_interpreter_class()
        self.threads = threads
        try:
            self._handle = interpreter_cls(model_path=str(self.path), num_threads=threads)
            self._handle.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{self.path}: TFLite cannot load the model: {_one_line(e)}") from e
        self._in_details: list[dict[str, Any]] = list(self._handle.get_input_details())
        self._out_details: list[dict[str, Any]] = list(self._handle.get_output_details())
        self._current_shapes: dict[int, tuple[int, ...]] = {
            int(d["index"]): tuple(int(s) for s in d["shape"]) for d in self._in_details
        }
        self.layout = self._resolve_layout(layout, transpose_input, original_input_shapes)
        self._in_order = list(self.layout.input_order or range(len(self._in_details)))
        self._out_order = list(self.layout.output_order or range(len(self._out_details)))
        if sorted(self._in_order) != list(range(len(self._in_details))) or sorted(
            self._out_order
        ) != list(range(len(self._out_details))):
            raise ModelError(f"{self.path}: layout input/output order does not fit the model")
        self._in_perms = _pad(self.layout.input_perms, len(self._in_details))
        self._out_perms = _pad(self.layout.output_perms, len(self._out_details))
        sig_in, sig_out = self._signature_names()
        in_names = self.layout.input_names or tuple(sig_in[i] for i in self._in_order)
        out_names = self.layout.output_names or tuple(sig_out[j] for j in self._out_order)
        self.input_spec = [
            self._spec(self._in_details[k], in_names[i], self._in_perms[i], to_original=False)
            for i, k in enumerate(self._in_order)
        ]
        self.output_spec = [
            self._spec(self._out_details[k], out_names[j], self._out_perms[j], to_original=True)
            for j, k in enumerate(self._out_order)
        ]

    # -- public -------------------------------------------------------------------------------

    def run(self, x: np.ndarray) -> np.ndarray:
        """Run a single-input model on batch ``x`` (original layout); first output as float32."""
        if len(self.input_spec) != 1:
            names = ", ".join(s.name for s in self.input_spec)
            raise ModelError(f"{self.path}: model has inputs {names}; use run_all with a dict")
        return self.run_all({self.input_spec[0].name: x})[0]

    def run_all(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run with one float array per input name (original layout); outputs as float32."""
        interp = self._require_open()
        unknown = set(feeds) - {s.name for s in self.input_spec}
        if unknown:
            raise ModelError(f"{self.path}: unknown inputs {sorted(unknown)}")
        native: list[np.ndarray] = [np.empty(0)] * len(self._in_details)
        for i, spec in enumerate(self.input_spec):
            if spec.name not in feeds:
                raise ModelError(f"{self.path}: missing input {spec.name!r}")
            arr = as_float_batch(feeds[spec.name], spec.batch_relaxed(), self.path)
            perm = self._in_perms[i]
            if perm is not None:
                arr = np.ascontiguousarray(arr.transpose(perm))
            native[self._in_order[i]] = arr
        try:
            raw = self._invoke_batched(interp, native)
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{self.path}: TFLite inference failed: {_one_line(e)}") from e
        results: list[np.ndarray] = []
        for j, k in enumerate(self._out_order):
            out = _dequantize(raw[k], self._out_details[k])
            perm = self._out_perms[j]
            results.append(np.ascontiguousarray(out.transpose(perm)) if perm is not None else out)
        return results

    # -- internals ----------------------------------------------------------------------------

    def _resolve_layout(
        self,
        layout: TFLiteLayout | None,
        transpose_input: Perm | None,
        original_input_shapes: Sequence[Sequence[Dim]] | None,
    ) -> TFLiteLayout:
        if layout is not None and transpose_input is not None:
            raise ModelError(f"{self.path}: give layout or transpose_input, not both")
        if transpose_input is not None:
            if len(self._in_details) != 1:
                raise ModelError(f"{self.path}: transpose_input needs a single-input model")
            return TFLiteLayout(input_perms=(tuple(transpose_input),))
        if layout is not None:
            return layout
        sidecar = layout_sidecar_path(self.path)
        if sidecar.is_file():
            return TFLiteLayout.from_json(sidecar.read_text(encoding="utf-8"), sidecar)
        if original_input_shapes is not None:
            if len(original_input_shapes) != len(self._in_details):
                raise ModelError(
                    f"{self.path}: {len(original_input_shapes)} original shapes given, "
                    f"model has {len(self._in_details)} inputs"
                )
            try:
                perms = tuple(
                    detect_permutation(orig, _signature_shape(d))
                    for orig, d in zip(original_input_shapes, self._in_details, strict=True)
                )
            except ModelError as e:
                raise ModelError(f"{self.path}: {e}") from e
            return TFLiteLayout(input_perms=perms)
        return TFLiteLayout()

    def _signature_names(self) -> tuple[list[str], list[str]]:
        """Names by interpreter index: the signature's (ONNX names via onnx2tf), else cleaned."""
        ins = [_clean_name(d["name"]) for d in self._in_details]
        outs = [_clean_name(d["name"]) for d in self._out_details]
        try:
            sigs = self._handle._get_full_signature_list()
        except (AttributeError, RuntimeError, ValueError):
            return ins, outs
        if not sigs:
            return ins, outs
        sig = sigs.get("serving_default") or next(iter(sigs.values()))
        by_index_in = {int(v): str(k) for k, v in sig.get("inputs", {}).items()}
        by_index_out = {int(v): str(k) for k, v in sig.get("outputs", {}).items()}
        ins = [
            by_index_in.get(int(d["index"]), n) for d, n in zip(self._in_details, ins, strict=True)
        ]
        outs = [
            by_index_out.get(int(d["index"]), n)
            for d, n in zip(self._out_details, outs, strict=True)
        ]
        return ins, outs

    def _spec(
        self, detail: dict[str, Any], name: str, perm: Perm | None, *, to_original: bool
    ) -> TensorSpec:
        shape: tuple[Dim, ...] = tuple(None if d < 0 else int(d) for d in _signature_shape(detail))
        if perm is not None:
            order = invert_perm(perm) if not to_original else perm
            shape = tuple(shape[i] for i in order)
        scale, zero = detail.get("quantization", (0.0, 0))
        quant = (float(scale), int(zero)) if scale else None
        return TensorSpec(
            name=name, shape=shape, dtype=np.dtype(detail["dtype"]).name, quantization=quant
        )

    def _invoke_batched(self, interp: Any, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Resize for the batch when the model allows it, else loop over batch-1 slices."""
        if all(self._can_take(d, a.shape) for d, a in zip(self._in_details, arrays, strict=True)):
            return self._invoke(interp, arrays)
        batch_one = all(
            _signature_shape(d)[0] == 1 and self._can_take(d, (1, *a.shape[1:]))
            for d, a in zip(self._in_details, arrays, strict=True)
        )
        batches = {a.shape[0] for a in arrays}
        if not batch_one or len(batches) != 1:
            shapes = [tuple(_signature_shape(d)) for d in self._in_details]
            got = [tuple(a.shape) for a in arrays]
            raise ModelError(f"{self.path}: model takes shapes {shapes}, got {got}")
        parts = [self._invoke(interp, [a[n : n + 1] for a in arrays]) for n in range(batches.pop())]
        return [
            np.concatenate([p[k] for p in parts], axis=0) for k in range(len(self._out_details))
        ]

    def _can_take(self, detail: dict[str, Any], shape: tuple[int, ...]) -> bool:
        sig = _signature_shape(detail)
        return len(sig) == len(shape) and all(
            s < 0 or s == n for s, n in zip(sig, shape, strict=True)
        )

    def _invoke(self, interp: Any, arrays: list[np.ndarray]) -> list[np.ndarray]:
        resized = False
        for d, a in zip(self._in_details, arrays, strict=True):
            if self._current_shapes[d["index"]] != a.shape:
                interp.resize_tensor_input(d["index"], list(a.shape), strict=False)
                self._current_shapes[d["index"]] = a.shape
                resized = True
        if resized:
            interp.allocate_tensors()
        for d, a in zip(self._in_details, arrays, strict=True):
            interp.set_tensor(d["index"], _quantize(a, d))
        interp.invoke()
        return [np.array(interp.get_tensor(d["index"])) for d in self._out_details]


def open_model(
    path: Path,
    *,
    threads: int | None = None,
    layout: TFLiteLayout | None = None,
    transpose_input: Perm | None = None,
    original_input_shapes: Sequence[Sequence[Dim]] | None = None,
) -> TFLiteBackend:
    """Registry entry point used by :func:`edgekit.backends.open_backend`."""
    return TFLiteBackend(
        path,
        threads=threads,
        layout=layout,
        transpose_input=transpose_input,
        original_input_shapes=original_input_shapes,
    )


def _signature_shape(detail: Mapping[str, Any]) -> list[int]:
    sig = detail.get("shape_signature")
    if sig is None or len(sig) == 0:
        sig = detail["shape"]
    return [int(s) for s in sig]


def _shapes_match(a: Sequence[Dim], b: Sequence[Dim]) -> bool:
    def fixed(d: Dim) -> bool:
        return isinstance(d, int) and d >= 0

    return all(not (fixed(x) and fixed(y)) or x == y for x, y in zip(a, b, strict=True))


def _quantize(x: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """float32 -> the input tensor's dtype, with its scale/zero point when it is quantised."""
    dtype = np.dtype(detail["dtype"])
    if dtype == np.float32:
        return x
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        q = np.round(x / np.float32(scale)) + zero
        return np.clip(q, info.min, info.max).astype(dtype)
    return x.astype(dtype)


def _dequantize(q: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.issubdtype(q.dtype, np.integer) and scale:
        return ((q.astype(np.float32) - np.float32(zero)) * np.float32(scale)).astype(np.float32)
    if np.issubdtype(q.dtype, np.floating) and q.dtype != np.float32:
        return q.astype(np.float32)
    return q


def _clean_name(name: str) -> str:
    """``serving_default_x:0`` -> ``x``: the names TF gives signature inputs."""
    base = name.split(":", 1)[0]
    return base.removeprefix("serving_default_")


def _pad(perms: tuple[Perm | None, ...], n: int) -> list[Perm | None]:
    return [*perms, *([None] * (n - len(perms)))][:n]


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."
