"""The engine's decisions: label, unknown, fallback on error / overrun / no model, unavailable."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edgekit.runtime.baseline import BaselineAnswer
from edgekit.runtime.engine import RETIME_EVERY, Engine, Watchdog
from edgekit.runtime.model import ModelRunner, Prediction
from edgekit.signals.preprocess import Pipeline

LABELS = ["noise", "tone", "am"]


class FakeBackend:
    """A backend whose scores are fixed (or that raises, or blocks until released)."""

    name = "fake"
    input_spec: tuple = ()
    output_spec: tuple = ()

    def __init__(self, scores=None, error=None, hold: threading.Event | None = None):
        self.scores = np.asarray(scores if scores is not None else [[0.0, 5.0, 0.0]], np.float32)
        self.error = error
        self.hold = hold
        self.calls = 0

    def run(self, x):
        self.calls += 1
        if self.hold is not None:
            self.hold.wait(5)
        if self.error is not None:
            raise self.error
        return self.scores

    def run_all(self, feeds):
        return [self.run(None)]

    def close(self):
        pass


def runner(backend, threshold=0.5) -> ModelRunner:
    return ModelRunner(
        "fake-v",
        backend,
        Pipeline.from_spec([]),
        labels=LABELS,
        input_name="x",
        output_index=0,
        output_kind="logits",
        ood_score="max_softmax",
        ood_threshold=threshold,
    )


class FakeBaseline:
    kind = "rule"
    name = "fake-baseline"
    accuracy = 0.9
    source = "test"

    def __init__(self, label="am", error=None):
        self.label, self.error, self.calls = label, error, 0

    def answer(self, x):
        self.calls += 1
        if self.error:
            raise self.error
        return BaselineAnswer(self.label, 0.7)

    def close(self):
        pass


X = np.zeros((1, 2, 8), np.float32)


def test_confident_answer_is_the_label_with_its_index():
    # softmax of (0, 5, 0): 1 / (1 + 2 e^-5), computed here by hand
    o = Engine(LABELS, runner(FakeBackend()), None, budget_s=None).decide(X)
    assert (o.status, o.label, o.label_index, o.source) == ("ok", "tone", 1, "model")
    assert o.confidence == pytest.approx(1 / (1 + 2 * np.exp(-5)), rel=1e-6)


def test_below_the_threshold_is_unknown_but_keeps_the_top_label_for_drift():
    flat = FakeBackend([[1.0, 1.1, 1.0]])  # top softmax ~0.35 < 0.5
    o = Engine(LABELS, runner(flat), None, budget_s=None).decide(X)
    assert (o.status, o.label, o.label_index, o.predicted) == ("unknown", None, None, "tone")
    assert o.unknown and o.display_label == "unknown"


def test_a_raising_primary_answers_from_the_baseline_marked_fallback():
    base = FakeBaseline()
    o = Engine(LABELS, runner(FakeBackend(error=RuntimeError("boom"))), base, budget_s=0.5).decide(X)
    assert (o.status, o.label, o.label_index, o.source, o.reason) == (
        "fallback",
        "am",
        2,
        "baseline",
        "error",
    )
    assert "RuntimeError: boom" in (o.detail or "") and not o.overrun and base.calls == 1


def test_without_a_baseline_the_answer_is_unavailable_explicitly():
    o = Engine(LABELS, runner(FakeBackend(error=ValueError("bad"))), None, budget_s=None).decide(X)
    assert (o.status, o.label, o.source, o.reason) == ("unavailable", None, "none", "error")


def test_no_model_loaded_uses_the_baseline():
    o = Engine(LABELS, None, FakeBaseline("noise"), budget_s=None, primary_error="truncated").decide(X)
    assert (o.status, o.label, o.reason, o.detail) == ("fallback", "noise", "not_loaded", "truncated")


def test_an_overrunning_primary_is_cut_off_and_the_next_capture_too_while_it_is_busy():
    hold = threading.Event()
    backend = FakeBackend(hold=hold)
    base = FakeBaseline()
    eng = Engine(LABELS, runner(backend), base, budget_s=0.05, reserve_s=0.0)
    first = eng.decide(X)
    assert (first.status, first.reason, first.overrun) == ("fallback", "overrun", True)
    assert "no answer within" in (first.detail or "")
    second = eng.decide(X)  # the first call is still running: no queue behind it
    assert (second.status, second.reason) == ("fallback", "overrun") and "busy" in (second.detail or "")
    assert backend.calls == 1
    hold.set()
    deadline = time.monotonic() + 5
    while eng._watchdog is not None and eng._watchdog.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    third = eng.decide(X)  # the late answer of the first call must not be taken for this one
    assert third.status == "ok" and backend.calls == 2
    eng.close()


def test_a_capture_already_past_its_budget_skips_the_model():
    backend = FakeBackend()
    o = Engine(LABELS, runner(backend), None, budget_s=0.15, reserve_s=0.005).decide(X, age_s=0.149)
    assert (o.status, o.reason, o.overrun) == ("unavailable", "overrun", True)
    assert backend.calls == 0


def test_a_failing_baseline_still_gives_an_answer():
    eng = Engine(
        LABELS, runner(FakeBackend(error=RuntimeError("x"))), FakeBaseline(error=OSError("y")), budget_s=None
    )
    o = eng.decide(X)
    assert o.status == "unavailable" and "baseline failed too" in (o.detail or "")


def test_skip_is_explicit():
    o = Engine(LABELS, None, None, budget_s=None).skip("governor critical")
    assert (o.status, o.reason, o.label) == ("skipped", "governor", None)


def test_watchdog_reports_errors_and_values():
    w = Watchdog()
    assert w.call(lambda: 7, 1.0) == ("done", 7)
    state, err = w.call(lambda: 1 / 0, 1.0)
    assert state == "error" and isinstance(err, ZeroDivisionError)
    w.close()


def test_real_predict_rejects_non_finite_scores():
    with pytest.raises(FloatingPointError):
        runner(FakeBackend([[np.nan, 0.0, 0.0]])).predict(X)


def test_prediction_carries_timings():
    p = runner(FakeBackend()).predict(X)
    assert isinstance(p, Prediction) and p.preprocess_s >= 0 and p.inference_s >= 0


class SlowBaseline(FakeBaseline):
    def answer(self, x):
        time.sleep(0.02)
        return super().answer(x)


def test_a_late_capture_is_answered_by_the_model_when_the_baseline_is_not_faster():
    base = SlowBaseline()
    eng = Engine(LABELS, runner(FakeBackend()), base, budget_s=0.15, reserve_s=0.0)
    times = eng.warm_up(X)
    assert times["baseline"] > times["primary"]
    o = eng.decide(X, age_s=0.2)
    assert (o.status, o.label, o.source, o.reason, o.overrun) == ("ok", "tone", "model", "overrun", True)
    assert "not faster" in (o.detail or "")
    eng.close()


class OnceSlowBaseline(FakeBaseline):
    """Fast, except its second call (the warm-up's first timed one) is held up 50 ms, as a call
    preempted on a busy host is."""

    def answer(self, x):
        if self.calls == 1:
            time.sleep(0.05)
        return super().answer(x)


def test_warm_up_times_the_best_of_several_calls_so_one_preempted_call_does_not_decide():
    eng = Engine(LABELS, runner(FakeBackend()), OnceSlowBaseline(), budget_s=0.15, reserve_s=0.0)
    eng._primary_s = 0.010  # a model at 10 ms: the baseline (microseconds when not held up) is cheaper
    times = eng.warm_up(X)
    eng._primary_s = 0.010
    assert times["baseline"] < 0.010
    o = eng.decide(X, age_s=0.2)
    assert (o.status, o.source, o.reason) == ("fallback", "baseline", "overrun")
    eng.close()


class SteadyBackend(FakeBackend):
    """A model that takes 2 ms a call."""

    def run(self, x):
        time.sleep(0.002)
        return super().run(x)


def test_a_baseline_judged_slower_is_retimed_every_retime_every_late_captures():
    base = SlowBaseline()  # 20 ms: really slower than the 2 ms model
    eng = Engine(LABELS, runner(SteadyBackend()), base, budget_s=0.15, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.002, 1.0
    sources = [eng.decide(X, age_s=0.2).source for _ in range(RETIME_EVERY + 3)]
    # the first RETIME_EVERY - 1 late captures are the model's, the next one re-times the baseline
    assert sources[: RETIME_EVERY - 1] == ["model"] * (RETIME_EVERY - 1)
    assert sources[RETIME_EVERY - 1] == "baseline"
    assert base.calls == 1
    assert 0.02 <= eng._baseline_s < 1.0  # the new answer's own time, not blended with 1.0
    assert sources[RETIME_EVERY:] == ["model"] * 3  # still slower: the model again
    eng.close()


def test_a_baseline_that_was_slow_once_wins_back_late_captures_after_retiming():
    base = FakeBaseline()  # microseconds, but judged slower by one bad timing
    eng = Engine(LABELS, runner(SteadyBackend()), base, budget_s=0.15, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.002, 0.5
    sources = [eng.decide(X, age_s=0.2).source for _ in range(RETIME_EVERY + 5)]
    assert sources[: RETIME_EVERY - 1] == ["model"] * (RETIME_EVERY - 1)
    assert sources[RETIME_EVERY - 1 :] == ["baseline"] * 6  # re-timed: cheaper from then on
    eng.close()


def test_a_late_capture_falls_back_when_the_baseline_is_cheaper():
    eng = Engine(LABELS, runner(FakeBackend(hold=None)), FakeBaseline(), budget_s=0.15, reserve_s=0.0)
    eng._primary_s, eng._baseline_s = 0.010, 0.001  # measured: the baseline is 10x cheaper
    o = eng.decide(X, age_s=0.2)
    assert (o.status, o.source, o.reason, o.overrun) == ("fallback", "baseline", "overrun", True)
    eng.close()


def test_watchdog_times_out_stays_busy_drops_the_late_answer_and_closes_after_it():
    w = Watchdog()
    release = threading.Event()
    assert w.call(lambda: release.wait(10) and "late", 0.02) == ("timeout", None)
    assert w.busy
    assert w.call(lambda: "refused", 1.0) == ("busy", None)  # no queue behind an overrun
    release.set()
    _wait_idle(w)
    assert w.call(lambda: "mine", 1.0) == ("done", "mine")  # not the late "late"
    assert w.call(lambda: 0, 0.0)[0] in ("done", "timeout")  # a zero wait is allowed
    _wait_idle(w)
    # closing while a call still runs: the worker ends once that call is over
    hold = threading.Event()
    assert w.call(lambda: hold.wait(10), 0.01)[0] == "timeout"
    w.close()
    assert w._thread.is_alive()
    hold.set()
    w._thread.join(5)
    assert not w._thread.is_alive()


def _wait_idle(w: Watchdog) -> None:
    deadline = time.monotonic() + 5
    while w.busy and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not w.busy


def test_watchdog_close_when_idle_ends_the_worker():
    w = Watchdog()
    assert w.call(lambda: 3, 1.0) == ("done", 3)
    w.close()
    w._thread.join(5)
    assert not w._thread.is_alive()
