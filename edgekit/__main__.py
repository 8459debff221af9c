"""``python -m edgekit ...``: the same as the ``edgekit`` command."""

from __future__ import annotations

import sys

from edgekit.cli import main

if __name__ == "__main__":
    sys.exit(main())
