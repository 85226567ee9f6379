"""Walk every ``hearloop`` sub-command parser (shared by the CLI help and range tests)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator


def cli_commands(
    parser: argparse.ArgumentParser, prefix: str = "hearloop"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Yield ``(command line prefix, parser)`` for ``parser`` and every sub-command below it, depth first."""
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from cli_commands(sub, f"{prefix} {name}")
