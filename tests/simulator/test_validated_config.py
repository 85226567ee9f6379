"""The declarative config helper and the three configs built on it (model, DNN compensator, environment)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from simulator.errors import HearloopInputError
from simulator.validated_config import Interval, Options, ValidatedConfig

_STEPS = [Interval(int, 1, None)]


@dataclass
class _Fit(ValidatedConfig):
    """A config with one constraint of each kind."""

    steps: int = 30
    mode: str = "pairwise"
    target: float | None = None
    _config_name: ClassVar[str] = "fit config"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "target": [None, Interval(float, 0.0, 1.0, closed="right")],
        "steps": _STEPS,
        "mode": [Options(("pairwise", "rating"))],
    }

    def __post_init__(self) -> None:
        self.validate_parameters()


def test_constraints_accept_and_refuse():
    assert 3 in Interval(int, 1, None) and 0 not in Interval(int, 1, None)
    assert True not in Interval(int, 0, None) and 2.0 not in Interval(int, 0, None)  # bools and floats are no ints
    assert 1 in Interval(float, 0.0, 1.0) and 0.0 not in Interval(float, 0.0, 1.0, closed="right")
    assert float("nan") not in Interval(float, None, None)
    assert "rating" in Options(("pairwise", "rating")) and True not in Options((1,))
    assert str(Interval(int, 1, None)) == "an integer in [1, inf)"


def test_validate_parameters_names_the_field_and_from_dict_refuses_unknown_keys():
    assert _Fit.from_dict({"steps": 5}, target=1.0) == _Fit(steps=5, target=1.0)
    with pytest.raises(HearloopInputError, match=r"fit config steps must be an integer in \[1, inf\), got 0"):
        _Fit(steps=0)
    with pytest.raises(HearloopInputError, match=r"target must be None or a number in \(0, 1\]"):
        _Fit(target=0.0)
    with pytest.raises(HearloopInputError, match=r"unknown fit config keys: \['stpes'\]"):
        _Fit.from_dict({"stpes": 3})
    with pytest.raises(HearloopInputError, match="must be a mapping"):
        _Fit.from_dict([("steps", 3)])


def test_the_three_configs_use_it():
    from compensation.dnn import DNNConfig
    from runners.env.config import EnvConfig
    from simulator.model.config import ModelConfig

    for cls, bad, field in ((ModelConfig, {"n_channels": 0}, "n_channels"), (DNNConfig, {"hidden": 0}, "hidden"),
                            (EnvConfig, {"max_steps": 0}, "max_steps")):  # fmt: skip
        assert issubclass(cls, ValidatedConfig)
        with pytest.raises(HearloopInputError, match=field):
            cls.from_dict(bad)
        with pytest.raises(HearloopInputError, match="unknown"):
            cls.from_dict({"no_such_key": 1})
