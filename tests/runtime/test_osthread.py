"""The daemon's threads carry OS-level names (``/proc/PID/task/TID/comm``), so per-thread CPU
figures (bench/bench_daemon.py) and ``top -H`` can tell them apart."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest

from edgekit.runtime.engine import Watchdog
from edgekit.runtime.metrics import DaemonMetrics, serve
from edgekit.runtime.osthread import name_os_thread

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")


def _comm(native_id: int | None) -> str:
    return Path(f"/proc/self/task/{native_id}/comm").read_text().strip()


def test_a_thread_names_itself_cut_to_the_kernels_fifteen_bytes():
    got: dict[str, object] = {}

    def work() -> None:
        got["set"] = name_os_thread("abcdefghijklmnopqrstuvwxyz")
        got["comm"] = _comm(threading.get_native_id())

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert got == {"set": True, "comm": "abcdefghijklmno"}


def test_without_a_writable_proc_the_name_is_left_alone(tmp_path):
    assert name_os_thread("x", proc=tmp_path / "no-proc") is False


def test_the_inference_and_metrics_threads_are_named():
    w = Watchdog()
    try:
        assert w.call(lambda: 1, 5.0) == ("done", 1)  # the worker has started and run
        assert _comm(w._thread.native_id) == "ek-inference"
    finally:
        w.close()
    server = serve("127.0.0.1", 0, DaemonMetrics(), lambda: {})
    try:
        # the thread names itself first thing; a request answered proves it got that far
        host, port = server.address
        urllib.request.urlopen(f"http://{host}:{port}/status", timeout=5).read()
        assert _comm(server._thread.native_id) == "ek-metrics"
    finally:
        server.close()
