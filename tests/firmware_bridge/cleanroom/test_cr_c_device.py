"""The C reference device decoder (firmware_bridge/firmware) fed by the clean-room host encoder:
§4.1 rule 1 on the device side, a duplicate of any of the last 64 packets (the C codec once
remembered only the last one, and took an older repeat for a host restart and ran it again)."""

from __future__ import annotations

import subprocess

from cleanroom.wire import Endpoint


def _run(exe, stream: bytes) -> tuple[list[str], dict[str, str]]:
    out = subprocess.run([str(exe)], input=f"DECODE {stream.hex()}\nSTATS\n", capture_output=True,
                         text=True, check=True, timeout=30).stdout.splitlines()  # fmt: skip
    end = out.index("END")
    decoded, stats = out[:end], out[end + 1]
    return decoded, dict(item.split("=") for item in stats.split())


def test_c_device_takes_a_repeat_of_any_of_the_last_64_packets_for_a_duplicate(fb_vectors_exe):
    host = Endpoint()
    frames = [host.send("PING", {"token": i}, timestamp_us=1000 * i) for i in range(70)]
    # packet 6 again: 64 packets back (6..69 remembered), a duplicate; then packet 5 again: 65
    # back, forgotten, so a backward jump (a host restart, not a loss)
    stream = b"".join(frames) + frames[6] + frames[5]
    decoded, stats = _run(fb_vectors_exe, stream)
    assert [line.split()[0] for line in decoded[:70]] == ["OK"] * 70
    assert decoded[70] == "ERR duplicate" and decoded[71].startswith("OK type=133 seq=5 ")
    assert stats["duplicates"] == "1" and stats["host_restarts"] == "1" and stats["lost_packets"] == "0"


def test_c_device_forgets_the_old_session_at_a_host_restart(fb_vectors_exe):
    old, new = Endpoint(), Endpoint()
    stream = b"".join(old.send("STOP", timestamp_us=t) for t in range(40))  # seq 0..39
    stream += new.send("START", timestamp_us=999)  # seq 0, another CRC: a host restart
    stream += new.send("STOP", timestamp_us=1)  # byte for byte the old session's seq 1
    decoded, stats = _run(fb_vectors_exe, stream)
    assert [line.split()[0] for line in decoded] == ["OK"] * 42
    assert stats["host_restarts"] == "1" and stats["duplicates"] == "0" and stats["lost_packets"] == "0"
