"""Registry of hearing-aid strategies by name: ``get_strategy("unaided" | "nalr" | "multiband" | "wdrc", **kwargs)``."""

from __future__ import annotations

from typing import Any

from compensation.multiband_gain import MultibandGain
from compensation.nalr_strategy import NALRStrategy
from compensation.strategy import Strategy
from compensation.unaided import Unaided
from compensation.wdrc import WDRC

STRATEGIES: dict[str, type[Strategy]] = {
    Unaided.name: Unaided,
    NALRStrategy.name: NALRStrategy,
    MultibandGain.name: MultibandGain,
    WDRC.name: WDRC,
}
"""Strategy classes by name."""


def get_strategy(name: str, **kwargs: Any) -> Strategy:
    """Construct the strategy registered as ``name`` with keyword arguments ``kwargs``.

    Raises:
        ValueError: for an unknown name (the message lists the supported ones) or unknown keyword arguments.
    """
    key = str(name).strip().lower()
    if key not in STRATEGIES:
        raise ValueError(f"unknown compensation strategy {name!r}; supported: {', '.join(sorted(STRATEGIES))}")
    try:
        return STRATEGIES[key](**kwargs)
    except TypeError as err:
        raise ValueError(f"bad arguments for strategy {key!r}: {err}") from err
