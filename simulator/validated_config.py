"""Validated configuration dataclasses with declarative parameter constraints (scikit-learn's
``_parameter_constraints`` in spirit).

A config dataclass inherits :class:`ValidatedConfig` and declares, per field, the values it accepts; a value must
satisfy at least one constraint of its list::

    @dataclass
    class FitConfig(ValidatedConfig):
        _config_name: ClassVar[str] = "fit config"
        _parameter_constraints: ClassVar[dict[str, list]] = {
            "steps": [Interval(int, 1, None)],
            "mode": [Options(("pairwise", "rating"))],
            "target": [None, Interval(float, 0.0, 1.0)],
        }
        steps: int = 30
        mode: str = "pairwise"
        target: float | None = None

        def __post_init__(self) -> None:
            self.validate_parameters()  # then any check that ties several fields together

A constraint is ``None`` (the value may be None), an :class:`Interval`, an :class:`Options`, a :class:`Pattern` (a
string matching a regular expression, e.g. a plain file name) or a :class:`Pair` (an ordered ``(low, high)`` pair of
an interval, e.g. a level range). Each has ``value in constraint`` and a ``str`` that says what it accepts. A bad
value raises :class:`~simulator.errors.HearloopInputError` naming the config, the field, what it accepts and what it
got.
:meth:`ValidatedConfig.from_dict` builds a config from a mapping (a JSON object, an RLlib ``env_config``) and refuses
unknown keys, since they would mean a different configuration than the one built.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from simulator.errors import HearloopInputError

__all__ = ["Interval", "Options", "Pair", "Pattern", "ValidatedConfig"]

_C = TypeVar("_C", bound="ValidatedConfig")


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``int``: integers, not bools; ``float``: any real) between ``left`` and ``right``.

    Args:
        kind: ``int`` or ``float``.
        left, right: bounds; None for unbounded.
        closed: which bounds belong to the interval: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
    """

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def __contains__(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if not isinstance(value, numbers.Integral if self.kind is int else numbers.Real):
            return False
        if not math.isfinite(float(value)):
            return False
        lo_ok = self.left is None or value > self.left or (value == self.left and self.closed in ("both", "left"))
        hi_ok = self.right is None or value < self.right or (value == self.right and self.closed in ("both", "right"))
        return lo_ok and hi_ok

    def __str__(self) -> str:
        lo = "(" if self.left is None or self.closed in ("right", "neither") else "["
        hi = ")" if self.right is None or self.closed in ("left", "neither") else "]"
        left = "-inf" if self.left is None else f"{self.left:g}"
        right = "inf" if self.right is None else f"{self.right:g}"
        return f"{'an integer' if self.kind is int else 'a number'} in {lo}{left}, {right}{hi}"


@dataclass(frozen=True)
class Options:
    """One of ``values``."""

    values: tuple[Any, ...]

    def __contains__(self, value: Any) -> bool:
        return any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in self.values)

    def __str__(self) -> str:
        return f"one of {self.values}"


@dataclass(frozen=True)
class Pattern:
    """Strings that match ``regex`` in full; ``description`` says in words what they look like."""

    regex: str
    description: str

    def __contains__(self, value: Any) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Pair:
    """A ``(low, high)`` pair (tuple or list) of ``item`` values with ``low <= high`` (``low < high`` if ``strict``)."""

    item: Interval
    strict: bool = False

    def __contains__(self, value: Any) -> bool:
        if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(v in self.item for v in value):
            return False
        return value[0] < value[1] if self.strict else value[0] <= value[1]

    def __str__(self) -> str:
        return f"a pair (low, high) with low {'<' if self.strict else '<='} high, each {self.item}"


Constraint = Interval | Options | Pattern | Pair
"""Any declarative constraint (``value in constraint``; ``str(constraint)`` says what it accepts)."""


def _accepts(constraint: Constraint | None, value: Any) -> bool:
    return value is None if constraint is None else value in constraint


class ValidatedConfig:
    """Mixin of configuration dataclasses: :meth:`validate_parameters` and :meth:`from_dict` (see the module)."""

    _config_name: ClassVar[str] = "config"
    _parameter_constraints: ClassVar[dict[str, list[Constraint | None]]] = {}

    def validate_parameters(self) -> None:
        """Check every field named in ``_parameter_constraints``, in declaration order.

        Raises:
            HearloopInputError: the first field whose value satisfies none of its constraints.
        """
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if not any(_accepts(c, value) for c in constraints):
                accepted = " or ".join("None" if c is None else str(c) for c in constraints)
                raise HearloopInputError(f"{self._config_name} {name} must be {accepted}, got {value!r}")

    @classmethod
    def from_dict(cls: type[_C], data: Mapping[str, Any] | None = None, **overrides: Any) -> _C:
        """Build from a mapping updated by keyword ``overrides``; unknown keys are an error.

        Raises:
            HearloopInputError: ``data`` is not a mapping, or it names fields the config does not have.
        """
        if data is not None and not isinstance(data, Mapping):
            raise HearloopInputError(f"{cls._config_name} must be a mapping (JSON object), got {type(data).__name__}")
        values = {**(data or {}), **overrides}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise HearloopInputError(f"unknown {cls._config_name} keys: {unknown}; known: {sorted(known)}")
        return cls(**values)
