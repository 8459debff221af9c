"""(b) The clean-room scanner on a real pty against the real daemon (`edgekit run`, a tiny
bundle): handshake, a few hundred captures with a sequence gap, a corrupted frame, garbage bytes
and a reboot; a RESULT for every capture that arrived, with §5.10's fields, and the gaps counted
in the daemon's journal (`edgekit journal --json`)."""

from __future__ import annotations

import json
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cleanroom.pty_ends import PtyScanner
from cleanroom.wire import parse_packet
from tests.runtime.bundles import pack_tiny_bundle

REPO = Path(__file__).resolve().parents[3]
L = 64  # samples per capture: the tiny model's input length
# a liveness bound (imports, model load and warm-up on a loaded 2-core host), never a speed check
START_LIMIT_S = 240.0


def _bundle(tmp: Path) -> Path:
    w = np.random.default_rng(1).normal(size=(3, 2 * L)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"]),
         helper.make_node("Gemm", ["flat", "W"], ["logits"], transB=1)],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, L])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w, "W")],
    )  # fmt: skip
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    src = tmp / "src"
    src.mkdir()
    onnx.save(m, str(src / "m.onnx"))
    ood = {"score": "max_softmax", "threshold": 0.5, "temperature": 1.0, "features_output": None}
    return pack_tiny_bundle(tmp, src / "m.onnx", ood, {}, L)


def _wait(pred, limit_s: float, what: str, proc: subprocess.Popen, err: Path) -> None:
    deadline = time.monotonic() + limit_s
    while not pred():
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited {proc.returncode}: {err.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {limit_s} s; daemon log: {err.read_text()[-1500:]}")
        time.sleep(0.05)


def _start(tmp_path: Path, scanner: PtyScanner, port: int) -> tuple[subprocess.Popen, Path]:
    """`edgekit run` on the scanner's pty, a tiny bundle, metrics on ``port``; (process, stderr)."""
    bundle = _bundle(tmp_path)
    (tmp_path / "run.toml").write_text("")
    out, err = tmp_path / "run.out", tmp_path / "run.err"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgekit", "run", str(bundle), "--port", str(scanner.path),
             "--journal", str(tmp_path / "journal.sqlite"), "--metrics-addr", f"127.0.0.1:{port}",
             "--config", str(tmp_path / "run.toml")],
            cwd=REPO, stdout=o, stderr=e,
        )  # fmt: skip
    return proc, err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen, scanner: PtyScanner) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    scanner.close()


def test_without_time_sync_the_daemon_sends_no_time_request_and_counts_from_receipt(tmp_path: Path):
    """§1.1, §6.3, §7.3: a scanner without TIME_SYNC gets no TIME_REQUEST, and every RESULT's
    latency counts from the CAPTURE's arrival, flagged LATENCY_FROM_RECEIPT."""
    scanner = PtyScanner(tmp_path / "scanner", samples=L, time_sync=False)
    proc, err = _start(tmp_path, scanner, _free_port())
    try:
        _wait(lambda: scanner.state == 1, START_LIMIT_S, "no START", proc, err)
        for cid in range(20):
            scanner.capture(cid, np.arange(2 * L, dtype=np.int16).tobytes())
        _wait(lambda: len(scanner.results) >= 20, 60, "not every RESULT", proc, err)
    finally:
        _stop(proc, scanner)
    assert sorted(r.fields["capture_id"] for r in scanner.results) == list(range(20))
    assert all(r.fields["flags"] & 0x08 for r in scanner.results)
    assert "TIME_REQUEST" not in [m.name for m in scanner.commands]


def test_cleanroom_scanner_against_the_daemon(tmp_path: Path):
    port = _free_port()
    rng = np.random.default_rng(7)
    scanner = PtyScanner(tmp_path / "scanner", samples=L)
    journal = tmp_path / "journal.sqlite"
    proc, err = _start(tmp_path, scanner, port)
    try:
        # §6.1: after opening, the host writes 0x00 then PING (its own numbering from 0)
        _wait(lambda: scanner.state == 1, START_LIMIT_S, "no START", proc, err)
        assert scanner.first_bytes[:1] == b"\x00"
        first = parse_packet(scanner.first_bytes.lstrip(b"\x00").split(b"\x00")[0])
        assert (first.msg_type, first.seq, first.minor) == (0x85, 0, 2)
        names = [m.name for m in scanner.commands]
        assert names[0] == "PING" and "START" in names

        sent: list[int] = []  # capture ids that reached the daemon intact

        def burst(first_id: int, n: int) -> int:
            for cid in range(first_id, first_id + n):
                iq = rng.integers(-3000, 3000, size=2 * L, dtype=np.int16).tobytes()
                scanner.capture(cid, iq)
                sent.append(cid)
                time.sleep(0.004)
            return first_id + n

        cid = burst(0, 100)
        scanner.skip(3)  # §4.1.3: a gap of 3 packets (captures 100-102 never sent)
        cid = burst(cid + 3, 50)
        scanner.capture(cid, b"\x01\x00" * 2 * L, corrupt=True)  # CRC failure: dropped, seq used
        cid = burst(cid + 1, 50)
        scanner.raw(b"\x00" + bytes(rng.integers(1, 256, size=300, dtype=np.uint8)) + b"\x00")
        cid = burst(cid, 50)
        first_boot = list(sent)
        _wait(lambda: len(scanner.results) >= len(first_boot), 60, "not every RESULT", proc, err)

        # a reboot (§6.2.1): the host must ack the BOOT HELLO and start the stream again
        n_cmds = len(scanner.commands)
        scanner.reboot(0x0BADC0DE)
        _wait(lambda: scanner.state == 1 and scanner.acked, 30, "no START after the reboot", proc, err)
        assert "START" in [m.name for m in scanner.commands[n_cmds:]]
        sent.clear()
        # §5.2: a new boot numbers its captures from 0 (or goes on from the last boot's count)
        burst(0, 60)
        _wait(lambda: len(scanner.results) >= len(first_boot) + 60, 60, "no RESULTs", proc, err)
        time.sleep(0.5)  # any extra (duplicate) RESULT would arrive now
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    finally:
        _stop(proc, scanner)

    results = scanner.results
    assert len(results) == len(first_boot) + 60
    ids_first = [r.fields["capture_id"] for r in results[: len(first_boot)]]
    ids_second = [r.fields["capture_id"] for r in results[len(first_boot) :]]
    assert sorted(ids_first) == first_boot and sorted(ids_second) == list(range(60))
    for r in results:
        f = r.fields
        assert r.packet.minor == 2 and r.packet.msg_type == 0x84
        assert 0.0 <= f["confidence"] <= 1.0
        assert f["flags"] & ~0x1F == 0  # reserved flag bits are 0 (§1)
        unknown = bool(f["flags"] & 0x01)
        assert f["label_index"] == 0xFFFF if unknown else f["label_index"] in (0, 1, 2)
        assert f["context"] is None  # the tiny bundle carries no context figures (§5.10)
        assert f["latency_us"] < 60_000_000
    # host packets arrive in order without gaps (§4.1 on the device side)
    assert scanner.rx.seq.counts["lost"] == 0 and not scanner.rx.errors

    lines = subprocess.run(
        [sys.executable, "-m", "edgekit", "journal", str(journal), "--json"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    records = [json.loads(x) for x in lines if x.strip()]
    (tmp_path / "journal.jsonl").write_text("\n".join(lines))
    events = [r for r in records if r["type"] == "event"]
    lost = [e["data"]["count"] for e in events if e["kind"] == "captures_lost"]
    assert lost == [3, 1]  # the skipped sequence numbers, then the corrupted capture
    assert [e["kind"] for e in events].count("scanner_reset") == 1
    journaled = {(r["session"], r["capture_id"], r["device_timestamp_us"]): r
                 for r in records if r["type"] == "result"}  # fmt: skip
    assert len(journaled) == len(results)
    by_id = {}
    for r in records:
        if r["type"] == "result":
            by_id.setdefault(r["capture_id"], []).append(r)
    for i, res in enumerate(results):
        # the journal's first boot rows come first for each capture id
        row = by_id[res.fields["capture_id"]][0 if i < len(first_boot) else -1]
        want_label = 0xFFFF if row["label_index"] is None else row["label_index"]
        assert res.fields["label_index"] == want_label
        assert res.fields["confidence"] == struct.unpack("<f", struct.pack("<f", row["confidence"]))[0]

    def metric(name: str) -> float:
        return sum(float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(name + " ")
                   or x.startswith(name + "{"))  # fmt: skip

    assert metric("edgekit_link_packets_lost_total") == 4
    assert metric("edgekit_captures_lost_total") == 4
    assert metric("edgekit_scanner_resets_total") == 1
    assert metric('edgekit_link_errors_total{kind="crc"}') == 1
    # the garbage burst is one frame: dropped as one framing error of some kind (§4 step 1 or 2)
    framing = sum(metric(f'edgekit_link_errors_total{{kind="{k}"}}') for k in ("cobs", "short", "length"))
    assert framing == 1
