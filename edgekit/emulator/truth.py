"""What the host must count, worked out from the bytes the emulator really wrote.

``LineAccount`` follows every packet the scanner produced to its fate: written intact and
readable by the host, spoiled on the wire, never written (dropped, TX overflow), or produced
while no host had the port open. It splits the written byte stream at 0x00 exactly as a
receiver does, so merged, split and garbage-wrapped frames are counted from what happened,
not from what a fault was meant to do. From that it derives the host's expected counters
(PROTOCOL.md §4): damaged frames, packets lost *and visible as lost* (a loss is only visible
between two packets the host received from the same boot, or after a reboot the host saw
while it listened: the new boot numbers from 0), duplicates and resets. Losses no receiver
can see (the last packets before a reboot, those before the first one received after the
port was opened) are counted apart as ``lost_unobservable``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from edgekit.emulator.records import Frame

__all__ = ["LineAccount", "LineTotals", "PacketFate", "account_frame"]

PacketFate = Literal["received", "lost", "not_open"]


@dataclass(slots=True)
class LineTotals:
    """Counters of one run (see the module docstring); ``to_dict`` for the stats file."""

    packets: int = 0  # packets the scanner produced (each took a sequence number)
    received: int = 0  # written intact after a delimiter: the host decodes them
    lost: int = 0  # took a sequence number and never reached the host intact
    sent_before_open: int = 0  # produced while no host had the port open (not lost)
    lost_observable: int = 0  # = the host decoder's lost_packets
    lost_unobservable: int = 0
    bad_segments: int = 0  # = the host's crc_failures + framing_errors + resyncs
    duplicates: int = 0  # = the host's duplicates
    boots: int = 0
    resets_observable: int = 0  # = the host's device_resets
    opens: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class LineAccount:
    """Feed it, in wire order, every frame written (``written``), every frame that never
    reached the wire (``discarded``), and the host opening or closing the port."""

    def __init__(self) -> None:
        self.totals = LineTotals()
        self._open_len = 0  # bytes since the last 0x00 on the wire
        self._boot: int | None = None  # boot of the packets now being followed
        self._pending_lost = 0  # lost since the last packet received from this boot
        self._boot_seen = False  # received a packet of this boot since the port opened
        self._contact = False  # received anything since the port opened
        self._last_received_boot: int | None = None

    # -- the port -------------------------------------------------------------------------------
    def opened(self) -> None:
        """The host opened the port: it starts reading at a frame boundary (its first 0x00)."""
        self.totals.opens += 1
        self._forget_contact()
        self._open_len = 0

    def closed(self) -> None:
        """The host's port went away: what it had not seen yet it will never know of."""
        self._forget_contact()

    # -- frames ---------------------------------------------------------------------------------
    def filler(self, data: bytes) -> None:
        """Bytes written that carry no packet (a lone 0x00, a half frame cut by a reboot)."""
        self._scan(data, readable=False)

    def written(self, boot: int, prefix: bytes, body: bytes, *, intact: bool, copies: int = 1) -> PacketFate:
        """One packet of boot ``boot`` went onto the wire as ``prefix`` + ``body``."""
        self._packet(boot)
        self._scan(prefix, readable=False)
        if not body:
            return self._lose()
        one = body[: len(body) // copies]
        readable = [self._scan(one, readable=intact) for _ in range(copies)]
        if not any(readable):
            return self._lose()
        self.totals.duplicates += sum(readable) - 1
        self._receive(boot)
        return "received"

    def discarded(self, boot: int, *, port_open: bool) -> PacketFate:
        """One packet never reached the wire: lost if the host was listening, else
        ``not_open`` (written while no host had the port open)."""
        self._packet(boot)
        if port_open:
            return self._lose()
        self.totals.sent_before_open += 1
        return "not_open"

    def finish(self) -> LineTotals:
        """Close the books (the last losses of the run are unobservable) and return them."""
        self._end_boot()
        return self.totals

    # -- internals ------------------------------------------------------------------------------
    def _packet(self, boot: int) -> None:
        self.totals.packets += 1
        if boot != self._boot:
            self._end_boot()
            self._boot = boot
            self.totals.boots += 1

    def _end_boot(self) -> None:
        self.totals.lost_unobservable += self._pending_lost
        self._pending_lost = 0
        self._boot_seen = False

    def _forget_contact(self) -> None:
        self._end_boot()
        self._contact = False

    def _lose(self) -> PacketFate:
        self.totals.lost += 1
        self._pending_lost += 1
        return "lost"

    def _receive(self, boot: int) -> None:
        t = self.totals
        t.received += 1
        # Within a boot a gap shows; the first packet of a new boot heard while listening
        # shows its own number (the boot's earlier packets); after an open nothing shows.
        if self._boot_seen or self._contact:
            t.lost_observable += self._pending_lost
        else:
            t.lost_unobservable += self._pending_lost
        self._pending_lost = 0
        if self._last_received_boot is not None and boot != self._last_received_boot:
            t.resets_observable += 1
        self._last_received_boot = boot
        self._boot_seen = True
        self._contact = True

    def _scan(self, data: bytes, *, readable: bool) -> bool:
        """Account ``data`` going onto the wire. With ``readable``, the data is one intact
        frame: it is read by the host when it starts at a boundary. Returns whether it was."""
        if not data:
            return False
        if readable and self._open_len == 0:
            return True  # data ends with its delimiter: the boundary stays a boundary
        pieces = data.split(b"\x00")
        tail = pieces.pop()
        for i, piece in enumerate(pieces):
            if len(piece) + (self._open_len if i == 0 else 0):
                self.totals.bad_segments += 1
        self._open_len = len(tail) + (self._open_len if not pieces else 0)
        return False


def account_frame(
    account: LineAccount, frame: Frame, *, written: bool, port_open: bool = True
) -> PacketFate | None:
    """Book one scanner ``Frame``: ``written`` onto the wire, or not (then lost if the host
    was listening, else ``not_open``). Returns the packet's fate (None: no packet in it)."""
    if frame.seq is None:
        if written:
            account.filler(frame.data)
        return None
    if not written:
        return account.discarded(frame.boot, port_open=port_open)
    cut = frame.prefix_len
    return account.written(
        frame.boot, frame.data[:cut], frame.data[cut:], intact=frame.intact, copies=frame.copies
    )
