"""Output folders that cannot destroy data: who owns a folder, a lock, one atomic swap, cleanup.

``edgekit build`` and ``edgekit bench`` write a folder (``out/NAME``, ``bench-out``) that a later
run replaces. The rules:

- **Ownership.** ``--out`` must be a new path, an empty folder, or a folder edgekit wrote: it
  holds ``.edgekit-output``, a JSON marker naming the command (``build`` / ``bench``) and every
  entry edgekit put there. A folder with any entry the marker does not list (a user's note, a
  config, a model), a file, a symlink, or a folder that is or contains one of the run's inputs
  (config, model, data, bundle) is refused with one line before any work starts.
- **Lock.** Beside the output lives its store, ``.NAME.edgekit/`` (marker ``.edgekit-store``).
  An exclusive ``flock`` on the store is held for the whole run, so a second run into the same
  folder is refused at once with the holder's pid; the kernel drops the lock when a process dies.
- **Atomic publish.** A run writes into ``.NAME.edgekit/run-ID/new/`` and scratch files into
  ``run-ID/tmp/``. At the end the marker is written and ``new`` is swapped with ``out/NAME`` by
  one ``renameat2(RENAME_EXCHANGE)``: readers see the whole previous output or the whole new one,
  never a mix and never nothing. The previous output lands in the run folder, is checked against
  its own marker once more (a file dropped into it meanwhile keeps it alive, reported) and removed.
- **Leftovers.** A run killed at any moment leaves at most its ``run-ID`` folder; the next run,
  under the lock, removes those that carry the run marker. Where ``RENAME_EXCHANGE`` is missing
  (not Linux, or a file system without it) the swap is two renames through ``run-ID/old``, and
  the next run restores ``old`` when a kill fell between them. A first run that ends without
  publishing removes the store it made, unless it kept logs there (next point).
- **Stopped runs keep their logs.** A run ended by Ctrl-C, SIGTERM or an error (not bad input,
  which stays one line) moves its
  progress log (``build.log``), its log files and a report (what was done, why it stopped) into
  ``.NAME.edgekit/stopped-*/`` and prints that path; the previous output stays untouched. The
  newest five are kept (``edgekit.outdir.kept``). A SIGKILL leaves no chance to do so.

Why a real folder swapped by ``RENAME_EXCHANGE`` rather than ``out/NAME`` as a symlink to a
build kept elsewhere: users and tools copy, tar, rsync and upload ``out/NAME``; a symlink there
is copied as a link (``cp -r``, ``tar``, artifact uploaders that skip hidden folders) and arrives
dangling on the Pi. A real folder keeps every path (``out/NAME/report.md``, ``bundle/``,
``NAME.bundle.tar.gz``) a plain file, and the exchange is still a single atomic step. The cost,
one persistent hidden sibling per output holding the lock, is stated in the README.

``ownership`` holds the rule (read-only checks); ``publish`` the store, lock, swap and cleanup.
"""

from __future__ import annotations

from edgekit.outdir.ownership import MARKER, STORE_MARKER, check_name, check_output, store_path
from edgekit.outdir.publish import OutputFolder, open_output

__all__ = [
    "MARKER",
    "STORE_MARKER",
    "OutputFolder",
    "check_name",
    "check_output",
    "open_output",
    "store_path",
]
