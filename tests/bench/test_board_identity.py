"""Board identity and CPU snapshots from fake sysfs/procfs trees built in the test (no patching)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.environment import cpu_snapshot, probe_environment, read_board_identity


def _tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.mark.parametrize(
    ("model", "compatible", "board", "soc"),
    [
        (b"Raspberry Pi 4 Model B Rev 1.4\x00", b"raspberrypi,4-model-b\x00brcm,bcm2711\x00",
         "rpi4b", "bcm2711"),
        (b"Raspberry Pi 5 Model B Rev 1.0\x00", b"raspberrypi,5-model-b\x00brcm,bcm2712\x00",
         "rpi5", "bcm2712"),
        (b"Raspberry Pi Compute Module 4 Rev 1.1\x00", b"raspberrypi,4-compute-module\x00brcm,bcm2711\x00",
         "cm4", "bcm2711"),
        (b"Raspberry Pi Zero 2 W Rev 1.0\x00", b"raspberrypi,model-zero-2-w\x00brcm,bcm2837\x00", "zero2w",
         "bcm2837"),
    ],
)
def test_identity_from_the_device_tree(tmp_path: Path, model: bytes, compatible: bytes, board: str,
                                       soc: str) -> None:
    proc = _tree(tmp_path / "proc", {"device-tree/model": model, "device-tree/compatible": compatible,
                                     "cpuinfo": "processor\t: 0\nRevision\t: c03114\n"})
    ident = read_board_identity(proc_root=proc)
    assert (ident.board, ident.soc) == (board, soc)
    assert ident.model == model.decode().rstrip("\x00")
    assert ident.revision == "c03114"
    assert ident.as_context() == {"board": board, "board_model": ident.model, "soc": soc}


def test_model_string_alone_still_names_the_board(tmp_path: Path) -> None:
    proc = _tree(tmp_path / "proc", {"device-tree/model": b"Raspberry Pi 4 Model B Rev 1.5\x00"})
    ident = read_board_identity(proc_root=proc)
    # the model string names the board, and a Pi 4 has exactly one SoC
    assert ident.board == "rpi4b" and ident.soc == "bcm2711" and ident.compatible == ()


def test_an_x86_server_is_no_target_board(tmp_path: Path) -> None:
    proc = _tree(tmp_path / "proc", {"cpuinfo": "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n"})
    ident = read_board_identity(proc_root=proc)
    assert ident.board is None and ident.model == "AMD EPYC 7B13"


def test_cpu_snapshot_reads_every_policy(tmp_path: Path) -> None:
    cpu = "devices/system/cpu/cpufreq"
    sys_root = _tree(tmp_path / "sys", {
        f"{cpu}/policy0/scaling_governor": "schedutil\n",
        f"{cpu}/policy0/scaling_cur_freq": "1500000\n",
        f"{cpu}/policy0/scaling_max_freq": "2400000\n",
        f"{cpu}/policy4/scaling_cur_freq": "600000\n",
        "class/thermal/thermal_zone0/temp": "71250\n",
    })
    snap = cpu_snapshot(sysfs_root=sys_root)
    assert snap == {"governor": "schedutil", "freq_mhz": 1500.0, "max_freq_mhz": 2400.0,
                    "policies_mhz": {"policy0": 1500.0, "policy4": 600.0}, "temp_c": 71.25}


def test_cpu_snapshot_of_an_empty_tree_is_all_none(tmp_path: Path) -> None:
    snap = cpu_snapshot(sysfs_root=tmp_path / "sys")
    assert snap == {"governor": None, "freq_mhz": None, "max_freq_mhz": None, "policies_mhz": None,
                    "temp_c": None}


def test_probe_records_board_and_soc(tmp_path: Path) -> None:
    proc = _tree(tmp_path / "proc", {"device-tree/model": b"Raspberry Pi 5 Model B Rev 1.0\x00",
                                     "device-tree/compatible": b"raspberrypi,5-model-b\x00brcm,bcm2712\x00"})
    env = probe_environment(sysfs_root=tmp_path / "sys", proc_root=proc, vcgencmd=tmp_path / "none")
    assert env.board == "rpi5" and env.soc == "bcm2712"
    assert env.to_dict()["board"] == "rpi5"
