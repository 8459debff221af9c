"""``edgekit emulate``: a virtual scanner on a pseudo-terminal (or a serial port) that speaks
the wire protocol and streams synthetic radio captures, with injectable faults."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated

import typer

from edgekit.cli import app
from edgekit.cli._options import check_number, parse_classes
from edgekit.data.synth import ALL_CLASSES, CLASSES
from edgekit.emulator.faults import FaultConfig
from edgekit.emulator.pty_device import (
    Port,
    PtyPort,
    RunOptions,
    SerialPort,
    default_symlink,
    run,
)
from edgekit.emulator.scanner import MAX_CAPTURE_RATE_HZ, ScannerConfig, VirtualScanner
from edgekit.emulator.scenario import Scenario, parse_class_mix
from edgekit.errors import UsageError
from firmware_bridge import PROTOCOL_MAJOR, PROTOCOL_MINOR, SampleFormat

__all__ = ["emulate"]

_VERSION = re.compile(r"^(\d{1,3})\.(\d{1,3})$")


def _probability(name: str, p: float) -> float:
    if not (math.isfinite(p) and 0.0 <= p <= 1.0):
        raise UsageError(f"{name}: need a probability in [0, 1], got {p:g}")
    return p


def _version(text: str) -> tuple[int, int]:
    m = _VERSION.match(text.strip())
    if m is None or int(m.group(1)) > 255 or int(m.group(2)) > 255:
        raise UsageError(
            f"--protocol-version: expected MAJOR.MINOR with each in 0..255 (e.g. "
            f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}), got {text!r}"
        )
    return int(m.group(1)), int(m.group(2))


def _sample_format(text: str) -> int:
    names = {f.name.lower(): int(f) for f in SampleFormat}
    value = names.get(text.strip().lower())
    if value is None:
        try:
            value = int(text, 0)
        except ValueError:
            value = -1
    if not 1 <= value <= 255:
        raise UsageError(f"--sample-format: expected {', '.join(names)} or a code 1..255, got {text!r}")
    return value


def _out_file(name: str, path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise UsageError(f"{name}: folder {path.parent} does not exist")
    if path is not None and path.is_dir():
        raise UsageError(f"{name}: {path} is a folder; give the path of a file to write")


@app.command()
def emulate(
    rate: Annotated[
        float,
        typer.Option(
            "--rate", help=f"Captures per second while streaming (0 < HZ <= {MAX_CAPTURE_RATE_HZ:g})."
        ),
    ] = 10.0,
    link: Annotated[
        str,
        typer.Option(
            "--link",
            help="'pty' (default): a new pseudo-terminal; or a serial port / pyserial URL on "
            "which to play the device (e.g. /dev/ttyUSB0, socket://host:port).",
        ),
    ] = "pty",
    symlink: Annotated[
        Path | None,
        typer.Option(
            "--symlink",
            help="Stable path (a symlink to the pty) that survives unplug/replug; default "
            "/tmp/edgekit-scanner-PID. Removed on exit. A path holding anything but a dangling "
            "symlink or this emulator's own link is refused. Only with --link pty.",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: captures and faults repeat for a seed.")
    ] = 0,
    classes: Annotated[
        str | None,
        typer.Option(
            "--classes",
            help=f"Comma list of signal classes to transmit (default: the {len(CLASSES)} "
            f"in-distribution ones). Accepted: {', '.join(ALL_CLASSES)}.",
        ),
    ] = None,
    snr_range: Annotated[
        tuple[float, float],
        typer.Option("--snr-range", help="Per-capture SNR drawn uniformly in [A, B] dB."),
    ] = (-10.0, 20.0),
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            help="Stop after N captures, then keep serving for --linger seconds (or until every "
            "capture was answered) and exit. For tests and CI.",
        ),
    ] = None,
    duration: Annotated[float | None, typer.Option("--duration", help="Exit after S seconds.")] = None,
    linger: Annotated[
        float,
        typer.Option("--linger", help="Seconds to wait for the last RESULTs after --count."),
    ] = 2.0,
    power_period_ms: Annotated[
        int,
        typer.Option(
            "--power-period-ms",
            help="Send a POWER batch (100 Hz monitor readings) every MS ms; 0 = no POWER.",
        ),
    ] = 100,
    corrupt_rate: Annotated[
        float,
        typer.Option(
            "--corrupt-rate",
            help="Fraction P of packets with 1-3 bytes changed anywhere, the 0x00 delimiter "
            "included (frames merge) and to 0x00 (frames split).",
        ),
    ] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option(
            "--drop-rate",
            help="Fraction P of packets dropped; their sequence numbers are still consumed, so "
            "the host sees gaps.",
        ),
    ] = 0.0,
    garbage_rate: Annotated[
        float,
        typer.Option(
            "--garbage-rate",
            help="Fraction P of packets preceded by a burst of random bytes (line noise), "
            "half of them not ended by a 0x00, so they swallow the packet that follows.",
        ),
    ] = 0.0,
    duplicate_rate: Annotated[
        float,
        typer.Option("--duplicate-rate", help="Fraction P of packets written twice."),
    ] = 0.0,
    boot_hello_loss: Annotated[
        float,
        typer.Option(
            "--boot-hello-loss",
            help="Probability P that each BOOT HELLO (first and repeats) is lost, so the host "
            "must see the reboot from the sequence numbers, the clock or the boot ID.",
        ),
    ] = 0.0,
    baud: Annotated[
        int | None,
        typer.Option(
            "--baud",
            help="Model a UART at this baud rate (8N1: baud/10 bytes/s) with a 16 KiB TX "
            "buffer: packets that do not fit are dropped at the source (OVERFLOW flag). "
            "Default: USB CDC, no rate limit.",
        ),
    ] = None,
    clock_ppm: Annotated[
        float,
        typer.Option(
            "--clock-ppm",
            help="The scanner's clock runs this many parts per million fast (negative: slow) "
            "against the host's, as a crystal does; TIME exchanges measure it.",
        ),
    ] = 0.0,
    reset_every: Annotated[
        int | None,
        typer.Option(
            "--reset-every",
            help="Reboot mid-packet: the N-th capture after each boot is cut in half, then the "
            "scanner reboots (sequence from 0, HELLO with BOOT) and waits for START.",
        ),
    ] = None,
    unplug_every: Annotated[
        float | None,
        typer.Option(
            "--unplug-every",
            help="Every S seconds the pty vanishes (symlink removed), then comes back at the "
            "same symlink after --unplug-for seconds. Only with --link pty.",
        ),
    ] = None,
    unplug_for: Annotated[float, typer.Option("--unplug-for", help="Seconds each unplug lasts.")] = 1.0,
    protocol_version: Annotated[
        str,
        typer.Option(
            "--protocol-version",
            help="Protocol version MAJOR.MINOR to announce in every header and HELLO "
            f"(default {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}); another major is refused by hosts.",
        ),
    ] = f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}",
    sample_format: Annotated[
        str,
        typer.Option(
            "--sample-format",
            help="Sample format to announce in HELLO and CAPTURE: ci16 (default) or a code "
            "1..255 (anything but 1 is an upstream format change a host must notice).",
        ),
    ] = "ci16",
    frontend_drift: Annotated[
        float,
        typer.Option("--drift", help="Front-end degradation 0..1 at the start (IQ imbalance, DC offset)."),
    ] = 0.0,
    drift_after: Annotated[
        float,
        typer.Option(
            "--drift-after",
            help="Seconds after the start when --snr-drift and --frontend-drift begin.",
        ),
    ] = 0.0,
    snr_drift: Annotated[
        float,
        typer.Option(
            "--snr-drift",
            help="After --drift-after, both SNR bounds move by this many dB per minute "
            "(negative = worse), in 0.5 dB steps.",
        ),
    ] = 0.0,
    frontend_drift_rate: Annotated[
        float,
        typer.Option(
            "--frontend-drift",
            help="After --drift-after, the front-end degradation grows by this much per "
            "minute (capped at 1), in 0.01 steps.",
        ),
    ] = 0.0,
    class_mix_after: Annotated[
        list[str] | None,
        typer.Option(
            "--class-mix-after",
            help="S:class[,class...]: from S seconds on, transmit these classes instead "
            "(repeatable, e.g. --class-mix-after 30:ofdm,fm).",
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="Write the ground truth as JSON lines (capture_id, class, snr_db, cfo_hz, "
            "drift, timestamp_us, boot, fault) as captures are sent; fault is null (delivered), "
            "drop, corrupt, merged, reset, tx_overflow or not_open (no host had the port "
            'open). The last line, {"line": {...}}, holds the packet counts the host must '
            "see (lost_observable, bad_segments, duplicates, resets_observable) and "
            "sent_before_open.",
        ),
    ] = None,
    stats: Annotated[
        Path | None,
        typer.Option(
            "--stats",
            help="Write the run's counters (captures, RESULTs received, faults) as JSON at exit.",
        ),
    ] = None,
) -> None:
    """Run a virtual scanner speaking the wire protocol (1.2 unless --protocol-version says
    otherwise): answer the handshake (HELLO, PING/PONG, START, STOP, CONFIG, TIME), stream
    synthetic CAPTUREs with POWER packets, send HEARTBEATs, count the host's RESULTs, and inject
    faults on request. It writes only while a host has the port open. Ctrl-C (or SIGTERM) ends
    it and removes the symlink.

    Exit codes: 0 stopped (Ctrl-C, SIGTERM, --duration or --max-captures); 2 a bad option or a
    --symlink path it may not replace.

    Example: `edgekit emulate --rate 5 --symlink /tmp/scanner`, then in another terminal
    `edgekit run out/rfclass-cnn/bundle --port /tmp/scanner --journal /tmp/journal.sqlite`
    """
    if not (math.isfinite(rate) and 0 < rate <= MAX_CAPTURE_RATE_HZ):
        raise UsageError(f"--rate: need 0 < HZ <= {MAX_CAPTURE_RATE_HZ:g}, got {rate:g}")
    if seed < 0:
        raise UsageError(f"--seed: need an integer >= 0, got {seed}")
    for name, n in (("--count", count), ("--reset-every", reset_every)):
        if n is not None and n < 1:
            raise UsageError(f"{name}: need an integer >= 1, got {n}")
    check_number("--duration", duration, above=0)
    check_number("--linger", linger, at_least=0)
    check_number("--unplug-every", unplug_every, above=0)
    check_number("--unplug-for", unplug_for, above=0)
    check_number("--drift-after", drift_after, at_least=0)
    check_number("--frontend-drift", frontend_drift_rate, at_least=0)
    if not (math.isfinite(frontend_drift) and 0 <= frontend_drift <= 1):
        raise UsageError(f"--drift: need a value in [0, 1], got {frontend_drift:g}")
    if not math.isfinite(snr_drift):
        raise UsageError("--snr-drift: need a finite number of dB per minute")
    lo, hi = snr_range
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise UsageError(f"--snr-range: need finite A <= B, got {lo:g} {hi:g}")
    faults = FaultConfig(
        drop_rate=_probability("--drop-rate", drop_rate),
        corrupt_rate=_probability("--corrupt-rate", corrupt_rate),
        garbage_rate=_probability("--garbage-rate", garbage_rate),
        duplicate_rate=_probability("--duplicate-rate", duplicate_rate),
        boot_hello_loss=_probability("--boot-hello-loss", boot_hello_loss),
    )
    if baud is not None and not 300 <= baud <= 100_000_000:
        raise UsageError(f"--baud: need 300..100000000, got {baud}")
    if not (math.isfinite(clock_ppm) and abs(clock_ppm) <= 10_000):
        raise UsageError(f"--clock-ppm: need a value in -10000..10000, got {clock_ppm:g}")
    try:
        mix = tuple(parse_class_mix(text) for text in class_mix_after or ())
    except ValueError as e:
        raise UsageError(f"--class-mix-after: {e}") from e
    if link != "pty" and (symlink is not None or unplug_every is not None):
        raise UsageError("--symlink and --unplug-every need --link pty")
    _out_file("--truth", truth)
    _out_file("--stats", stats)
    try:
        scenario = Scenario(
            classes=CLASSES if classes is None else parse_classes(classes),
            snr_range_db=(lo, hi),
            frontend_drift=frontend_drift,
            drift_after_s=drift_after,
            snr_drift_db_per_min=snr_drift,
            frontend_drift_per_min=frontend_drift_rate,
            class_mix=mix,
        )
        config = ScannerConfig(
            seed=seed,
            capture_rate_hz=rate,
            power_period_ms=power_period_ms,
            protocol_version=_version(protocol_version),
            sample_format=_sample_format(sample_format),
            max_captures=count,
            reset_every=reset_every,
            scenario=scenario,
            faults=faults,
            clock_ppm=clock_ppm,
        )
    except ValueError as e:
        raise UsageError(str(e)) from e

    port: Port
    if link == "pty":
        path = symlink if symlink is not None else default_symlink()
        if not path.parent.is_dir():
            raise UsageError(f"--symlink: folder {path.parent} does not exist")
        port = PtyPort(path)  # plugged below, inside the block that always unplugs it
    else:
        try:
            port = SerialPort(link)
        except OSError as e:
            raise UsageError(f"--link: {e}") from e
        typer.echo(f"virtual scanner on {link}")
    try:
        if isinstance(port, PtyPort):
            slave = port.plug()
            typer.echo(f"virtual scanner on {slave} (symlink {port.symlink})")
        options = RunOptions(
            duration_s=duration,
            unplug_every_s=unplug_every,
            unplug_for_s=unplug_for,
            linger_s=linger,
            truth_path=truth,
            stats_path=stats,
            baud=baud,
        )
        summary = run(VirtualScanner(config), port, options)
    finally:
        port.close()  # removes our symlink on every way out, errors and signals included
    s = summary.stats["scanner"]
    typer.echo(
        f"emulator stopped ({summary.reason}) after {summary.duration_s:.1f} s: "
        f"{s['captures_sent']} captures sent, {s['results_received']} results received, "
        f"{summary.stats['unanswered']} unanswered, {s['boots']} boots, "
        f"{summary.unplugs} unplugs",
        err=True,
    )
