"""Every ``hearloop`` sub-command says what it does, and every option says what it does and what its default is.

An option with a real default must show it through ``%(default)s`` (argparse fills in the value, so the text cannot
drift from the code); an option whose default is None or a switch that is off says in words what happens without it.
"""

from __future__ import annotations

import argparse

import pytest

from runners.cli import build_parser
from tests.runners.cli_walk import cli_commands

COMMANDS = dict(cli_commands(build_parser()))
IN_REQUIRED_GROUP = {
    id(action)
    for parser in COMMANDS.values()
    for group in parser._mutually_exclusive_groups
    if group.required
    for action in group._group_actions
}
OPTIONS = [
    (name, action)
    for name, parser in COMMANDS.items()
    for action in parser._actions
    if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
]


def test_every_command_is_reached():
    assert {"hearloop train", "hearloop audiometry bench", "hearloop audiometry run", "hearloop fleet"} <= set(COMMANDS)
    assert len(OPTIONS) > 150


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_description(name):
    parser = COMMANDS[name]
    assert parser.description and len(parser.description) > 40, f"{name} has no description"
    assert "%%" not in parser.format_help(), f"{name} --help shows a literal %%"


@pytest.mark.parametrize(("command", "action"), OPTIONS, ids=[f"{c}:{a.dest}" for c, a in OPTIONS])
def test_every_option_has_help_that_states_its_default(command, action):
    flag = "/".join(action.option_strings) or action.dest
    assert action.help and action.help != argparse.SUPPRESS, f"{command} {flag}: no help"
    text = action.help
    if action.required or (not action.option_strings and action.nargs is None):
        return  # required: no default to state
    if id(action) in IN_REQUIRED_GROUP:
        assert "required" in text, f"{command} {flag}: help does not say that it (or another) is required"
        return
    real_default = action.default not in (None, False) and not isinstance(action, argparse._StoreTrueAction)
    if isinstance(action.default, (tuple, list)):  # LOW HIGH pairs: written out, as %(default)s would show a tuple
        shown = "default: " + " ".join(f"{v:g}" for v in action.default)
        assert shown in text, f"{command} {flag}: help does not state {shown!r}"
    elif real_default:
        assert "%(default)s" in text, f"{command} {flag}: default {action.default!r} not shown via %(default)s"
    else:
        assert "default" in text, f"{command} {flag}: help does not say what happens by default"
