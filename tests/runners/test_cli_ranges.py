"""Every numeric option of every ``hearloop`` command has a documented range, checked while the command line is parsed
(:func:`runners.cli_support.ranged` and its kin), stated in its help, and holding its default.

The walk finds every option of every sub-command, so an option added later with a bare ``type=int`` (or any other
converter that carries no range, or a number default without a type) fails :func:`test_every_numeric_option_is_range_
checked` until it gets one."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from runners import cli_ranges as ranges
from runners.cli import build_parser
from runners.cli_support import option_constraint, range_text, ranged, ranged_pair, spec_option
from simulator.validated_config import Interval, Options, Pair
from tests.runners.cli_walk import cli_commands

NOT_NUMBERS = (None, str, Path)
"""Converters of options that take no number (text, paths); every other ``type=`` must carry a range."""

SKIPPED = (argparse._HelpAction, argparse._SubParsersAction, argparse._VersionAction)


def _takes_a_value(action: argparse.Action) -> bool:
    return not isinstance(action, SKIPPED) and action.nargs != 0


def _number_default(default) -> bool:
    values = default if isinstance(default, (tuple, list)) else [default]
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def unchecked_numbers(parser: argparse.ArgumentParser) -> list[str]:
    """The options of ``parser`` (not of its sub-commands) that may take a number without a range checked at parse
    time: a ``type=`` other than text or a path that carries no constraint, or a number default with no ``type=``."""
    found = []
    for action in filter(_takes_a_value, parser._actions):
        flag = "/".join(action.option_strings) or action.dest
        if action.type in NOT_NUMBERS:
            if _number_default(action.default):
                found.append(f"{flag} (number default {action.default!r} without a checked type)")
        elif option_constraint(action.type) is None:
            found.append(f"{flag} (type {getattr(action.type, '__name__', action.type)!r} carries no range)")
    return found


COMMANDS = dict(cli_commands(build_parser()))
RANGED = [
    (name, action)
    for name, parser in COMMANDS.items()
    for action in filter(_takes_a_value, parser._actions)
    if option_constraint(action.type) is not None
]


def test_every_numeric_option_is_range_checked():
    unchecked = {name: bad for name, parser in COMMANDS.items() if (bad := unchecked_numbers(parser))}
    assert unchecked == {}
    assert len(RANGED) >= 80  # the walk reaches every command (about 100 ranged options when this was written)


def test_the_walk_finds_an_option_without_a_range():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1, help="x")
    parser.add_argument("--rate", type=float, help="x")
    parser.add_argument("--custom", type=lambda text: int(text), help="x")
    parser.add_argument("--typeless", default=3, help="x")
    parser.add_argument("--pair", type=float, nargs=2, default=(1.0, 2.0), help="x")
    parser.add_argument("--fine", type=ranged(int, Interval(int, 1, 9)), default=1, help="x")
    parser.add_argument("--levels", type=ranged_pair(Pair(Interval(float, 0.0, 1.0))), default="0,1", help="x")
    parser.add_argument("--workers", type=spec_option("engine", "workers", int), help="x")
    parser.add_argument("--name", default="a", help="x")
    parser.add_argument("--path", type=Path, default=Path("p"), help="x")
    parser.add_argument("--flag", action="store_true", help="x")
    found = unchecked_numbers(parser)
    assert [f.split()[0] for f in found] == ["--count", "--rate", "--custom", "--typeless", "--pair"]


@pytest.mark.parametrize(("command", "action"), RANGED, ids=[f"{c}:{a.dest}" for c, a in RANGED])
def test_help_states_the_range_and_the_default_lies_in_it(command, action):
    constraint = option_constraint(action.type)
    flag = "/".join(action.option_strings)
    assert range_text(constraint) in action.help, f"{command} {flag}: help does not state {range_text(constraint)!r}"
    default = action.type(action.default) if isinstance(action.default, str) else action.default
    for value in default if isinstance(default, tuple) and action.nargs == 2 else [default]:
        assert value is None or value in constraint, f"{command} {flag}: default {value!r} is not {constraint}"


@pytest.mark.parametrize(
    ("constraint", "text"),
    [
        (Interval(int, 1, 256), "1-256"),
        (Interval(float, -10.0, 120.0), "-10 to 120"),
        (Interval(int, 0, None), ">= 0"),
        (Interval(float, 0.0, None, closed="neither"), "> 0"),
        (Interval(float, None, 1.0), "<= 1"),
        (Interval(float, 0.0, 50.0, closed="right"), "(0, 50]"),
        (Interval(float, 0.0, 0.5, closed="left"), "[0, 0.5)"),
        (Interval(int, 0, 2**32 - 1), "0-4294967295"),
        (Options((4, 8, 16)), "4, 8 or 16"),
        (Pair(Interval(float, 0.0, 120.0)), "LOW <= HIGH, each 0-120"),
        (ranges.HOP_SAMPLES, "a multiple of 32 in [32, 8192]"),
    ],
)
def test_range_text(constraint, text):
    assert range_text(constraint) == text


def test_ranges_shared_with_the_library_are_the_library_s():
    """The command-line ranges that repeat one documented elsewhere repeat it exactly (they are kept apart only so
    that building the parser imports nothing heavy)."""
    from runners.fleet.spec import key_constraint
    from runners.fleet.spec_checks import RESPONSE_RATE, SD_DB
    from simulator.validation import SOUND_LEVEL_DB_SPL
    from simulator.virtual_ic.bez2018 import SUPPORTED_SAMPLE_RATES_HZ

    assert ranges.SOUND_LEVEL_DB_SPL == SOUND_LEVEL_DB_SPL == key_constraint("sounds", "level_db_spl")
    assert (ranges.RESPONSE_RATE, ranges.SD_DB) == (RESPONSE_RATE, SD_DB)
    assert ranges.THREADS == key_constraint("model", "threads")
    assert ranges.TRIALS == key_constraint("audiometry", "max_trials") == key_constraint("hitl", "budget")
    assert ranges.SEARCH_RADIUS == key_constraint("hitl", "radius")
    assert ranges.SOUND_SECONDS == key_constraint("sounds", "duration_s")
    assert ranges.SOUND_COUNT == key_constraint("sounds", "n_per_class")
    assert sorted(ranges.BEZ_SAMPLE_RATES_HZ.values) == sorted(SUPPORTED_SAMPLE_RATES_HZ)


def test_the_multiples_constraint():
    assert 4096 in ranges.HOP_SAMPLES and 32 in ranges.HOP_SAMPLES and 8192 in ranges.HOP_SAMPLES
    assert all(v not in ranges.HOP_SAMPLES for v in (0, 16, 4100, 8224, 4096.0, True, "4096"))
