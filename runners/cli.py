"""The ``hearloop`` command line.

Every module in :mod:`runners.commands` contributes one top-level command through ``register(subparsers)``; they are
discovered at start-up so each command lives in its own small module.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import runners.commands
from simulator.errors import HearloopError


def build_parser() -> argparse.ArgumentParser:
    """The full argparse parser with every registered command."""
    parser = argparse.ArgumentParser(
        prog="hearloop",
        description="Closed-loop simulation platform for hearing-aid research.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for info in sorted(pkgutil.iter_modules(runners.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"runners.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hearloop`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (HearloopError, ValueError, RuntimeError, FileNotFoundError) as err:
        # Expected user errors (bad input, bad files, HearloopError): one clear line, no traceback.
        if getattr(args, "debug", False):
            raise
        print(f"hearloop {args.command}: error: {err}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
