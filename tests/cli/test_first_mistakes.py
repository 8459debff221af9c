"""A new user's first mistakes with ``edgekit run``: one line that says what to do next.

Found by running the README's commands from a clean clone on a laptop: the default journal
folder (/var/lib/edgekit) does not exist there, and a missing port was named four times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.cli import main
from tests.runtime.bundles import write_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("b") / "bundle")


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_journal_in_a_missing_folder_says_how_to_choose_another(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "no-such-folder" / "journal.sqlite"
    args = ["run", str(bundle), "--port", str(tmp_path / "nope"), "--journal", str(journal),
            "--metrics-addr", "off", "--meter", "none"]
    assert main(args) == 2
    err = _one_line_error(capsys)
    assert str(journal.parent) in err and "does not exist" in err
    assert "--journal" in err  # what to do about it


def test_a_missing_port_is_named_once_with_the_reason(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = tmp_path / "ttyNOPE"
    args = ["run", str(bundle), "--port", str(port), "--journal", str(tmp_path / "j.sqlite"),
            "--metrics-addr", "off", "--meter", "none"]
    assert main(args) == 2
    err = _one_line_error(capsys)
    assert err.count(str(port)) == 1, err
    assert "No such file or directory" in err  # strerror(ENOENT), the cause in plain words


REFERENCE = Path(__file__).resolve().parents[2] / "models" / "rfclass-cnn"


@pytest.mark.parametrize(("name", "what"), [("edgekit.toml", "config"), ("model.onnx", "model")])
def test_out_naming_the_config_or_model_itself_says_is_not_contains(
    name: str, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--out edgekit.toml` read "output folder edgekit.toml: contains the config edgekit.toml"."""
    target = REFERENCE / name
    before = target.read_bytes()
    assert main(["build", str(REFERENCE / "edgekit.toml"), "--out", str(target)]) == 2
    err = _one_line_error(capsys)
    assert f"is the {what} " in err, err
    assert target.read_bytes() == before  # refused, not touched


def test_the_summary_names_the_bundle_as_the_reports_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Reports: oc/report.md, ...; bundle: /tmp/x/oc/bundle`: one line, two spellings."""
    from edgekit.cli.build_cmd import as_given

    monkeypatch.chdir(tmp_path)
    recorded = str(tmp_path / "oc" / "bundle")  # what the build records: absolute
    assert as_given(recorded, Path("oc")) == "oc/bundle"
    assert as_given("/elsewhere/bundle", Path("oc")) == "/elsewhere/bundle"  # never invented
    assert as_given("", Path("oc")) == ""  # a build that wrote no bundle


@pytest.mark.parametrize("command", [["verify"], ["run", "--port", "/dev/null"]])
def test_the_build_output_named_instead_of_its_bundle_points_at_the_bundle(
    command: list[str], bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`edgekit run out/rfclass-cnn` (the build's output, not out/rfclass-cnn/bundle) said only
    "no manifest.json; not an edgekit bundle"."""
    import shutil

    out = tmp_path / "out" / "rfclass-cnn"
    shutil.copytree(bundle, out / "bundle")
    assert main([command[0], str(out), *command[1:]]) == 2
    err = _one_line_error(capsys)
    assert "not an edgekit bundle" in err
    assert err.endswith(f"the bundle of a build output is {out / 'bundle'}"), err
