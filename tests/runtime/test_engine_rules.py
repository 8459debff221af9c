"""The engine's answers field by field and its fallback rules at their edges (written against the
survivors of a mutation run): every Outcome a path returns, compared whole; the capture each model
is handed; a budget used up exactly; the hang guard; the baseline judged by its timings (equal is
not cheaper, the moving averages, the re-timing cadence); warm-up; annotate; close.

The fakes report their own times in the Prediction (what the engine averages for the model), so
the rules are driven by numbers typed in here; only the baseline's time is measured (a sleep of
known length makes it slower)."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np

from edgekit.runtime.baseline import BaselineAnswer
from edgekit.runtime.engine import RETIME_EVERY, WARM_UP_TIMED_CALLS, Engine, Outcome, Watchdog
from edgekit.runtime.model import Prediction

LABELS = ["noise", "tone", "am"]
X = np.zeros((1, 2, 8), np.float32)
PRE = np.ones((1, 4), np.float32)


class Runner:
    """A primary whose Prediction is typed in; its label list differs from the engine's order."""

    name = "fake-v"

    def __init__(self, *, index=1, unknown=False, error=None, hold_s=0.0, took_s=(0.001, 0.002)):
        self.labels = ["am", "tone", "extra"]
        self.index, self.unknown, self.error, self.hold_s, self.took_s = index, unknown, error, hold_s, took_s
        self.inputs: list = []
        self.closed = 0

    def predict(self, x):
        self.inputs.append(x)
        if self.hold_s:
            time.sleep(self.hold_s)
        if self.error is not None:
            raise self.error
        pre_s, inf_s = self.took_s
        return Prediction(self.index, 0.875, 0.25, self.unknown, PRE, pre_s, inf_s)

    def close(self):
        self.closed += 1


class Base:
    name = "fake-baseline"

    def __init__(self, label="am", confidence=0.7, error=None, sleep_s=0.0):
        self.label, self.confidence, self.error, self.sleep_s = label, confidence, error, sleep_s
        self.inputs: list = []
        self.closed = 0

    def answer(self, x):
        self.inputs.append(x)
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.error is not None:
            raise self.error
        return BaselineAnswer(self.label, self.confidence)

    def close(self):
        self.closed += 1


def _no_time(o: Outcome) -> Outcome:
    return dataclasses.replace(o, inference_s=0.0)


def _model_ok(**kw) -> Outcome:
    fields = dict(predicted="tone", score=0.25, preprocess_s=0.001, inference_s=0.002)
    return dataclasses.replace(Outcome("ok", "tone", 1, 0.875, "model", "fake-v", **fields), **kw)


def test_the_models_answer_whole_with_and_without_a_budget():
    for budget in (None, 1.0):
        r = Runner()
        eng = Engine(LABELS, r, None, budget_s=budget)
        o = eng.decide(X)
        assert o == _model_ok() and o.preprocessed is PRE and r.inputs == [X]
        assert r.inputs[0] is X
        eng.close()


def test_the_label_index_is_the_engines_not_the_models():
    eng = Engine(LABELS, Runner(index=0), None, budget_s=None)
    assert eng.decide(X) == _model_ok(label="am", label_index=2, predicted="am")
    eng = Engine(LABELS, Runner(index=2), None, budget_s=None)
    assert eng.decide(X) == _model_ok(label="extra", label_index=None, predicted="extra")


def test_an_unknown_answer_whole():
    o = Engine(LABELS, Runner(unknown=True), None, budget_s=None).decide(X)
    want = Outcome("unknown", None, None, 0.875, "model", "fake-v", predicted="tone", score=0.25,
                   preprocess_s=0.001, inference_s=0.002)  # fmt: skip
    assert o == want and o.preprocessed is PRE


def test_no_model_answers_from_the_baseline_or_is_unavailable():
    base = Base(sleep_s=0.001)
    o = Engine(LABELS, None, base, budget_s=None).decide(X)
    assert _no_time(o) == Outcome(
        "fallback", "am", 2, 0.7, "baseline", "fake-baseline", "not_loaded", "no model loaded"
    )
    assert isinstance(o.inference_s, float) and o.inference_s >= 0.001 and base.inputs[0] is X
    o = Engine(LABELS, None, None, budget_s=None, primary_error="truncated").decide(X)
    assert o == Outcome("unavailable", None, None, 0.0, "none", None, "not_loaded", "truncated", False)


def test_a_raising_model_without_a_budget():
    base = Base()
    eng = Engine(LABELS, Runner(error=RuntimeError("boom\nsecond line")), base, budget_s=None)
    o = eng.decide(X)
    assert _no_time(o) == Outcome(
        "fallback", "am", 2, 0.7, "baseline", "fake-baseline", "error", "RuntimeError: boom"
    )
    assert base.inputs[0] is X
    o = Engine(LABELS, Runner(error=ValueError("")), None, budget_s=None).decide(X)
    assert o == Outcome("unavailable", None, None, 0.0, "none", None, "error", "ValueError: ", False)


def test_a_raising_model_under_the_watchdog():
    base = Base()
    eng = Engine(LABELS, Runner(error=KeyError("k")), base, budget_s=1.0)
    o = eng.decide(X)
    assert _no_time(o) == Outcome(
        "fallback", "am", 2, 0.7, "baseline", "fake-baseline", "error", "KeyError: 'k'"
    )
    assert base.inputs[0] is X
    eng.close()


def test_a_long_message_is_cut_at_300_characters():
    o = Engine(LABELS, Runner(error=RuntimeError("x" * 400)), None, budget_s=None).decide(X)
    assert o.detail == ("RuntimeError: " + "x" * 400)[:300]


def test_a_failing_baseline_is_named_after_the_first_failure():
    eng = Engine(LABELS, Runner(error=RuntimeError("a")), Base(error=OSError("b")), budget_s=None)
    assert eng.decide(X) == Outcome(
        "unavailable",
        None,
        None,
        0.0,
        "none",
        None,
        "error",
        "RuntimeError: a; baseline failed too: OSError: b",
        False,
    )


def test_a_failing_baseline_on_a_late_capture_keeps_the_overrun_mark():
    eng = Engine(LABELS, Runner(), Base(error=OSError("b")), budget_s=0.1, reserve_s=0.0)
    assert eng.decide(X, age_s=0.3) == Outcome("unavailable", None, None, 0.0, "none", None, "overrun",
        "capture already 300.0 ms old, budget 100 ms; baseline failed too: OSError: b", True)  # fmt: skip
    eng.close()


def test_the_baselines_confidence_when_not_finite_and_its_unknown():
    for conf, want in ((float("nan"), 0.0), (float("inf"), 0.0), (0.25, 0.25)):
        o = Engine(LABELS, None, Base(confidence=conf), budget_s=None).decide(X)
        assert o.confidence == want
    o = Engine(LABELS, None, Base(label=None), budget_s=None).decide(X)
    assert (o.label, o.label_index, o.status) == (None, None, "fallback")


def test_a_budget_used_up_exactly_is_late():
    r, base = Runner(), Base()
    eng = Engine(LABELS, r, None, budget_s=0.5, reserve_s=0.25)
    o = eng.decide(X, age_s=0.25)  # 0.5 - 0.25 - 0.25 = 0: nothing left
    assert o == Outcome(
        "unavailable",
        None,
        None,
        0.0,
        "none",
        None,
        "overrun",
        "capture already 250.0 ms old, budget 500 ms",
        True,
    )
    assert r.inputs == []
    eng.close()
    eng = Engine(LABELS, r, base, budget_s=0.5, reserve_s=0.25)
    o = eng.decide(X, age_s=0.25)  # no timings yet: the baseline is taken to be cheaper
    assert _no_time(o) == Outcome("fallback", "am", 2, 0.7, "baseline", "fake-baseline", "overrun",
                                  "capture already 250.0 ms old, budget 500 ms", True)  # fmt: skip
    assert base.inputs[0] is X and r.inputs == []
    eng.close()


def test_a_model_past_the_budget_is_cut_off_and_the_next_capture_finds_it_busy():
    r, base = Runner(hold_s=0.5), Base()
    eng = Engine(LABELS, r, base, budget_s=0.05, reserve_s=0.0)
    o = eng.decide(X)
    want = Outcome(
        "fallback", "am", 2, 0.7, "baseline", "fake-baseline", "overrun", "no answer within 50.0 ms", True
    )
    assert _no_time(o) == want and base.inputs[-1] is X
    o = eng.decide(X)
    busy = "the model is still busy with an earlier capture"
    assert _no_time(o) == dataclasses.replace(want, detail=busy) and base.inputs[-1] is X
    eng.close()


def test_a_late_capture_goes_to_the_model_when_the_baseline_is_no_faster_and_x_is_passed():
    r, base = Runner(), Base()
    eng = Engine(LABELS, r, base, budget_s=0.6, reserve_s=0.0)
    eng._primary_s = eng._baseline_s = 0.01  # equal: the baseline is not cheaper
    o = eng.decide(X, age_s=0.7)
    detail = "capture already 700.0 ms old, budget 600 ms; the model answered (the baseline is not faster)"
    assert o == _model_ok(reason="overrun", overrun=True, detail=detail) and r.inputs[0] is X
    assert base.inputs == []
    eng.close()


def test_a_baseline_timed_before_the_model_ever_answered_is_taken_as_cheaper():
    r, base = Runner(), Base()
    eng = Engine(LABELS, r, base, budget_s=0.1, reserve_s=0.0)
    sources = [eng.decide(X, age_s=0.2).source for _ in range(3)]  # the model was never timed
    assert sources == ["baseline"] * 3 and r.inputs == []
    eng.close()


def test_the_hang_guard_is_ten_times_the_models_usual_time():
    """Model usual 0.1 s -> guard 1 s: a 0.3 s late answer is waited for. Usual 0 s -> guard
    50 ms: the same model is cut off."""
    r, base = Runner(hold_s=0.3), Base()
    eng = Engine(LABELS, r, base, budget_s=0.1, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.1, 1.0
    assert eng.decide(X, age_s=0.2).source == "model"
    eng.close()
    eng = Engine(LABELS, Runner(hold_s=0.3), base, budget_s=0.1, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.0, 1.0
    o = eng.decide(X, age_s=0.2)
    assert (o.source, o.reason, o.overrun) == ("baseline", "overrun", True)
    eng.close()


def test_the_models_time_is_a_moving_average():
    """Usual 10 ms, then an answer of 1 ms: 0.9 x 10 + 0.1 x 1 = 9.1 ms, still slower than a
    5 ms baseline, so the next late capture falls back."""
    r, base = Runner(took_s=(0.0005, 0.0005)), Base()
    eng = Engine(LABELS, r, base, budget_s=1.0, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.010, 0.005
    assert eng.decide(X).source == "model"
    assert eng.decide(X, age_s=2.0).source == "baseline"
    eng.close()


def test_the_baselines_time_is_a_moving_average():
    """Baseline usual 10 ms, model 5 ms; one fallback in microseconds moves the baseline to about
    9 ms: still slower, so the next late capture is the model's."""
    r, base = Runner(), Base()
    eng = Engine(LABELS, Runner(error=RuntimeError("x")), base, budget_s=1.0, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.005, 0.010
    assert eng.decide(X).source == "baseline"
    eng.swap_primary(r)
    eng._primary_s = 0.005
    assert eng.decide(X, age_s=2.0).source == "model"
    eng.close()


def test_re_timing_comes_every_retime_every_late_captures_not_just_once():
    r, base = Runner(took_s=(0.0, 0.001)), Base(sleep_s=0.02)  # the baseline really is slower
    eng = Engine(LABELS, r, base, budget_s=0.1, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.001, 1.0
    sources = [eng.decide(X, age_s=0.2).source for _ in range(2 * RETIME_EVERY + 1)]
    at = [i for i, s in enumerate(sources) if s == "baseline"]
    assert at == [RETIME_EVERY - 1, 2 * RETIME_EVERY - 1]
    eng.close()


def test_warm_up_times_each_model_after_one_untimed_call_and_reports_errors():
    r, base = Runner(), Base()
    eng = Engine(LABELS, r, base, budget_s=None)
    out = eng.warm_up(X)
    assert set(out) == {"primary", "baseline"} and all(isinstance(v, float) for v in out.values())
    assert len(r.inputs) == len(base.inputs) == 1 + WARM_UP_TIMED_CALLS
    assert all(x is X for x in r.inputs + base.inputs)
    eng = Engine(LABELS, Runner(error=RuntimeError("boom")), base, budget_s=None)
    out = eng.warm_up(X)
    assert out["primary"] == "RuntimeError: boom" and isinstance(out["baseline"], float)
    assert Engine(LABELS, None, None, budget_s=None).warm_up(X) == {}
    only = Engine(LABELS, None, Base(error=OSError("gone")), budget_s=None).warm_up(X)
    assert only == {"baseline": "OSError: gone"}
    assert set(Engine(LABELS, r, None, budget_s=None).warm_up(X)) == {"primary"}


def test_annotate_sees_the_capture_and_the_answer_and_its_failure_costs_nothing():
    seen = []

    def annotate(x, outcome):
        seen.append((x, outcome))
        return dataclasses.replace(outcome, detail="annotated")

    eng = Engine(LABELS, Runner(), None, budget_s=None, annotate=annotate)
    o = eng.decide(X)
    assert o == _model_ok(detail="annotated") and seen[0][0] is X and seen[0][1] == _model_ok()

    def broken(x, outcome):
        raise ValueError("no context")

    assert Engine(LABELS, Runner(), None, budget_s=None, annotate=broken).decide(X) == _model_ok()


def test_skip_is_an_explicit_governor_answer():
    assert Engine(LABELS, None, None, budget_s=None).skip("critical battery") == Outcome(
        "skipped", None, None, 0.0, "none", None, "governor", "critical battery"
    )


def test_swap_primary_returns_the_old_one_and_clears_the_load_error():
    eng = Engine(LABELS, None, None, budget_s=None, primary_error="truncated")
    r = Runner()
    assert eng.swap_primary(r) is None and eng.primary_error is None and eng.primary is r
    r2 = Runner()
    assert eng.swap_primary(r2) is r and eng.decide(X) == _model_ok()
    assert eng.labels == LABELS


def test_close_closes_both_models_and_the_watchdog():
    r, base = Runner(), Base()
    eng = Engine(LABELS, r, base, budget_s=None)
    eng.close()
    assert (r.closed, base.closed) == (1, 1)
    Engine(LABELS, None, None, budget_s=None).close()  # nothing loaded: nothing to close
    eng = Engine(LABELS, r, None, budget_s=1.0)
    thread = eng._watchdog._thread  # type: ignore[union-attr]
    eng.close()
    thread.join(5)
    assert not thread.is_alive() and r.closed == 2


def test_without_a_budget_no_worker_thread_is_started():
    before = {t.ident for t in threading.enumerate()}
    eng = Engine(LABELS, Runner(), None, budget_s=None)
    assert [t.name for t in threading.enumerate() if t.ident not in before] == []
    eng.close()


def test_the_watchdog_thread_is_a_named_daemon():
    w = Watchdog()
    assert (w._thread.name, w._thread.daemon) == ("edgekit-inference", True)
    w.close()
