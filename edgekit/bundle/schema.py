"""The manifest's schema (version 1): the type and shape of every field a loader uses.

:func:`validate_manifest` turns any malformed manifest into one :class:`BundleError` line naming
the key (``variants[1].file``) and what would be accepted, so a loader never meets a surprise
type. Besides types it checks what makes a bundle safe to load: every path is relative and stays
inside the bundle, and every file a variant loads (``file``, ``extra_files``, and the TFLite
layout sidecar the backend reads beside its model) is listed in ``files`` with a SHA-256.
Unknown keys are allowed (the bundle ID covers them) except in ``backend_options``, whose keys
become keyword arguments of the backend.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from edgekit.backends.base import SUFFIXES
from edgekit.backends.tflite import layout_sidecar_path
from edgekit.bundle.context_section import check_context
from edgekit.bundle.manifest import MANIFEST, MANIFEST_SCHEMA_VERSION, SIGNATURE
from edgekit.errors import BundleError, ConfigError
from edgekit.signals.bands import BandThresholds

__all__ = [
    "MAX_FILES",
    "MAX_INPUT_ELEMENTS",
    "MAX_VARIANTS",
    "RUNTIMES",
    "check_relpath",
    "tflite_sidecar",
    "validate_manifest",
]

MAX_FILES = 10_000
MAX_VARIANTS = 64
MAX_EXTRA_FILES = 64
MAX_RANK = 8
MAX_DIM = 1 << 24
MAX_INPUT_ELEMENTS = 1 << 24
"""Elements of one sample (the shape without its batch axis): 64 MiB of float32 at most."""
MAX_LABELS = 100_000
RUNTIMES = ("onnxruntime", "tflite", "tl2cgen")
_BACKEND_OPTIONS: dict[str, dict[str, Callable[[Any, str], None]]] = {}  # filled below
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
_DTYPE = re.compile(r"[A-Za-z0-9_]{1,32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "a list" if isinstance(v, list) else "a table"


def _show(v: Any) -> str:
    text = repr(v)
    return f"{_kind(v)} {text if len(text) <= 60 else text[:57] + '...'}"


def _bad(key: str, expect: str, v: Any) -> BundleError:
    return BundleError(f"{key}: must be {expect}, got {_show(v)}")


def _table(v: Any, key: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _bad(key, "a table", v)
    return v


def _table_or_null(v: Any, key: str) -> dict[str, Any]:
    """A table, or null read as an empty one."""
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _bad(key, "a table or null", v)
    return v


def _list(v: Any, key: str, *, most: int, least: int = 0) -> list[Any]:
    if not isinstance(v, list):
        raise _bad(key, "a list", v)
    if not least <= len(v) <= most:
        raise BundleError(f"{key}: must hold {least} to {most} entries, got {len(v)}")
    return v


def _text(
    v: Any,
    key: str,
    *,
    null: bool = False,
    most: int = 1000,
    least: int = 1,
    pattern: re.Pattern[str] | None = None,
    accepted: str = "",
) -> str | None:
    if v is None and null:
        return None
    expect = accepted or f"a string of {least} to {most} characters" + (" or null" if null else "")
    if not isinstance(v, str) or not least <= len(v) <= most:
        raise _bad(key, expect, v)
    if pattern is not None and not pattern.fullmatch(v):
        raise _bad(key, expect, v)
    return v


def _num(v: Any, key: str, *, null: bool = True, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    if v is None and null:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        span = "" if (lo, hi) == (-math.inf, math.inf) else f" in [{lo:g}, {hi:g}]"
        raise _bad(key, f"a number{span}" + (" or null" if null else ""), v)
    return float(v)


def _int(v: Any, key: str, *, lo: int, hi: int, null: bool = False) -> int | None:
    if v is None and null:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(key, f"an integer in [{lo}, {hi}]" + (" or null" if null else ""), v)
    return v


def _choice(v: Any, key: str, accepted: tuple[Any, ...]) -> None:
    if v not in accepted or isinstance(v, bool):
        raise _bad(key, "one of " + ", ".join("null" if a is None else a for a in accepted), v)


def _free_text(v: Any, key: str, most: int = 10_000) -> None:
    """Descriptive text: any string (empty too) up to ``most`` characters, or null."""
    _text(v, key, null=True, most=most, least=0)


def _optional(m: dict[str, Any], key: str, check: Callable[[Any, str], Any], where: str = "") -> None:
    if key in m:
        check(m[key], f"{where}{key}")


def check_relpath(v: Any, key: str) -> str:
    """A relative POSIX path inside the bundle: no leading '/', no '.' or '..' parts, no '\\'."""
    if not isinstance(v, str):
        raise _bad(key, "a relative path like 'variants/model.onnx'", v)
    why = ""
    if not 1 <= len(v) <= 1024:
        why = "1 to 1024 characters"
    elif _CONTROL.search(v) or "\\" in v:
        why = "no control characters or backslashes"
    elif v.startswith("/"):
        why = "absolute paths are refused"
    elif any(p in ("", ".", "..") or len(p.encode("utf-8", "replace")) > 255 for p in v.split("/")):
        why = "no empty, '.' or '..' parts, each at most 255 bytes"
    elif v in (MANIFEST, SIGNATURE):
        why = f"{v} is the bundle's own and never listed"
    if why:
        raise BundleError(f"{key}: {v[:80]!r} is not a relative path inside the bundle ({why})")
    return v


def tflite_sidecar(model_rel: str) -> str:
    """The layout sidecar the TFLite backend reads beside ``model_rel``, bundle-relative."""
    return layout_sidecar_path(Path(model_rel)).as_posix()


def _shape(v: Any, key: str) -> None:
    dims = _list(v, key, most=MAX_RANK, least=1)
    elements = 1
    for i, d in enumerate(dims):
        k = f"{key}[{i}]"
        if isinstance(d, str):
            _text(d, k, most=64, accepted="a size, a symbolic name (1-64 characters) or null")
        elif d is not None:
            n = _int(d, k, lo=0, hi=MAX_DIM)
            if i > 0 and n:
                elements *= n
        if elements > MAX_INPUT_ELEMENTS:
            raise BundleError(
                f"{key}: one sample of shape {dims!r} has over {MAX_INPUT_ELEMENTS} elements; "
                "not a model edgekit can feed"
            )


def _perm(v: Any, key: str) -> None:
    perm = _list(v, key, most=MAX_RANK, least=1)
    if sorted(p if isinstance(p, int) and not isinstance(p, bool) else -1 for p in perm) != list(
        range(len(perm))
    ):
        raise _bad(key, f"a permutation of 0..{len(perm) - 1}", v)


def _shapes(v: Any, key: str) -> None:
    for i, s in enumerate(_list(v, key, most=64)):
        _shape(s, f"{key}[{i}]")


def _optimization(v: Any, key: str) -> None:
    _choice(v, key, ("disable", "basic", "extended", "all"))


_MACHINE = re.compile(r"[a-z0-9_]{1,32}")
_LIBRARY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}\.so")


def _libraries(v: Any, key: str) -> None:
    """Compiled trees: machine (``aarch64``) -> a shared library's file name beside the model."""
    table = _table(v, key)
    if not 1 <= len(table) <= 16:
        raise BundleError(f"{key}: must hold 1 to 16 machines, got {len(table)}")
    for machine, name in table.items():
        _text(machine, f"{key} key", pattern=_MACHINE, accepted="a machine name such as aarch64")
        _text(name, f"{key}.{machine}", pattern=_LIBRARY, accepted="a .so file name (no folder)")


def _io_name(v: Any, key: str) -> None:
    _text(v, key, most=200)


def _io_name_or_null(v: Any, key: str) -> None:
    _text(v, key, most=200, null=True)


def _output_names(v: Any, key: str) -> None:
    for i, n in enumerate(_list(v, key, most=16, least=1)):
        _text(n, f"{key}[{i}]", most=200)


_BACKEND_OPTIONS.update(
    onnxruntime={"optimization": _optimization},
    tflite={"transpose_input": _perm, "original_input_shapes": _shapes},
    tl2cgen={
        "libraries": _libraries,
        "input_name": _io_name,
        "outputs": _output_names,
        "label_output": _io_name_or_null,
    },
)


def tl2cgen_libraries(rel: str, options: dict[str, Any]) -> list[str]:
    """Bundle paths of the libraries a compiled-trees variant may load (the model's siblings)."""
    parent = PurePosixPath(rel).parent
    libs = options.get("libraries") if isinstance(options, dict) else None
    return [str(parent / n) for n in (libs or {}).values() if isinstance(n, str)]


def _files(v: Any) -> dict[str, Any]:
    files = _table(v, "files")
    if not 1 <= len(files) <= MAX_FILES:
        raise BundleError(f"files: must list 1 to {MAX_FILES} files, got {len(files)}")
    for rel, digest in files.items():
        check_relpath(rel, f"files key {rel[:80]!r}")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise _bad(f"files[{rel[:80]!r}]", "a SHA-256 of 64 lowercase hex digits", digest)
    return files


def _variant(v: Any, key: str, files: dict[str, Any]) -> dict[str, Any]:
    var = _table(v, key)
    for required in ("name", "file", "runtime"):
        if required not in var:
            raise BundleError(f"{key}: missing {required!r}; a variant needs name, file and runtime")
    _text(var["name"], f"{key}.name", pattern=_NAME, accepted="a name of letters, digits and ._+- (1-100)")
    runtime = var["runtime"]
    if runtime not in RUNTIMES:
        raise _bad(f"{key}.runtime", "one of " + ", ".join(RUNTIMES), runtime)
    rel = check_relpath(var["file"], f"{key}.file")
    suffix = PurePosixPath(rel).suffix.lower()
    if SUFFIXES.get(suffix) != runtime:
        wanted = [s for s, r in SUFFIXES.items() if r == runtime]
        raise BundleError(
            f"{key}.file: {rel!r} is not a {runtime} model (expected a {'/'.join(wanted)} file)"
        )
    extras = _list(var.get("extra_files", []), f"{key}.extra_files", most=MAX_EXTRA_FILES)
    for i, e in enumerate(extras):
        check_relpath(e, f"{key}.extra_files[{i}]")
    if len(set(extras)) != len(extras) or rel in extras:
        raise BundleError(f"{key}.extra_files: lists a file twice (or the model file itself)")
    for k, path in [(f"{key}.file", rel)] + [(f"{key}.extra_files[{i}]", e) for i, e in enumerate(extras)]:
        if path not in files:
            raise BundleError(
                f"{k}: {path!r} is not listed in 'files'; "
                "every file a variant loads must have a SHA-256 there"
            )
    if runtime == "tflite":
        sidecar = tflite_sidecar(rel)
        if sidecar in files and sidecar not in extras:
            raise BundleError(
                f"{key}.extra_files: the TFLite backend reads {sidecar!r} beside the model; list it here"
            )
    options = _table_or_null(var.get("backend_options"), f"{key}.backend_options")
    allowed = _BACKEND_OPTIONS[runtime]
    for name, value in options.items():
        if name not in allowed:
            raise BundleError(
                f"{key}.backend_options: unknown option {name[:60]!r} for {runtime}; "
                f"accepted: {', '.join(allowed)}"
            )
        allowed[name](value, f"{key}.backend_options.{name}")
    if runtime == "tl2cgen":  # a library is code: each one the backend may dlopen is hashed
        for lib in tl2cgen_libraries(rel, options):
            if lib != rel and lib not in extras:
                raise BundleError(
                    f"{key}.backend_options.libraries: {lib!r} is not in the variant's extra_files; "
                    "every library the backend may load must be listed and hashed"
                )
    _optional(var, "precision", lambda x, k: _free_text(x, k, 32), f"{key}.")
    _optional(var, "passed", _bool_or_null, f"{key}.")
    _optional(var, "size_bytes", lambda x, k: _int(x, k, lo=0, hi=2**53 - 1, null=True), f"{key}.")
    _optional(var, "accuracy", lambda x, k: _num(x, k, lo=0.0, hi=1.0), f"{key}.")
    _optional(var, "ood_threshold", lambda x, k: _num(x, k), f"{key}.")
    for name in ("latency", "score_cost", "energy", "meta"):
        _optional(var, name, _table_or_null, f"{key}.")
    if var.get("ood") is not None:
        _ood(var["ood"], f"{key}.ood")
        stats = var["ood"].get("statistics")
        if stats is not None and stats not in extras:
            raise BundleError(
                f"{key}.ood.statistics: {stats!r} is not in the variant's extra_files; "
                "the statistics the daemon loads must be listed and hashed"
            )
    if "checks" in var:
        for i, c in enumerate(_list(var["checks"], f"{key}.checks", most=1000)):
            _table(c, f"{key}.checks[{i}]")
    return var


def _bool_or_null(v: Any, key: str) -> None:
    if v is not None and not isinstance(v, bool):
        raise _bad(key, "true, false or null", v)


def _tensor(v: Any, key: str, *, output: bool) -> None:
    t = _table(v, key)
    needed = ("index", "name", "shape") if output else ("name", "shape", "dtype")
    for required in needed:
        if required not in t:
            raise BundleError(f"{key}: missing {required!r}; {key} needs {', '.join(needed)}")
    _text(t["name"], f"{key}.name", most=256)
    _shape(t["shape"], f"{key}.shape")
    if output:
        _int(t["index"], f"{key}.index", lo=0, hi=1023)
        _optional(t, "kind", lambda x, k: _free_text(x, k, 64), f"{key}.")
    else:
        _text(t["dtype"], f"{key}.dtype", pattern=_DTYPE, accepted="a dtype name such as 'float32'")
        if "concrete_shape" in t:
            _concrete_shape(t["concrete_shape"], f"{key}.concrete_shape", t["shape"])
        if t.get("fixed_batch") is not None:
            _int(t["fixed_batch"], f"{key}.fixed_batch", lo=1, hi=MAX_DIM)


def _concrete_shape(v: Any, key: str, declared: list[Any]) -> None:
    """The shape the build validated: positive sizes, the declared rank, declared sizes kept."""
    _shape(v, key)
    dims = v
    if len(dims) != len(declared) or any(
        not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in dims
    ):
        raise _bad(key, f"{len(declared)} positive sizes (the rank of input.shape)", v)
    for i, (c, d) in enumerate(zip(dims, declared, strict=True)):
        if i > 0 and isinstance(d, int) and d > 0 and c != d:
            raise _bad(f"{key}[{i}]", f"{d} as input.shape declares", c)


def _labels(v: Any, key: str) -> None:
    for i, label in enumerate(_list(v, key, most=MAX_LABELS)):
        _text(label, f"{key}[{i}]", most=256, least=0)


def _preprocess(v: Any, key: str) -> None:
    from edgekit.signals.preprocess import Pipeline

    steps = _list(v, key, most=64)
    try:
        Pipeline.from_spec(steps)
    except ConfigError as e:
        raise BundleError(f"{key}: {e}") from e


def _scalars(v: Any, key: str, *, numbers_only: bool) -> None:
    for name, value in _table_or_null(v, key).items():
        if numbers_only or name.startswith(("max_", "min_")):
            _num(value, f"{key}.{name}")
        elif value is not None and not isinstance(value, bool | int | float | str):
            raise _bad(f"{key}.{name}", "a number, a boolean, a string or null", value)


def _ood(v: Any, key: str) -> None:
    ood = _table_or_null(v, key)
    _optional(ood, "score", lambda x, k: _free_text(x, k, 64), f"{key}.")
    _optional(ood, "threshold", lambda x, k: _num(x, k), f"{key}.")
    _optional(ood, "target_in_distribution_accept", lambda x, k: _num(x, k, lo=0.0, hi=1.0), f"{key}.")
    # written by the build's ood stage (edgekit.builder.stages.ood); all optional
    _optional(ood, "temperature", lambda x, k: _num(x, k, lo=1e-6, hi=1e6), f"{key}.")
    _optional(ood, "features_output", lambda x, k: _int(x, k, lo=0, hi=1000, null=True), f"{key}.")
    if ood.get("statistics") is not None:
        check_relpath(ood["statistics"], f"{key}.statistics")
    # thresholds per band of the blind SNR estimate (edgekit.signals.bands): the device's own check
    BandThresholds.from_manifest(ood.get("band_thresholds"), f"{key}.band_thresholds")
    guard = ood.get("input_guard")
    if guard is not None:
        for name, value in _table(guard, f"{key}.input_guard").items():
            _num(value, f"{key}.input_guard.{name}")


def _strings(v: Any, key: str) -> None:
    for name, value in _table_or_null(v, key).items():
        _free_text(value, f"{key}.{name}")


_TOP_LEVEL: dict[str, Callable[[Any, str], Any]] = {
    "description": _free_text,
    "created_by": _free_text,
    "created_at": _free_text,
    "selection_reason": _free_text,
    "verdict": lambda x, k: _choice(x, k, ("pass", "rejected", None)),
    "preprocess": _preprocess,
    "ood": _ood,
    "reference_statistics": _table_or_null,
    "budgets": lambda x, k: _scalars(x, k, numbers_only=False),
    "battery": lambda x, k: _scalars(x, k, numbers_only=True),
    "versions": _strings,
    "host": _strings,
    "context": check_context,  # optional: results with context (edgekit.bundle.context_section)
}


def validate_manifest(manifest: dict[str, Any], source: str = MANIFEST) -> None:
    """Check every field a loader uses; one ``BundleError`` line naming ``source`` and the key."""
    try:
        _validate(manifest)
    except BundleError as e:  # one line whatever a key holds (a key name may contain a newline)
        raise BundleError(f"{source}: {_CONTROL.sub(lambda m: repr(m.group())[1:-1], str(e))}") from e


def _validate(m: dict[str, Any]) -> None:
    for required in ("schema_version", "name", "files", "variants", "input", "output", "labels"):
        if required not in m:
            raise BundleError(
                f"missing {required!r}; not an edgekit manifest (schema {MANIFEST_SCHEMA_VERSION})"
            )
    version = m["schema_version"]
    if isinstance(version, bool) or version != MANIFEST_SCHEMA_VERSION:
        raise BundleError(
            f"schema_version: manifest schema {_show(version)}; this edgekit reads {MANIFEST_SCHEMA_VERSION}"
        )
    _text(m["name"], "name", most=200)
    files = _files(m["files"])
    variants = _list(m["variants"], "variants", most=MAX_VARIANTS, least=1)
    names: list[str] = []
    for i, v in enumerate(variants):
        var = _variant(v, f"variants[{i}]", files)
        if var["name"] in names:
            raise BundleError(f"variants[{i}].name: {var['name']!r} names two variants")
        names.append(var["name"])
    selected = m.get("selected")
    if selected is not None and selected not in names:
        raise BundleError(f"selected: {_show(selected)} is not a variant; the bundle has {', '.join(names)}")
    _tensor(m["input"], "input", output=False)
    _tensor(m["output"], "output", output=True)
    _labels(m["labels"], "labels")
    for key, check in _TOP_LEVEL.items():
        if key in m:
            check(m[key], key)
