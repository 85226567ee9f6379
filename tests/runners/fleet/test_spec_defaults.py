"""One source of the fleet-spec defaults: ``hearloop fleet --describe``, ``runners/assets/fleet-default.toml`` and the
defaults a spec file falls back to all come from the section dataclasses of ``runners/fleet/spec.py``."""

from __future__ import annotations

import re

import pytest
import tomllib

from runners.cli import main
from runners.fleet.spec import DEFAULT_SPEC_PATH, load_spec, parse_spec
from runners.fleet.spec_docs import default_spec_toml, describe_fields, spec_fields, toml_value
from simulator.errors import SpecError

DESCRIBED = re.compile(r"^  (\w+) \((.+?), default (.+?)\): (.*)$")


def _described(text: str) -> dict[tuple[str, str], object]:
    """``{(section, key): default}`` parsed back from ``--describe`` output."""
    out, section = {}, None
    for line in text.splitlines():
        if re.fullmatch(r"\[\w+\]", line):
            section = line[1:-1]
            continue
        m = DESCRIBED.match(line)
        assert m and section, f"unexpected --describe line {line!r}"
        out[section, m.group(1)] = tomllib.loads(f"v = {m.group(3)}")["v"]
    return out


def test_the_committed_default_spec_is_the_generated_one():
    assert DEFAULT_SPEC_PATH.read_text() == default_spec_toml(), (
        "runners/assets/fleet-default.toml is stale: python -m runners.fleet.spec_docs --write"
    )


def test_describe_and_the_default_spec_file_agree_key_by_key(capsys):
    assert main(["fleet", "--describe"]) == 0
    described = _described(capsys.readouterr().out)
    in_file = tomllib.loads(DEFAULT_SPEC_PATH.read_text())
    assert set(described) == {(s, k) for s, keys in in_file.items() for k in keys}
    for (section, key), default in described.items():
        assert in_file[section][key] == default, (
            f"[{section}] {key}: --describe {default!r}, file {in_file[section][key]!r}"
        )
    # the two the issue found disagreeing, and what a spec that leaves them out gets
    assert described["hitl", "budget"] == in_file["hitl"]["budget"] == parse_spec({}).hitl.budget == 20
    assert described["evaluation", "extra_distances"] == parse_spec({}).evaluation.extra_distances == ["kl"]


def test_the_default_spec_file_empty_spec_and_no_spec_are_the_same_run():
    from_file = load_spec(DEFAULT_SPEC_PATH)
    assert from_file.to_dict() == parse_spec({}).to_dict() == load_spec(None).to_dict()
    assert from_file.digest() == load_spec(None).digest()


def test_every_key_has_a_meaning_and_a_toml_default():
    fields = list(spec_fields())
    assert len(fields) > 40
    for section, key, _, default, doc in fields:
        assert len(doc) > 10, f"[{section}] {key} has no meaning"
        assert tomllib.loads(f"v = {toml_value(default)}")["v"] == default
    assert describe_fields().count("\n") == len(fields) + 12 - 1  # 12 section headers


def test_the_default_extra_distance_steps_aside_for_the_main_distance():
    assert parse_spec({"evaluation": {"distance": "kl"}}).evaluation.extra_distances == []
    assert parse_spec({"evaluation": {"distance": "l2"}}).evaluation.extra_distances == ["kl"]
    with pytest.raises(SpecError, match="extra_distances"):
        parse_spec({"evaluation": {"distance": "kl", "extra_distances": ["kl"]}})
