"""A bundle changed on disk under a running daemon: the variant it runs was loaded (and verified)
at start and keeps answering; any later load from the bundle (the governor switching variant,
``housekeeping.govern``) checks the file's hash again at that moment and refuses the changed one."""

from __future__ import annotations

from typing import Any

import pytest

from edgekit.errors import BundleError
from edgekit.runtime.model import load_runner
from tests.runtime.bundles import CNN, write_bundle
from tests.runtime.test_daemon_loop import HELLO, scripted_daemon


def test_a_bundle_rewritten_under_the_daemon_is_not_loaded_and_the_running_model_answers(
    tmp_path, monkeypatch
):
    root = write_bundle(tmp_path / "b", variants={"onnx-fp32": CNN, "onnx-spare": CNN})
    script: list[list[Any]] = [[HELLO], [1], ["tamper"], [2], [3]]
    daemon, links = scripted_daemon(tmp_path, monkeypatch, script, root)
    link = links[0]
    poll = link.poll

    def tampering_poll(timeout_s: float) -> list[Any]:
        if link.script and link.script[0] == ["tamper"]:
            link.script.pop(0)
            for name in ("onnx-fp32", "onnx-spare"):  # both files rewritten in place
                with (root / "variants" / f"{name}.onnx").open("r+b") as f:
                    f.seek(100)
                    f.write(b"\xff" * 64)
        return poll(timeout_s)

    link.poll = tampering_poll  # type: ignore[method-assign]
    assert daemon.run(should_stop=lambda: not script) == 0
    assert [cid for cid, committed in link.sent if committed] == [1, 2, 3]
    engine_sources = daemon.parts.metrics.registry.get_sample_value(
        "edgekit_inference_duration_seconds_count", {"source": "model"}
    )
    assert engine_sources == 3  # all three answered by the model loaded at start
    with pytest.raises(BundleError) as e:  # what a variant switch would load now
        load_runner(daemon.parts.bundle, "onnx-spare", threads=1)
    assert "onnx-spare" in str(e.value) and "variants/onnx-spare.onnx" in str(e.value)
