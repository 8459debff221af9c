"""ONNX -> TFLite conversion through onnx2tf, run in its own pinned virtualenv.

onnx2tf needs TensorFlow 2.19 and numpy 1.26, which cannot share a process (or a venv) with
edgekit's numpy 2 stack. So :class:`ConverterEnv` creates a separate venv from
``converter_requirements.txt`` (a complete lock, installed with ``--no-deps``) under
``$EDGEKIT_CONVERTER_ENV``, else ``$EDGEKIT_CACHE_DIR/converter-<hash>``, else
``~/.cache/edgekit/converter-<hash>``; :func:`convert_to_tflite` runs onnx2tf there as a
subprocess and then checks each produced model in edgekit's own TFLite backend against
onnxruntime on the fp32 ONNX model.

Set ``EDGEKIT_NO_CONVERTER=1`` to disable conversion: it then raises
:class:`ConverterDisabledError` so a build can report TFLite variants as skipped with that reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from edgekit.backends.onnxrt import OnnxRuntimeBackend
from edgekit.backends.tflite import (
    TFLiteBackend,
    TFLiteLayout,
    detect_permutation,
    invert_perm,
    layout_sidecar_path,
)
from edgekit.builder.tf_names import decisive_line, write_tf_safe_copy
from edgekit.children import child, run_child
from edgekit.errors import ConversionError, ModelError
from edgekit.logs import is_verbose

__all__ = [
    "DEFAULT_REQUIREMENTS",
    "ConvertedModel",
    "ConverterDisabledError",
    "ConverterEnv",
    "Precision",
    "Verification",
    "convert_to_tflite",
    "convert_to_tflite_variants",
    "converter_disabled_reason",
]

Precision = Literal["fp32", "fp16", "int8"]
Progress = Callable[[str], None]

DEFAULT_REQUIREMENTS = Path(__file__).with_name("converter_requirements.txt")
"""The pinned converter environment shipped with edgekit."""

_READY_MARKER = ".edgekit-converter-ready"
_VERSION_PACKAGES = ("onnx2tf", "tensorflow", "onnx", "onnxruntime", "numpy", "onnxsim")
_LOG_TAIL_LINES = 15
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Outputs onnx2tf writes into its output folder, by precision (prefix: the ONNX file's stem).
_ONNX2TF_SUFFIX: dict[str, str] = {
    "fp32": "_float32.tflite",
    "fp16": "_float16.tflite",
    "int8": "_full_integer_quant.tflite",
}


class ConverterDisabledError(ConversionError):
    """Conversion was switched off with ``EDGEKIT_NO_CONVERTER=1``."""


def converter_disabled_reason() -> str | None:
    """Why TFLite conversion is unavailable by configuration, or None when it is enabled."""
    if os.environ.get("EDGEKIT_NO_CONVERTER", "").strip() not in ("", "0"):
        return "TFLite converter disabled (EDGEKIT_NO_CONVERTER is set)"
    return None


def _print_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ConverterEnv:
    """The converter's venv: where it lives, which lock it comes from, how to run in it."""

    root: Path
    requirements: Path = DEFAULT_REQUIREMENTS

    @classmethod
    def default(cls, requirements: Path = DEFAULT_REQUIREMENTS) -> ConverterEnv:
        """The env for ``requirements``: ``$EDGEKIT_CONVERTER_ENV`` or a hashed cache folder."""
        override = os.environ.get("EDGEKIT_CONVERTER_ENV")
        if override:
            return cls(Path(override).expanduser(), requirements)
        cache = os.environ.get("EDGEKIT_CACHE_DIR")
        if cache:
            base = Path(cache).expanduser()
        else:
            xdg = os.environ.get("XDG_CACHE_HOME")
            base = (Path(xdg) if xdg else Path.home() / ".cache") / "edgekit"
        return cls(base / f"converter-{cls.requirements_hash(requirements)}", requirements)

    @staticmethod
    def requirements_hash(requirements: Path = DEFAULT_REQUIREMENTS) -> str:
        """12 hex digits over the lock file, the Python version and the machine architecture."""
        try:
            data = Path(requirements).read_bytes()
        except OSError as e:
            raise ConversionError(f"{requirements}: cannot read converter requirements: {e}") from e
        h = hashlib.sha256(data)
        h.update(
            f"|py{sys.version_info.major}.{sys.version_info.minor}|{platform.machine()}".encode()
        )
        return h.hexdigest()[:12]

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.root / "bin" / "python"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    def is_ready(self) -> bool:
        """Whether the venv exists and was completed for this exact requirements file."""
        marker = self.root / _READY_MARKER
        try:
            return (
                marker.read_text(encoding="utf-8").strip()
                == self.requirements_hash(self.requirements)
                and self.python.exists()
            )
        except OSError:
            return False

    def ensure(self, progress: Progress | None = _print_progress) -> ConverterEnv:
        """Create the venv if missing (minutes, once; cached afterwards) and return self.

        A lock file beside the venv keeps two builds from creating it at once; the venv is built
        in a temporary folder and renamed into place, so a crash never leaves a half env behind.
        """
        if self.is_ready():
            return self
        say = progress or (lambda _line: None)
        self.root.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.root.parent / f".{self.root.name}.lock"):
            if self.is_ready():  # another process finished it while we waited
                return self
            if self.root.exists():
                raise ConversionError(
                    f"{self.root}: exists but is not a converter env made from "
                    f"{self.requirements}; remove it or point EDGEKIT_CONVERTER_ENV elsewhere"
                )
            self._create(say)
        return self

    def _create(self, say: Progress) -> None:
        tmp = self.root.parent / f".{self.root.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        log = self.root.parent / f"{self.root.name}.install.log"
        started = time.monotonic()
        say(f"converter: creating environment {self.root} (first use; several minutes; "
            f"log: {log})")
        try:
            _run_logged(
                [sys.executable, "-m", "venv", str(tmp)], log, "create converter venv", say=None
            )
            tmp_python = str(tmp / "bin" / "python")
            _run_logged(
                [
                    tmp_python,
                    "-m",
                    "pip",
                    "install",
                    "--no-deps",
                    "--no-input",
                    "--progress-bar",
                    "off",
                    "--disable-pip-version-check",
                    "-r",
                    str(self.requirements),
                ],
                log,
                "pip install converter requirements",
                # pip's ~85 lines stay in the install log unless --verbose asked for everything.
                say=lambda line: (
                    say(f"converter: {line}")
                    if is_verbose() or line.startswith("Successfully")
                    else None
                ),
                append=True,
            )
            # Scripts carry the temporary path in their shebangs (onnx2tf runs `onnxsim` from
            # PATH), so point them at the final location before the rename makes it real.
            _rewrite_paths(tmp, self.root)
            (tmp / _READY_MARKER).write_text(
                self.requirements_hash(self.requirements) + "\n", encoding="utf-8"
            )
            os.replace(tmp, self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        say(f"converter: environment ready in {time.monotonic() - started:.0f} s")

    def versions(self) -> dict[str, str]:
        """Installed versions of the packages that shape a conversion (for the manifest)."""
        if not self.is_ready():
            raise ConversionError(f"{self.root}: converter env is not created (call ensure())")
        code = (
            "import json, importlib.metadata as m\n"
            f"names = {list(_VERSION_PACKAGES)!r}\n"
            "out = {}\n"
            "for n in names:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))\n"
        )
        proc = run_child([str(self.python), "-c", code], foreign=True, env=self.subprocess_env())
        if proc.returncode != 0:
            raise ConversionError(
                f"{self.root}: reading converter versions failed: {_tail(proc.stderr)}"
            )
        versions: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
        return versions

    def subprocess_env(self) -> dict[str, str]:
        """The environment for running in the venv: its bin first in PATH, as if activated."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env["VIRTUAL_ENV"] = str(self.root)
        env["PATH"] = str(self.bin_dir) + os.pathsep + env.get("PATH", "")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["CUDA_VISIBLE_DEVICES"] = ""  # conversion is CPU work; never probe a GPU
        env["PYTHONUNBUFFERED"] = "1"
        return env


@dataclass(frozen=True)
class Verification:
    """How a converted model agrees with onnxruntime on the fp32 ONNX model.

    ``max_abs_diff`` is over every output element; ``max_rel_diff`` divides by the largest
    reference magnitude; ``argmax_agreement`` is the share of samples whose first output's argmax
    matches (the classification decision). ``inputs`` says where the samples came from.
    """

    n_samples: int
    max_abs_diff: float
    max_rel_diff: float
    argmax_agreement: float
    inputs: str


@dataclass(frozen=True)
class ConvertedModel:
    """One TFLite file produced from an ONNX model, and what the caller must know to run it."""

    precision: Precision
    tflite_path: Path
    onnx_path: Path
    layout: TFLiteLayout
    input_layout: str
    """``"original"`` (kept, e.g. NCW) or ``"channels_last"`` (NWC/NHWC; the backend transposes)."""
    input_quantization: tuple[float, int] | None
    output_quantization: tuple[float, int] | None
    converter_versions: dict[str, str]
    command: list[str]
    duration_s: float
    verification: Verification
    size_bytes: int = 0
    log_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def max_abs_diff(self) -> float:
        return self.verification.max_abs_diff


def convert_to_tflite(
    onnx_path: Path,
    out_dir: Path,
    *,
    precision: Precision,
    calibration: np.ndarray | None = None,
    keep_layout: bool = True,
    verify_inputs: np.ndarray | None = None,
    calibration_mean: float = 0.0,
    calibration_std: float = 1.0,
    quant_type: Literal["per-channel", "per-tensor"] = "per-channel",
    env: ConverterEnv | None = None,
    progress: Progress | None = _print_progress,
    timeout_s: float = 1800.0,
) -> ConvertedModel:
    """Convert ``onnx_path`` to one TFLite model of ``precision``.

    See :func:`convert_to_tflite_variants` for the arguments; this runs onnx2tf for one variant.
    """
    return convert_to_tflite_variants(
        onnx_path,
        out_dir,
        precisions=(precision,),
        calibration=calibration,
        keep_layout=keep_layout,
        verify_inputs=verify_inputs,
        calibration_mean=calibration_mean,
        calibration_std=calibration_std,
        quant_type=quant_type,
        env=env,
        progress=progress,
        timeout_s=timeout_s,
    )[precision]


def convert_to_tflite_variants(
    onnx_path: Path,
    out_dir: Path,
    *,
    precisions: Sequence[Precision] = ("fp32", "fp16", "int8"),
    calibration: np.ndarray | None = None,
    keep_layout: bool = True,
    verify_inputs: np.ndarray | None = None,
    calibration_mean: float = 0.0,
    calibration_std: float = 1.0,
    quant_type: Literal["per-channel", "per-tensor"] = "per-channel",
    env: ConverterEnv | None = None,
    progress: Progress | None = _print_progress,
    timeout_s: float = 1800.0,
    log_path: Path | None = None,
    log_label: str | None = None,
) -> dict[Precision, ConvertedModel]:
    """Convert once with onnx2tf and keep the requested precisions (one run yields them all).

    ``calibration`` (required for int8, never replaced by random data) is a float32 batch in the
    ONNX input layout and input space, e.g. (N, 2, 1024) preprocessed captures; it is written as
    ``.npy`` in the layout onnx2tf's TF model takes, and onnx2tf normalises it as
    ``(x - calibration_mean) / calibration_std`` (defaults: identity). int8 models get int8 inputs
    and outputs; the backend quantises and dequantises with the recorded parameters.
    ``keep_layout`` keeps NCW/NCHW inputs (``-k``), so the TFLite model takes the ONNX layout;
    otherwise inputs become channels-last and the layout sidecar tells the backend to transpose.
    Each model is checked against onnxruntime on ``verify_inputs`` (default: the first 16
    calibration samples, else 16 seeded standard-normal samples, labelled as such).
    Node and tensor names TensorFlow rejects (``Softmax@0``, ``x:0``) are renamed in the copy
    onnx2tf reads and mapped back in the error it reports. onnx2tf's log goes to ``log_path``
    (default: ``out_dir/<stem>.onnx2tf.log``), named ``log_label`` in messages; a failure is one
    error naming its decisive line.
    """
    reason = converter_disabled_reason()
    if reason is not None:
        raise ConverterDisabledError(reason)
    # onnx2tf runs in its own working directory: give it absolute paths.
    onnx_path = Path(onnx_path).resolve()
    out_dir = Path(out_dir).resolve()
    wanted = list(dict.fromkeys(precisions))
    bad = [p for p in wanted if p not in _ONNX2TF_SUFFIX]
    if bad or not wanted:
        raise ConversionError(
            f"unknown TFLite precision {bad or wanted} (accepted: fp32, fp16, int8)"
        )
    try:
        reference = OnnxRuntimeBackend(onnx_path, threads=1)
    except ModelError as e:
        raise ConversionError(f"cannot convert: {e}") from e
    inputs = reference.input_spec
    outputs = reference.output_spec
    if "int8" in wanted:
        if calibration is None:
            raise ConversionError(
                f"{onnx_path}: int8 TFLite needs calibration data (a batch in the model's input "
                f"layout, shape {tuple(inputs[0].shape)})"
            )
        if len(inputs) != 1:
            raise ConversionError(f"{onnx_path}: int8 calibration supports single-input models")
        calibration = _checked_batch(calibration, inputs[0].shape, onnx_path, "calibration")
    if verify_inputs is not None and len(inputs) != 1:
        raise ConversionError(f"{onnx_path}: verify_inputs supports single-input models")

    env = env or ConverterEnv.default()
    env.ensure(progress)
    say = progress or (lambda _line: None)

    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / f".onnx2tf-{onnx_path.stem}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = Path(log_path).resolve() if log_path else out_dir / f"{onnx_path.stem}.onnx2tf.log"
    try:
        # onnx2tf simplifies the ONNX file in place: give it a copy, with TF-safe names.
        model_copy = work / onnx_path.name
        renamed = write_tf_safe_copy(onnx_path, model_copy)
        fwd = {old: new for new, old in renamed.items()}
        keep_names = [fwd.get(s.name, s.name) for s in inputs if 3 <= len(s.shape) <= 5]
        cmd = [
            str(env.python),
            "-m",
            "onnx2tf",
            "-i",
            str(model_copy),
            "-o",
            str(work / "out"),
            "-osd",
            "-v",
            "info",
        ]
        if keep_layout and keep_names:
            cmd += ["-k", *keep_names]
        if "int8" in wanted and calibration is not None:
            # onnx2tf wants calibration in the TF model's input layout.
            calib = calibration
            if not keep_layout and calibration.ndim >= 3:
                calib = calibration.transpose((0, *range(2, calibration.ndim), 1))
            npy = work / "calibration.npy"
            np.save(npy, np.ascontiguousarray(calib, dtype=np.float32), allow_pickle=False)
            cmd += [
                "-oiqt",
                "-qt",
                quant_type,
                "-cind",
                fwd.get(inputs[0].name, inputs[0].name),
                str(npy),
                f"[{float(calibration_mean)!r}]",
                f"[{float(calibration_std)!r}]",
            ]
        say(f"converter: onnx2tf {onnx_path.name} -> {', '.join(wanted)}")
        started = time.monotonic()
        _run_logged(
            cmd,
            log,
            "onnx2tf conversion",
            say=None,
            env=env.subprocess_env(),
            cwd=work,
            timeout_s=timeout_s,
            decisive=renamed,
            label=log_label,
        )
        duration_s = time.monotonic() - started
        versions = env.versions()
        samples, source = _verification_inputs(verify_inputs, calibration, inputs[0].shape)
        reference_out = reference.run_all({inputs[0].name: samples}) if len(inputs) == 1 else None
        results: dict[Precision, ConvertedModel] = {}
        for precision in wanted:
            produced = work / "out" / f"{model_copy.stem}{_ONNX2TF_SUFFIX[precision]}"
            if not produced.is_file():
                raise ConversionError(
                    f"{onnx_path}: onnx2tf did not produce {produced.name}; "
                    f"log: {log_label or log}"
                )
            target = out_dir / f"{onnx_path.stem}_{precision}.tflite"
            shutil.copyfile(produced, target)
            results[precision] = _finish(
                precision,
                target,
                onnx_path,
                inputs,
                outputs,
                versions,
                cmd,
                duration_s,
                samples,
                source,
                reference_out,
                log,
            )
            say(
                f"converter: {target.name}: max |diff| "
                f"{results[precision].verification.max_abs_diff:.3g} vs onnxruntime fp32"
            )
        return results
    finally:
        reference.close()
        shutil.rmtree(work, ignore_errors=True)


def _finish(
    precision: Precision,
    target: Path,
    onnx_path: Path,
    inputs: Sequence[object],
    outputs: Sequence[object],
    versions: dict[str, str],
    cmd: list[str],
    duration_s: float,
    samples: np.ndarray,
    source: str,
    reference_out: list[np.ndarray] | None,
    log: Path,
) -> ConvertedModel:
    """Work out the layout, write the sidecar, load the model in edgekit's backend and compare."""
    from edgekit.backends.base import TensorSpec

    in_specs = [s for s in inputs if isinstance(s, TensorSpec)]
    out_specs = [s for s in outputs if isinstance(s, TensorSpec)]
    try:
        probe = TFLiteBackend(target, threads=1, layout=TFLiteLayout())
    except ModelError as e:
        raise ConversionError(f"{target}: converted model does not load: {e}") from e
    try:
        layout = _detect_layout(probe, in_specs, out_specs, target)
    finally:
        probe.close()
    layout_sidecar_path(target).write_text(layout.to_json(), encoding="utf-8")
    try:
        backend = TFLiteBackend(target, threads=1, layout=layout)
    except ModelError as e:
        raise ConversionError(f"{target}: converted model does not load: {e}") from e
    try:
        if reference_out is None:
            raise ConversionError(f"{target}: verification supports single-input models")
        try:
            got = backend.run_all({backend.input_spec[0].name: samples})
        except ModelError as e:
            raise ConversionError(f"{target}: converted model fails to run: {e}") from e
        verification = _compare(reference_out, got, source, target)
        in_q = backend.input_spec[0].quantization
        out_q = backend.output_spec[0].quantization
    finally:
        backend.close()
    perm = layout.input_perms[0] if layout.input_perms else None
    return ConvertedModel(
        precision=precision,
        tflite_path=target,
        onnx_path=onnx_path,
        layout=layout,
        input_layout="original" if perm is None else "channels_last",
        input_quantization=in_q,
        output_quantization=out_q,
        converter_versions=dict(versions),
        command=list(cmd),
        duration_s=round(duration_s, 3),
        verification=verification,
        size_bytes=target.stat().st_size,
        log_path=log,
    )


def _detect_layout(
    probe: TFLiteBackend, inputs: Sequence[object], outputs: Sequence[object], target: Path
) -> TFLiteLayout:
    """Match the TFLite tensors to the ONNX ones (by name, else position) and find permutations."""
    from edgekit.backends.base import TensorSpec

    in_specs = [s for s in inputs if isinstance(s, TensorSpec)]
    out_specs = [s for s in outputs if isinstance(s, TensorSpec)]
    if len(probe.input_spec) != len(in_specs) or len(probe.output_spec) != len(out_specs):
        raise ConversionError(
            f"{target}: converted model has {len(probe.input_spec)} inputs/"
            f"{len(probe.output_spec)} outputs, ONNX has {len(in_specs)}/{len(out_specs)}"
        )

    def order(tfl: Sequence[TensorSpec], onnx: Sequence[TensorSpec]) -> tuple[int, ...]:
        names = [s.name for s in tfl]
        if all(s.name in names for s in onnx):
            return tuple(names.index(s.name) for s in onnx)
        # onnx2tf renames tensors it cannot keep (an exposed intermediate such as
        # "/23/Flatten_output_0"): then match by shape, when every shape fits exactly one tensor
        fits = [[k for k, t in enumerate(tfl) if _relatable(o.shape, t.shape)] for o in onnx]
        if all(len(f) == 1 for f in fits) and len({f[0] for f in fits}) == len(onnx):
            return tuple(f[0] for f in fits)
        return tuple(range(len(onnx)))

    in_order = order(probe.input_spec, in_specs)
    out_order = order(probe.output_spec, out_specs)
    try:
        in_perms = tuple(
            detect_permutation(o.shape, probe.input_spec[k].shape)
            for o, k in zip(in_specs, in_order, strict=True)
        )
        out_perms_fwd = [
            detect_permutation(o.shape, probe.output_spec[k].shape)
            for o, k in zip(out_specs, out_order, strict=True)
        ]
    except ModelError as e:
        raise ConversionError(f"{target}: cannot relate TFLite tensors to ONNX ones: {e}") from e
    out_perms = tuple(None if p is None else invert_perm(p) for p in out_perms_fwd)
    return TFLiteLayout(
        input_perms=in_perms,
        output_perms=out_perms,
        input_order=None if in_order == tuple(range(len(in_order))) else in_order,
        output_order=None if out_order == tuple(range(len(out_order))) else out_order,
        input_names=tuple(s.name for s in in_specs),
        output_names=tuple(s.name for s in out_specs),
    )


def _relatable(original: Sequence[Any], converted: Sequence[Any]) -> bool:
    """Whether ``converted`` is ``original`` up to a permutation of its axes."""
    try:
        detect_permutation(original, converted)
    except ModelError:
        return False
    return True


def _compare(
    reference: list[np.ndarray], got: list[np.ndarray], source: str, target: Path
) -> Verification:
    if len(reference) != len(got):
        raise ConversionError(f"{target}: {len(got)} outputs, onnxruntime gives {len(reference)}")
    max_abs = 0.0
    max_rel = 0.0
    for ref, out in zip(reference, got, strict=True):
        if ref.shape != out.shape:
            raise ConversionError(
                f"{target}: output shape {out.shape} differs from onnxruntime's {ref.shape}"
            )
        diff = float(np.max(np.abs(ref.astype(np.float64) - out.astype(np.float64)), initial=0.0))
        scale = float(np.max(np.abs(ref), initial=0.0)) or 1.0
        max_abs = max(max_abs, diff)
        max_rel = max(max_rel, diff / scale)
    first_ref, first_got = reference[0], got[0]
    if first_ref.ndim >= 2:
        ref_cls = first_ref.reshape(first_ref.shape[0], -1).argmax(axis=1)
        got_cls = first_got.reshape(first_got.shape[0], -1).argmax(axis=1)
        agreement = float(np.mean(ref_cls == got_cls))
    else:
        agreement = float("nan")
    return Verification(
        n_samples=int(first_ref.shape[0]) if first_ref.ndim else 1,
        max_abs_diff=max_abs,
        max_rel_diff=max_rel,
        argmax_agreement=agreement,
        inputs=source,
    )


def _verification_inputs(
    verify_inputs: np.ndarray | None,
    calibration: np.ndarray | None,
    shape: Sequence[object],
) -> tuple[np.ndarray, str]:
    if verify_inputs is not None:
        return _checked_batch(verify_inputs, shape, Path("verify_inputs"), "verify_inputs"), (
            "caller"
        )
    if calibration is not None:
        return calibration[:16], "calibration[:16]"
    dims = [d if isinstance(d, int) else 1 for d in shape]
    dims[0] = 16
    rng = np.random.default_rng(0)
    return rng.standard_normal(dims).astype(np.float32), "synthetic standard-normal (seed 0)"


def _checked_batch(x: np.ndarray, shape: Sequence[object], where: Path, what: str) -> np.ndarray:
    arr = np.asarray(x)
    # The batch dimension is not checked: backends feed a fixed-batch model one batch at a time.
    ok = arr.ndim == len(shape) and all(
        not isinstance(d, int) or d == n for d, n in zip(shape[1:], arr.shape[1:], strict=True)
    )
    if not ok or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.floating):
        raise ConversionError(
            f"{where}: {what} must be a non-empty float batch of shape {tuple(shape)}, "
            f"got {arr.dtype} {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ConversionError(f"{where}: {what} contains NaN or infinity")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _run_logged(
    cmd: Sequence[str],
    log: Path,
    step: str,
    *,
    say: Callable[[str], object] | None,
    append: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float | None = None,
    decisive: dict[str, str] | None = None,
    label: str | None = None,
) -> None:
    """Run ``cmd`` with output to ``log``; on failure raise ConversionError naming the step.

    With ``decisive`` (a map of renamed -> original names) the error quotes the log's decisive
    line once, names mapped back, instead of its tail.
    """
    tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with log.open("a" if append else "w", encoding="utf-8") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        with contextlib.ExitStack() as stack:
            try:
                # Its own process group, stopped with the build on an error, SIGINT or SIGTERM,
                # and killed by the kernel if edgekit itself is killed (edgekit.children).
                proc = stack.enter_context(
                    child(
                        list(cmd),
                        foreign=True,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        text=True,
                        errors="replace",
                        env=dict(env) if env is not None else None,
                        cwd=cwd,
                    )
                )
            except OSError as e:
                raise ConversionError(f"{step} could not start ({cmd[0]}): {e}") from e
            if proc.stdout is None:  # pragma: no cover - PIPE always gives a stream
                raise ConversionError(f"{step}: no output stream")
            for raw in proc.stdout:
                line = _ANSI.sub("", raw.rstrip("\n"))
                f.write(line + "\n")
                if line.strip():
                    tail.append(line)
                    if say is not None:
                        say(line)
                    elif is_verbose():  # --verbose: the child's output shown as it comes
                        print(line, file=sys.stderr, flush=True)
                if deadline is not None and time.monotonic() > deadline:
                    raise ConversionError(f"{step} timed out after {timeout_s:.0f} s; log: {log}")
            rc = proc.wait()
    if rc != 0:
        if decisive is not None:
            line = decisive_line(log.read_text(encoding="utf-8", errors="replace"), decisive)
            raise ConversionError(f"{step} failed (exit {rc}): {line}; log: {label or log}")
        raise ConversionError(
            f"{step} failed (exit {rc}); log: {label or log}\n"
            + "\n".join(f"  | {t}" for t in tail)
        )


def _tail(text: str) -> str:
    lines = [_ANSI.sub("", t) for t in text.strip().splitlines() if t.strip()]
    return "\n".join(f"  | {t}" for t in lines[-_LOG_TAIL_LINES:])


def _rewrite_paths(tmp: Path, final: Path) -> None:
    """Replace the temporary venv path with the final one in bin/ scripts and pyvenv.cfg."""
    old, new = str(tmp).encode(), str(final).encode()
    candidates = [tmp / "pyvenv.cfg", *(p for p in (tmp / "bin").iterdir() if p.is_file())]
    for path in candidates:
        if path.is_symlink():
            continue
        data = path.read_bytes()
        if old in data and b"\0" not in data[:4096]:
            path.write_bytes(data.replace(old, new))


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the block (released if the process dies)."""
    with path.open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
