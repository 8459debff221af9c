"""``edgekit run BUNDLE --port URL``: the on-device daemon (see ``edgekit.runtime``)."""

from __future__ import annotations

from pathlib import Path

import typer

from edgekit.cli import app
from edgekit.cli.bundle_cmd import MAX_SIZE_HELP, TRUSTED_KEY_HELP

__all__ = ["run"]


@app.command()
def run(
    bundle: Path = typer.Argument(..., help="A bundle folder or .tar.gz archive; verified before loading."),
    port: str = typer.Option(
        ...,
        "--port",
        help="The scanner's serial port: /dev/edgekit-scanner, /dev/ttyACM0?baud=921600, "
        "a pty path or a pyserial URL.",
    ),
    variant: str | None = typer.Option(
        None, "--variant", help="Variant to run (default: runtime.variant, else the bundle's selected one)."
    ),
    meter: str | None = typer.Option(
        None,
        "--meter",
        help="Power meter spec for energy per inference (ina260:bus=1,addr=0x40, pmic, "
        "link = the scanner's POWER frames, model:rpi4b = ESTIMATED, none). Default auto: a board meter "
        "if one is detected, else link.",
    ),
    journal: Path | None = typer.Option(
        None,
        "--journal",
        help="SQLite journal path (default runtime.journal.path, /var/lib/edgekit/journal.sqlite).",
    ),
    metrics_addr: str | None = typer.Option(
        None,
        "--metrics-addr",
        help="HOST:PORT for /metrics and /status (default 127.0.0.1:9108; 'off' to disable).",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="TOML file with a [runtime] table (docs/config.md)."
    ),
    trusted_key: list[Path] | None = typer.Option(
        None, "--trusted-key", metavar="PUB", help=TRUSTED_KEY_HELP
    ),
    max_size: str | None = typer.Option(None, "--max-size", metavar="SIZE", help=MAX_SIZE_HELP),
) -> None:
    """Run the daemon: verify the bundle, open the scanner's port, answer every capture with a
    RESULT after journaling it, expose metrics, and stop cleanly on SIGTERM.

    With --trusted-key (or $EDGEKIT_TRUSTED_KEYS) the bundle must be signed by one of those keys;
    a bundle that fails verification is refused in one line, exit code 2.

    Exit codes: 0 stopped by SIGTERM or Ctrl-C once serving, after a clean shutdown (journal
    checkpointed; 143 / 130 when stopped while still starting up); 2 a usage or input error
    found before serving: a bundle that fails verification, a bad --config, a journal folder
    that does not exist, a port that cannot be opened.

    Example: `edgekit run out/rfclass-cnn/bundle --port /tmp/scanner --journal
    /tmp/journal.sqlite` (on a laptop, against `edgekit emulate --symlink /tmp/scanner`)
    """
    from edgekit.bundle import ArchiveLimits, load_bundle, resolve_trusted_keys
    from edgekit.runtime.daemon import Daemon
    from edgekit.runtime.settings import load_settings

    settings = load_settings(
        config,
        variant=variant,
        meter=meter,
        metrics_addr=metrics_addr,
        **{"journal.path": None if journal is None else str(journal)},
    )
    # keys and limits first: a bad key file is the operator's mistake, before anything opens
    keys = resolve_trusted_keys(trusted_key or [])
    loaded = load_bundle(bundle, trusted_keys=keys, limits=ArchiveLimits.resolve(max_size))
    code = Daemon(loaded, port, settings).run()
    raise typer.Exit(code)
