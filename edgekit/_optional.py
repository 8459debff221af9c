"""Import heavy optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from edgekit.errors import EdgekitError

__all__ = ["MissingExtraError", "require"]


class MissingExtraError(EdgekitError):
    """An optional dependency is not installed."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise one line saying which extra provides it and what for."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{purpose} needs the '{module}' package: pip install 'edgekit[{extra}]'"
        ) from e
