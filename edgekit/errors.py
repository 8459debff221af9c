"""The exceptions edgekit raises, under one root.

::

    EdgekitError                    anything edgekit reports to a user
    ├── UsageError                  a bad argument or option (CLI exit code 2)
    ├── ConfigError                 edgekit.toml: missing file, unknown key, wrong type or value
    ├── ModelError                  an ONNX/TFLite file that is missing, truncated or unsupported
    ├── DataError                   a dataset or data recipe that is malformed
    ├── ConversionError             an export or converter step that failed
    ├── BundleError                 a bundle that is malformed or fails verification
    ├── MeterError                  a power meter that is absent or cannot resolve a window
    └── BudgetError                 a budget that is malformed (a broken budget is a verdict, not an error)

Library exceptions are translated at the boundary with ``raise ... from e``. Every message is one
line naming the file, key or offset at fault and what would be accepted. ``firmware_bridge`` keeps
its own tree (``firmware_bridge.errors``) because it imports nothing from edgekit.
"""

from __future__ import annotations

__all__ = [
    "BudgetError",
    "BundleError",
    "ConfigError",
    "ConversionError",
    "DataError",
    "EdgekitError",
    "MeterError",
    "ModelError",
    "UsageError",
]


class EdgekitError(Exception):
    """Root of every error edgekit reports to a user. ``exit_code`` is what the CLI returns."""

    exit_code: int = 2


class UsageError(EdgekitError):
    """A bad command-line argument or option."""


class ConfigError(EdgekitError):
    """A build configuration that cannot be read or does not validate."""


class ModelError(EdgekitError):
    """A model file that is missing, truncated, not a model, or unsupported."""


class DataError(EdgekitError):
    """A dataset file or data recipe that is missing or malformed."""


class ConversionError(EdgekitError):
    """An export, quantisation or converter step that failed."""

    exit_code = 1


class BundleError(EdgekitError):
    """A bundle that is malformed or whose files do not match the manifest."""


class MeterError(EdgekitError):
    """A power meter that is absent, misconfigured, or cannot resolve a measurement window."""


class BudgetError(EdgekitError):
    """A budget definition that is malformed."""
