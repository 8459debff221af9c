"""Tree ensembles compiled to a shared library by TL2cgen, behind the same backend interface.

The library is the C that ``tl2cgen.generate_c_code`` writes (see :mod:`edgekit.trees.compile`),
built for this machine or cross-built for aarch64. Its C API is a handful of plain functions
(``predict(union Entry *row, int pred_margin, float *out)``, ``get_num_feature``,
``get_num_class``), so the device loads it with ctypes alone: no tree runtime, no TL2cgen install.
A ``union Entry`` is four bytes holding a float (or -1 for a missing value), so a float32 feature
row is an array of entries; ``predict`` rewrites its row in place (feature quantisation), so each
row is passed as a copy, and it adds the trees' leaves to its output, which must start at zero.

A compiled library is code: load it only from a verified bundle (``Bundle.model_path`` checks
its SHA-256, and those of the other machines' libraries, before returning the path).
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import numpy as np

from edgekit.backends.base import LoadedModel, TensorSpec, as_float_batch, check_model_file
from edgekit.errors import ModelError

__all__ = ["CompiledTreesBackend", "elf_machine", "host_machine", "library_for_machine", "open_model"]

_ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x28: "arm", 0x03: "i386"}
_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


def host_machine() -> str:
    """This machine as ELF names it (``x86_64``, ``aarch64``)."""
    m = platform.machine().lower()
    return _MACHINE_ALIASES.get(m, m)


def elf_machine(path: Path) -> str:
    """The machine an ELF file is built for (``x86_64``, ``aarch64``), read from its header."""
    with open(path, "rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        raise ModelError(f"{path}: not an ELF shared library")
    code = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return _ELF_MACHINES.get(code, f"elf-machine-{code:#x}")


def library_for_machine(path: Path, libraries: Mapping[str, str] | None, machine: str) -> Path:
    """``path`` if built for ``machine``, else the sibling that ``libraries`` names for it."""
    if libraries and machine in libraries:
        name = libraries[machine]
        if PurePosixPath(name).name != name or name in ("", ".", ".."):
            raise ModelError(
                f"{path}: libraries.{machine} must be a file name beside the model, got {name!r}"
            )
        return path.parent / name
    return path


class CompiledTreesBackend(LoadedModel):
    """A TL2cgen-compiled tree ensemble: (N, F) float32 features -> class probabilities.

    ``outputs`` lists the output names in the order the original ONNX model has them, so index
    based callers (the bundle's ``output.index``) see the same layout; ``label_output`` names the
    one that is the argmax label (int64), every other output is the probabilities.
    """

    name = "tl2cgen"
    runtime_version = "generated C, loaded with ctypes"

    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        libraries: Mapping[str, str] | None = None,
        input_name: str = "features",
        outputs: list[str] | None = None,
        label_output: str | None = None,
    ) -> None:
        self.path = check_model_file(Path(path))
        self.threads = threads  # the generated predict() is single-threaded by construction
        machine = host_machine()
        lib_path = check_model_file(library_for_machine(self.path, libraries, machine))
        built_for = elf_machine(lib_path)
        if built_for != machine:
            have = ", ".join(sorted(libraries or {})) or built_for
            raise ModelError(
                f"{lib_path}: compiled for {built_for}, this machine is {machine} "
                f"(the bundle has libraries for: {have})"
            )
        try:
            lib = ctypes.CDLL(str(lib_path.resolve()))
            self._predict = lib.predict
            n_feature = int(lib.get_num_feature())
            n_target = int(lib.get_num_target())
            n_class = ctypes.c_int32(0)
            lib.get_num_class(ctypes.byref(n_class))
        except (OSError, AttributeError) as e:
            raise ModelError(f"{lib_path}: not a TL2cgen tree library: {e}") from e
        if n_target != 1 or n_class.value < 1 or n_feature < 1:
            raise ModelError(f"{lib_path}: {n_target} targets, {n_class.value} classes: unsupported")
        self._predict.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self._predict.restype = None
        self._handle = lib
        self.library = lib_path
        self.n_features, self.n_classes = n_feature, max(int(n_class.value), 1)
        names = list(outputs or ["probabilities"])
        if label_output is not None and label_output not in names:
            raise ModelError(f"{self.path}: label_output {label_output!r} is not one of outputs {names}")
        self._label = label_output
        self.input_spec = [TensorSpec(input_name, (None, n_feature), "float32")]
        self.output_spec = [
            TensorSpec(n, (None,), "int64")
            if n == label_output
            else TensorSpec(n, (None, self.n_classes), "float32")
            for n in names
        ]

    def _scores(self, x: np.ndarray) -> np.ndarray:
        self._require_open()
        rows = as_float_batch(x, self.input_spec[0], self.path)
        # predict() adds every tree's leaf to ``out``: it must start at zero
        out = np.zeros((len(rows), self.n_classes), dtype=np.float32)
        buf = np.empty(self.n_features, dtype=np.float32)
        # raw addresses, taken once: ``array.ctypes`` builds an object per access (~1 µs, a
        # tenth of a small model's prediction), and a pointer plus the row stride is all C needs
        pbuf, pout, stride, predict = buf.ctypes.data, out.ctypes.data, out.strides[0], self._predict
        for i in range(len(rows)):
            buf[:] = rows[i]  # predict() quantises its row in place
            predict(pbuf, 0, pout + i * stride)
        return out

    def run(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities for feature rows ``x`` (N, F)."""
        return self._scores(x)

    def run_all(self, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Every output in the original model's order (probabilities, and the label if named)."""
        name = self.input_spec[0].name
        unknown = set(feeds) - {name}
        if name not in feeds or unknown:
            raise ModelError(f"{self.path}: expected exactly the input {name!r}, got {sorted(feeds)}")
        scores = self._scores(feeds[name])
        return [
            scores.argmax(axis=1).astype(np.int64) if s.name == self._label else scores
            for s in self.output_spec
        ]


def open_model(
    path: Path,
    *,
    threads: int | None = None,
    libraries: Mapping[str, str] | None = None,
    input_name: str = "features",
    outputs: list[str] | None = None,
    label_output: str | None = None,
) -> CompiledTreesBackend:
    """Registry entry point used by :func:`edgekit.backends.open_backend`."""
    return CompiledTreesBackend(
        path,
        threads=threads,
        libraries=libraries,
        input_name=input_name,
        outputs=outputs,
        label_output=label_output,
    )
