"""Lazy (PEP 562) re-exports: a package names its public objects without importing the modules that define them.

``import simulator`` (or ``runners.env``) stays light, so the CLI's ``--help`` does not load torch; the first access to
``simulator.load_model`` imports :mod:`simulator.model.checkpoint` and caches the function in the package. A leaf
module: it imports nothing of hearloop.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, table: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` is imported from module ``table[name]`` on first access and
    cached in ``namespace`` (the package's ``globals()``); any other name is an ``AttributeError``."""

    def __getattr__(name: str) -> Any:
        if name in table:
            value = getattr(importlib.import_module(table[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
