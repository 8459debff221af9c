"""Capture in, decision out: preprocessing, inference, the OOD decision, and the fallback.

No I/O: the daemon hands a decoded capture and its age; the engine answers with an ``Outcome``.
The primary model runs under a ``Watchdog`` (one worker thread) bounded by what is left of the
latency budget after the capture's age and a reserve for the baseline; when the primary raises,
would overrun (no time left, or still busy with an earlier overrun) or never loaded, the answer
comes from the baseline marked as fallback, or is "unavailable" when there is none. One
exception: a capture already past its budget is answered by the model itself (late, marked
OVERRUN) when the baseline is measured to be no faster than the model, since falling back
would only make the next captures later still. Every path returns an Outcome: nothing is
dropped.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from edgekit.runtime.baseline import Baseline
from edgekit.runtime.model import ModelRunner, Prediction
from edgekit.runtime.osthread import name_os_thread

__all__ = ["RETIME_EVERY", "WARM_UP_TIMED_CALLS", "Engine", "Outcome", "ResultStatus", "Watchdog"]

WARM_UP_TIMED_CALLS = 5  # warm-up times the best of this many calls of each model
RETIME_EVERY = 50  # a baseline judged slower answers one in this many late captures (re-timing it)

ResultStatus = Literal["ok", "unknown", "fallback", "unavailable", "skipped"]
Source = Literal["model", "baseline", "none"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The daemon's answer to one capture.

    ``status``: ``ok`` (the model's label), ``unknown`` (the model, below the OOD threshold),
    ``fallback`` (the baseline answered; ``label`` None when it said unknown), ``unavailable``
    (no model could answer), ``skipped`` (the governor lowered the inference rate).
    ``reason`` says why a fallback, unavailable or skip happened (``error``, ``overrun``,
    ``not_loaded``, ``governor``) and ``detail`` what exactly. ``predicted`` is the primary's top
    label even when it said unknown; ``preprocessed`` its input (for drift).
    """

    status: ResultStatus
    label: str | None
    label_index: int | None
    confidence: float
    source: Source
    model: str | None
    reason: str | None = None
    detail: str | None = None
    overrun: bool = False
    predicted: str | None = None
    score: float | None = None
    preprocess_s: float = 0.0
    inference_s: float = 0.0
    preprocessed: np.ndarray | None = field(default=None, compare=False, repr=False)
    # validated precision in the capture's condition (edgekit.runtime.context); None without one
    context: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def display_label(self) -> str:
        """The label, or the status when there is none ("unknown", "unavailable", "skipped")."""
        if self.label is not None:
            return self.label
        return "unknown" if self.status in ("unknown", "fallback") else self.status

    @property
    def unknown(self) -> bool:
        """True when no label is given (the RESULT's UNKNOWN flag)."""
        return self.label is None


class Watchdog:
    """Runs one call at a time on a worker thread; the caller waits at most a deadline.

    A call that overruns keeps running (a native inference cannot be interrupted); until it
    finishes the watchdog is ``busy`` and later calls are refused at once, so an overrun costs
    the captures behind it a fallback, not a queue.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[int, Callable[[], Any]] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[int, bool, Any]] = queue.SimpleQueue()
        self._ids = 0
        self._in_flight: int | None = None
        self._thread = threading.Thread(target=self._work, name="edgekit-inference", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """True while an earlier call that overran is still running."""
        self._collect()
        return self._in_flight is not None

    def call(self, fn: Callable[[], Any], timeout_s: float) -> tuple[str, Any]:
        """("done", value), ("error", exception), ("timeout", None) or ("busy", None)."""
        if self.busy:
            return "busy", None
        self._ids += 1
        job = self._ids
        self._in_flight = job
        self._jobs.put((job, fn))
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                got, ok, value = self._done.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return "timeout", None
            if got == job:
                self._in_flight = None
                return ("done", value) if ok else ("error", value)
            # a late answer to an earlier, abandoned call: drop it and keep waiting

    def close(self) -> None:
        self._jobs.put(None)

    def _collect(self) -> None:
        while self._in_flight is not None:
            try:
                got, _, _ = self._done.get_nowait()
            except queue.Empty:
                return
            if got == self._in_flight:
                self._in_flight = None

    def _work(self) -> None:
        name_os_thread("ek-inference")  # so per-thread CPU figures can name it
        while (item := self._jobs.get()) is not None:
            job, fn = item
            try:
                self._done.put((job, True, fn()))
            except Exception as e:  # reported to the caller, who falls back
                self._done.put((job, False, e))


class Engine:
    """Decides one capture at a time (see the module docstring)."""

    def __init__(
        self,
        labels: list[str],
        primary: ModelRunner | None,
        baseline: Baseline | None,
        *,
        budget_s: float | None,
        reserve_s: float = 0.005,
        primary_error: str | None = None,
        annotate: Callable[[np.ndarray, Outcome], Outcome] | None = None,
    ) -> None:
        self.labels = labels
        self.annotate = annotate  # e.g. ContextTable.attach: adds context to each answer
        self._index = {name: i for i, name in enumerate(labels)}
        self.primary = primary
        self.baseline = baseline
        self.budget_s = budget_s
        self.reserve_s = reserve_s
        self.primary_error = primary_error
        self._watchdog = Watchdog() if budget_s is not None else None
        # typical seconds per answer of each (EWMA), to know whether falling back saves time
        self._primary_s: float | None = None
        self._baseline_s: float | None = None
        self._late_by_model = 0  # late captures the model answered since the baseline was timed

    def swap_primary(self, runner: ModelRunner) -> ModelRunner | None:
        """Use ``runner`` from the next capture on; returns the previous one (to close)."""
        old, self.primary = self.primary, runner
        self.primary_error = None
        return old

    def decide(self, x: np.ndarray, *, age_s: float = 0.0) -> Outcome:
        """Answer one decoded capture ``(1, 2, L)`` that ended ``age_s`` seconds ago."""
        outcome = self._decide(x, age_s)
        if self.annotate is None:
            return outcome
        try:
            return self.annotate(x, outcome)
        except Exception:  # context is an extra: its failure never costs the answer
            return outcome

    def _decide(self, x: np.ndarray, age_s: float) -> Outcome:
        primary = self.primary
        if primary is None:
            return self._fallback(x, "not_loaded", self.primary_error or "no model loaded", False)
        if self._watchdog is None or self.budget_s is None:
            try:
                p = primary.predict(x)
            except Exception as e:
                return self._fallback(x, "error", _describe(e), False)
            return self._from_primary(primary, p)
        left_s = self.budget_s - age_s - self.reserve_s
        if left_s <= 0:
            detail = f"capture already {age_s * 1e3:.1f} ms old, budget {self.budget_s * 1e3:.0f} ms"
            if self.baseline is not None and not self._baseline_is_cheaper() and not self._retime_baseline():
                # A baseline slower than the model would only push the next captures further
                # past their budget (a daemon that fell behind would never catch up): the model
                # answers, late, marked OVERRUN.
                state, value = self._watchdog.call(lambda: primary.predict(x), self._hang_guard_s())
                if state == "done":
                    self._note_primary(value)
                    late = self._from_primary(primary, value)
                    return replace(
                        late,
                        reason="overrun",
                        overrun=True,
                        detail=f"{detail}; the model answered (the baseline is not faster)",
                    )
            return self._fallback(x, "overrun", detail, True)
        state, value = self._watchdog.call(lambda: primary.predict(x), left_s)
        if state == "done":
            self._note_primary(value)
            return self._from_primary(primary, value)
        if state == "error":
            return self._fallback(x, "error", _describe(value), False)
        if state == "busy":
            return self._fallback(x, "overrun", "the model is still busy with an earlier capture", True)
        return self._fallback(x, "overrun", f"no answer within {left_s * 1e3:.1f} ms", True)

    def _baseline_is_cheaper(self) -> bool:
        p, b = self._primary_s, self._baseline_s
        return p is None or b is None or b < p

    def _retime_baseline(self) -> bool:
        """Whether this late capture goes to the baseline although it was judged slower.

        Only the baseline's own answers time it, so one slow timing (a preempted warm-up on a
        busy host) would otherwise decide for the rest of the run. Every ``RETIME_EVERY``-th
        late capture the model would answer goes to the baseline instead (a fallback, marked
        overrun like any late answer), and that answer's time replaces the estimate (the old one
        is the suspect).
        """
        self._late_by_model += 1
        if self._late_by_model < RETIME_EVERY:
            return False
        self._late_by_model = 0
        self._baseline_s = None
        return True

    def _hang_guard_s(self) -> float:
        """How long a late capture may keep the model: ten times its usual time (>= 50 ms)."""
        return max(0.05, 10.0 * (self._primary_s or 0.0))

    def _note_primary(self, p: Prediction) -> None:
        self._primary_s = _ewma(self._primary_s, p.preprocess_s + p.inference_s)

    def warm_up(self, x: np.ndarray) -> dict[str, float | str]:
        """Run the primary and the baseline on ``x`` (one untimed first call, which allocates,
        then the best of ``WARM_UP_TIMED_CALLS``); returns each one's time in seconds, or the
        error it raised."""
        out: dict[str, float | str] = {}
        for name, call in (
            ("primary", self.primary.predict if self.primary else None),
            ("baseline", self.baseline.answer if self.baseline else None),
        ):
            if call is None:
                continue
            try:
                call(x)  # the first call allocates
                # the best of a few calls: one call preempted on a busy host is not its cost
                took = math.inf
                for _ in range(WARM_UP_TIMED_CALLS):
                    t0 = time.perf_counter()
                    call(x)
                    took = min(took, time.perf_counter() - t0)
                out[name] = took
            except Exception as e:
                out[name] = _describe(e)
                continue
            if name == "primary":
                self._primary_s = took
            else:
                self._baseline_s = took
        return out

    def skip(self, detail: str) -> Outcome:
        """An explicit non-answer for a capture the governor does not infer."""
        return Outcome("skipped", None, None, 0.0, "none", None, "governor", detail)

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.close()
        for m in (self.primary, self.baseline):
            if m is not None:
                m.close()

    # -- internals -------------------------------------------------------------------------------
    def _from_primary(self, runner: ModelRunner, p: Prediction) -> Outcome:
        top = runner.labels[p.label_index]
        if p.unknown:
            return Outcome(
                "unknown",
                None,
                None,
                p.confidence,
                "model",
                runner.name,
                predicted=top,
                score=p.score,
                preprocess_s=p.preprocess_s,
                inference_s=p.inference_s,
                preprocessed=p.preprocessed,
            )
        return Outcome(
            "ok",
            top,
            self._index.get(top),
            p.confidence,
            "model",
            runner.name,
            predicted=top,
            score=p.score,
            preprocess_s=p.preprocess_s,
            inference_s=p.inference_s,
            preprocessed=p.preprocessed,
        )

    def _fallback(self, x: np.ndarray, reason: str, detail: str, overrun: bool) -> Outcome:
        baseline = self.baseline
        if baseline is None:
            return Outcome("unavailable", None, None, 0.0, "none", None, reason, detail, overrun)
        t0 = time.perf_counter()
        try:
            answer = baseline.answer(x)
        except Exception as e:
            detail = f"{detail}; baseline failed too: {_describe(e)}"
            return Outcome("unavailable", None, None, 0.0, "none", None, reason, detail, overrun)
        took_s = time.perf_counter() - t0
        self._baseline_s = _ewma(self._baseline_s, took_s)
        label = answer.label
        conf = answer.confidence if math.isfinite(answer.confidence) else 0.0
        return Outcome(
            "fallback",
            label,
            None if label is None else self._index.get(label),
            conf,
            "baseline",
            baseline.name,
            reason,
            detail,
            overrun,
            inference_s=took_s,
        )


def _ewma(old: float | None, new: float, weight: float = 0.1) -> float:
    return new if old is None else (1.0 - weight) * old + weight * new


def _describe(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}"[:300]
