"""``edgekit data synth`` and ``edgekit data info`` through ``edgekit.cli.main``."""

from __future__ import annotations

import numpy as np

from edgekit.cli import main
from edgekit.data.dataset import load_npz
from edgekit.data.synth import generate


def test_synth_writes_the_same_data_as_generate(tmp_path, capsys):
    out = tmp_path / "d.npz"
    code = main(["data", "synth", "--out", str(out), "--n", "60", "--seed", "5",
                 "--snr-range", "0", "10", "--classes", "bpsk,qpsk,ofdm"])  # fmt: skip
    assert code == 0
    ds = load_npz(out)
    ref = generate(60, seed=5, snr_range_db=(0.0, 10.0), classes=("bpsk", "qpsk", "ofdm"))
    np.testing.assert_array_equal(ds.x, ref.x)
    stdout = capsys.readouterr().out
    assert "bpsk 20, qpsk 20, ofdm 20" in stdout
    assert "60 captures" in stdout and "SNR 0..10 dB" in stdout


def test_synth_bad_class_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "d.npz"
    code = main(["data", "synth", "--out", str(out), "--n", "5", "--seed", "1",
                 "--classes", "bpsk,wifi"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "wifi" in err and "accepted: noise, tone" in err and "ofdm" in err
    assert not out.exists()


def test_synth_bad_snr_range_exits_2(tmp_path, capsys):
    code = main(["data", "synth", "--out", str(tmp_path / "d.npz"), "--n", "5", "--seed", "1",
                 "--snr-range", "10", "0"])  # fmt: skip
    assert code == 2
    assert "--snr-range" in capsys.readouterr().err


def test_synth_missing_required_option_exits_2(tmp_path):
    assert main(["data", "synth", "--out", str(tmp_path / "d.npz"), "--n", "5"]) == 2


def test_synth_help_mentions_every_option(capsys):
    assert main(["data", "synth", "--help"]) == 0
    text = capsys.readouterr().out
    for opt in ("--out", "--n", "--seed", "--snr-range", "--classes", "--cfo-max-hz",
                "--multipath", "--drift"):  # fmt: skip
        assert opt in text


def test_info_shows_counts_and_meta(tmp_path, capsys, monkeypatch):
    # a wide terminal: this checks what the table says, not how rich wraps it on a long path
    monkeypatch.setenv("COLUMNS", "250")
    out = tmp_path / "d.npz"
    assert main(["data", "synth", "--out", str(out), "--n", "30", "--seed", "2"]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "(30, 2, 1024)" in text
    for word in ("chirp", "ofdm", "snr_db", "cfo_hz", "multipath"):
        assert word in text


def test_info_bad_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert main(["data", "info", str(bad)]) == 2
    assert "bad.npz: not an .npz archive" in capsys.readouterr().err
