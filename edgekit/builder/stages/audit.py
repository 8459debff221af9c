"""The audit stage: artifact hygiene of every built file, then a membership-inference audit of
every variant ([privacy]).

Runs after profile and before judge and bundle: what it strips (doc strings, metadata from the
training environment, unused initializers holding member rows; a compiled-tree library's compiler
identification, static symbols and unloaded sections naming the build) is gone before the bundle hashes
and signs the files, and ``max_membership_advantage`` / ``max_membership_auc`` join the verdict
like every other budget. Without member data the attacks do not run and those budgets are
"not evaluated"; the hygiene of the environment text runs regardless.
"""

from __future__ import annotations

import gzip
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.backends import open_backend
from edgekit.builder.stages.context import Run, count
from edgekit.builder.stages.data import preprocess
from edgekit.builder.stages.load import resolve_io
from edgekit.builder.stages.scoring import score_file
from edgekit.bundle import sha256_file
from edgekit.data.dataset import Dataset, load_source
from edgekit.errors import DataError, ModelError
from edgekit.model_info import inspect_model
from edgekit.privacy.audit import audit_outputs, subsample
from edgekit.privacy.hygiene import Cleaning, strip_onnx_file
from edgekit.privacy.hygiene_elf import strip_elf_file
from edgekit.privacy.hygiene_tflite import strip_tflite_file
from edgekit.results import PrivacyResult, VariantResult

__all__ = [
    "audit",
    "clean_variants",
    "load_group",
    "reference_files",
    "reference_key",
    "score_groups",
    "score_references",
]

_CHECK_ROWS = 256  # validation rows the stripped file must reproduce exactly


def load_group(
    spec: str, key: str, labels: list[str], max_rows: int, seed: int, base_dir: Path | None
) -> tuple[Dataset, np.ndarray]:
    """The rows of ``spec`` whose class is one of ``labels`` (at most ``max_rows``, seeded)
    and their label indices; one ``DataError`` line when none is left.

    A synthetic recipe yields only its first ``max_rows`` captures: its rows are exchangeable
    (shuffled classes, independent draws), so they are a random sample of the recipe, and
    generating the whole training set to keep a few rows was most of the audit's time."""
    ds = load_source(spec, base_dir=base_dir, limit=max_rows)
    lookup = {name: i for i, name in enumerate(labels)}
    names = np.asarray(ds.labels)[ds.y]
    y = np.array([lookup.get(str(n), -1) for n in names], dtype=np.int64)
    keep = np.flatnonzero(y >= 0)
    if len(keep) < 2:
        raise DataError(
            f"{spec} (privacy.{key}): {len(keep)} rows of the model's classes {labels}; "
            "the audit needs labelled rows of those classes"
        )
    keep = keep[subsample(len(keep), max_rows, seed)]
    return ds.subset(keep), y[keep]


def reference_key(key: str | Sequence[str], i: int) -> str:
    """How messages name reference ``i``: ``key[i]`` for a key prefix (``--reference``), or the
    ``i``-th of a list of full names (the config's, see ``PrivacyConfig.reference_keys``)."""
    return f"{key}[{i}]" if isinstance(key, str) else key[i]


def reference_files(
    refs: list[str], base: Path, scratch: Path, key: str | Sequence[str] = "privacy.reference_models"
) -> list[Path]:
    """The reference models as ONNX files; ``.onnx.gz`` ones decompressed into ``scratch``
    (the run's own folder). One ``DataError`` line for a missing file (naming its key)."""
    files = []
    for i, ref in enumerate(refs):
        name = reference_key(key, i)
        path = base / ref
        if not path.is_file():
            raise DataError(
                f"{path} ({name}): not found; name an ONNX file (or "
                ".onnx.gz) relative to the config, e.g. written by scripts/train_reference.py"
            )
        if path.name.endswith(".gz"):
            plain = scratch / f"privacy-ref-{i}.onnx"
            try:
                with gzip.open(path, "rb") as src, plain.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (OSError, EOFError) as e:
                raise DataError(f"{path} ({name}): not gzip data: {e}") from e
            path = plain
        files.append(path)
    return files


def score_groups(
    path: Path,
    m_x: np.ndarray,
    n_x: np.ndarray,
    input_name: str,
    out_index: int,
    threads: int,
    opts: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's scores on members and non-members from one session (one load of the file,
    batches across both groups)."""
    s = score_file(path, np.concatenate([m_x, n_x]), input_name, out_index, threads, opts)
    return s[: len(m_x)], s[len(m_x) :]


def _reference_io(path: Path, where: str, x: np.ndarray, output_name: str, n_classes: int) -> tuple[str, int]:
    """A reference model's own input and score output, resolved by the model's rule
    (``resolve_io``), naming the output the model's scores come from (``output_name``) when the
    reference has one of that name, else its first floating-point output. One ``ModelError``
    line when its input cannot take the audited rows ``x`` or it scores other than the model's
    ``n_classes`` classes."""
    try:
        info = inspect_model(path)
    except ModelError as e:
        raise ModelError(f"{where}: {e}") from e
    if len(info.inputs) != 1:
        names = ", ".join(repr(i.name) for i in info.inputs) or "none"
        raise ModelError(f"{where}: a reference model takes one input (the captures); it has {names}")
    hint = output_name if output_name in {o.name for o in info.outputs} else ""
    name, idx, n = resolve_io(info, "", hint, where, where)
    dims = info.inputs[0].shape
    fits = len(dims) == x.ndim and all(
        not isinstance(d, int) or d == s for d, s in zip(dims[1:], x.shape[1:], strict=True)
    )
    if not fits:
        rows = ", ".join(map(str, x.shape[1:]))
        raise ModelError(
            f"{where}: input {name!r} is {list(dims)} but the model is fed rows of (N, {rows}); "
            "a reference model takes the model's input"
        )
    if n is not None and n != n_classes:
        raise ModelError(
            f"{where}: score output {info.outputs[idx].name!r} has {n} classes, the model has "
            f"{n_classes}; a reference model scores the model's classes"
        )
    return name, idx


def score_references(
    refs: list[str],
    base: Path,
    scratch: Path,
    m_x: np.ndarray,
    n_x: np.ndarray,
    *,
    output_name: str,
    n_classes: int,
    threads: int,
    key: str | Sequence[str] = "privacy.reference_models",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each reference model's scores on members and non-members, read through its own input and
    score output (``_reference_io``); a reference model need not name its tensors as the model does.
    Messages name each reference by its key (``reference_key``: the config key, or
    ``edgekit audit``'s option)."""
    m_ref: list[np.ndarray] = []
    n_ref: list[np.ndarray] = []
    for i, path in enumerate(reference_files(refs, base, scratch, key)):
        where = f"{base / refs[i]} ({reference_key(key, i)})"
        name, idx = _reference_io(path, where, m_x, output_name, n_classes)
        a, b = score_groups(path, m_x, n_x, name, idx, threads)
        if a.shape[1] != n_classes:  # a class count the file left open
            raise ModelError(
                f"{where}: scores {a.shape[1]} classes at run time, the model {n_classes}; "
                "a reference model scores the model's classes"
            )
        m_ref.append(a)
        n_ref.append(b)
    return m_ref, n_ref


def _all_outputs(
    path: Path, x: np.ndarray, input_name: str, threads: int, opts: dict[str, Any]
) -> list[np.ndarray]:
    """Every output of the model on ``x``, in rows of the batch the model accepts."""
    backend = open_backend(path, threads=threads, **opts)
    try:
        dim0 = backend.input_spec[0].shape[0] if backend.input_spec[0].shape else None
        step = dim0 if isinstance(dim0, int) and dim0 > 0 else len(x)
        if len(x) % step:
            x = x[: len(x) - len(x) % step]
        # one input: its name as this runtime reports it (a TFLite file may rename it)
        name = backend.input_spec[0].name if len(backend.input_spec) == 1 else input_name
        parts = [backend.run_all({name: x[i : i + step]}) for i in range(0, len(x), step)]
        return [np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(len(parts[0]))]
    finally:
        backend.close()


def _check_rows(run: Run, member_x: np.ndarray | None) -> np.ndarray | None:
    """The rows a stripped file must reproduce: validation data, else calibration, else members."""
    for x in (run.ev.x if run.ev is not None else None, run.calibration, member_x):
        if x is not None and len(x):
            return x[:_CHECK_ROWS]
    return None


def clean_variants(run: Run, member_x: np.ndarray | None) -> dict[str, Cleaning]:
    """Strip every built ONNX file in the staging folder (see ``edgekit.privacy.hygiene``) when
    its outputs on validation rows stay bit-identical; re-measure size and hash after."""
    cfg = run.cfg
    rows = _check_rows(run, member_x)
    done: dict[str, Cleaning] = {}
    for vr in run.built:
        path = run.staging / vr.path
        opts = run.backend_opts.get(vr.name) or {}
        if path.suffix == ".so":
            done[vr.name] = _clean_libraries(run, vr, path, opts, rows)
            continue
        strip = {".onnx": strip_onnx_file, ".tflite": strip_tflite_file}.get(path.suffix)
        if strip is None:
            done[vr.name] = Cleaning(kept=[f"{path.suffix or vr.path} file: not scanned"])
            continue

        c = strip(
            path,
            member_x[: cfg.privacy.max_rows] if member_x is not None else None,
            _same_outputs(run, rows, opts),
            keep_metadata=cfg.privacy.keep_metadata,
        )
        _note_stripped(run, vr, path, c)
        for line in c.kept:
            if "member row" in line:
                run.warnings.append(f"{vr.name}: the artifact carries {line}")
        done[vr.name] = c
    return done


def _clean_libraries(
    run: Run, vr: VariantResult, path: Path, opts: dict[str, Any], rows: np.ndarray | None
) -> Cleaning:
    """Strip a compiled-tree library and its siblings for other machines (edgekit.privacy.
    hygiene_elf); the host's library must also give bit-identical outputs on ``rows``."""
    folders: list[str | Path] = [run.staging, run.scratch, str(run.cfg.base_dir)]
    # the backend picks the library by machine: the stripped copy is named for the host alone
    same = _same_outputs(run, rows, {k: v for k, v in opts.items() if k != "libraries"})
    keep = run.cfg.privacy.keep_metadata
    total = strip_elf_file(path, same, keep_metadata=keep, folders=folders)
    libraries: dict[str, str] = opts.get("libraries") or {}
    for name in sorted(set(libraries.values()) - {path.name}):
        # another machine's library: not runnable here; its loaded sections must stay identical
        other = strip_elf_file(path.parent / name, None, keep_metadata=keep, folders=folders)
        total.removed += other.removed
        total.kept += other.kept
    _note_stripped(run, vr, path, total)
    if total.removed and libraries:
        # every library's size as shipped (the build measured them before stripping)
        sizes = {m: (path.parent / n).stat().st_size for m, n in libraries.items()}
        vr.meta["library_bytes"] = sizes
        vr.notes.append(
            "after ELF stripping: " + ", ".join(f"{m} {b / 1024:.0f} KiB" for m, b in sizes.items())
        )
    return total


def _same_outputs(run: Run, rows: np.ndarray | None, opts: dict[str, Any]) -> Callable[[Path, Path], bool]:
    """The check a stripped file must pass: every output bit-identical to the original's on
    ``rows`` (without rows there is nothing to check against: the file is kept as built)."""

    def same(a: Path, b: Path) -> bool:
        if rows is None:
            return False
        out_a = _all_outputs(a, rows, run.input_name, run.cfg.profile.threads, opts)
        out_b = _all_outputs(b, rows, run.input_name, run.cfg.profile.threads, opts)
        return len(out_a) == len(out_b) and all(
            np.array_equal(p, q, equal_nan=True) for p, q in zip(out_a, out_b, strict=True)
        )

    return same


def _note_stripped(run: Run, vr: VariantResult, path: Path, c: Cleaning) -> None:
    """After stripping, the variant's size and hash are the new file's; the log says what went."""
    if c.removed:
        vr.size_bytes = path.stat().st_size
        vr.sha256 = sha256_file(path)
        run.log(f"  {vr.name}: stripped {len(c.removed)} item(s): {'; '.join(c.removed)}")


def _record(vr: VariantResult, c: Cleaning | None, members: str, non_members: str) -> None:
    if vr.privacy is None:
        vr.privacy = PrivacyResult(members=members, non_members=non_members)
    if c is not None:
        vr.privacy.removed, vr.privacy.hygiene = list(c.removed), list(c.kept)


def audit(run: Run) -> Run:
    """Stage ``audit``: hygiene always; the attacks only with ``[privacy] members``."""
    cfg, p = run.cfg, run.cfg.privacy
    cpu0 = time.process_time()  # this process's CPU time (all threads): the host's load aside
    with run.timer.stage("audit") as d:
        pipe = run.need(run.pipe, "pipe")
        base = Path(cfg.base_dir)
        m_x = n_x = m_y = n_y = None
        if p.members:
            m_ds, m_y = load_group(p.members, "members", run.labels, p.max_rows, 1, base)
            n_ds, n_y = load_group(p.non_members, "non_members", run.labels, p.max_rows, 2, base)
            m_x = preprocess(pipe, m_ds.x, f"{p.members} (privacy.members)")
            n_x = preprocess(pipe, n_ds.x, f"{p.non_members} (privacy.non_members)")
        cleaned = clean_variants(run, m_x)
        stripped = sum(1 for c in cleaned.values() if c.removed)
        d.append(f"hygiene: {stripped} of {len(cleaned)} files stripped")
        if m_x is None or n_x is None or m_y is None or n_y is None:
            for vr in run.built:
                _record(vr, cleaned.get(vr.name), "", "")
            d.append("no [privacy] members: membership budgets not evaluated")
            return run
        m_ref, n_ref = score_references(
            p.references, base, run.scratch, m_x, n_x,
            output_name=run.need(run.info, "info").outputs[run.out_index].name,
            n_classes=len(run.labels), threads=cfg.profile.threads, key=p.reference_keys,
        )
        note = f"{len(p.references)} reference model(s): {', '.join(p.references)}"
        for vr in run.built:
            opts = run.backend_opts.get(vr.name)
            path, th = run.staging / vr.path, cfg.profile.threads
            m_s, n_s = score_groups(path, m_x, n_x, run.input_name, run.out_index, th, opts)
            vr.privacy = audit_outputs(
                member_scores=m_s,
                member_y=m_y,
                non_member_scores=n_s,
                non_member_y=n_y,
                output=cfg.model.output,
                members=p.members,
                non_members=p.non_members,
                bootstrap=p.bootstrap,
                member_reference=m_ref,
                non_member_reference=n_ref,
                reference_note=note,
            )
            _record(vr, cleaned.get(vr.name), p.members, p.non_members)
            w = vr.privacy.worst
            if w is not None:
                run.log(
                    f"  {vr.name}: membership advantage {w.advantage:.3f} "
                    f"[{w.advantage_ci[0]:.3f}, {w.advantage_ci[1]:.3f}] ({w.attack}), "
                    f"AUC {w.auc:.3f}"
                )
        d.append(
            f"{count(len(run.built), 'variant')} on {len(m_y)} members, {len(n_y)} non-members, "
            f"{count(len(p.references), 'reference model')}; CPU time {time.process_time() - cpu0:.1f} s"
        )
    return run
