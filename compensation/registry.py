"""Registry of hearing-aid strategies by name: ``get_strategy("unaided" | "nalr" | "multiband" | "wdrc" | "dnn" |
"dnn_nu_oracle")``.

``get_strategy("dnn")`` loads the bundled pretrained audiogram-conditioned DNN compensator
(``compensation/assets/dnn-small``), ``get_strategy("dnn_nu_oracle")`` the nu-conditioned one, an upper bound no clinic
could fit (``compensation/assets/dnn-nu-oracle-small``); pass ``pretrained=<name or checkpoint directory>`` for another
one, or ``pretrained=None`` (with an optional ``config``) for an untrained network.
"""

from __future__ import annotations

from typing import Any

from compensation.dnn import DNNCompensator, DNNNuOracle
from compensation.multiband_gain import MultibandGain
from compensation.nalr_strategy import NALRStrategy
from compensation.strategy import Strategy
from compensation.unaided import Unaided
from compensation.wdrc import WDRC
from simulator.errors import HearloopInputError

STRATEGIES: dict[str, type[Strategy]] = {
    Unaided.name: Unaided,
    NALRStrategy.name: NALRStrategy,
    MultibandGain.name: MultibandGain,
    WDRC.name: WDRC,
    DNNCompensator.name: DNNCompensator,
    DNNNuOracle.name: DNNNuOracle,
}
"""Strategy classes by name."""

_UNSET = object()
_BUNDLED: dict[str, str] = {DNNCompensator.name: "dnn-small", DNNNuOracle.name: "dnn-nu-oracle-small"}


def get_strategy(name: str, **kwargs: Any) -> Strategy:
    """Construct the strategy registered as ``name`` with keyword arguments ``kwargs``.

    Raises:
        ValueError: for an unknown name (the message lists the supported ones) or unknown keyword arguments.
        simulator.errors.CheckpointError: when the requested pretrained DNN compensator cannot be loaded.
    """
    key = str(name).strip().lower()
    if key not in STRATEGIES:
        raise HearloopInputError(f"unknown compensation strategy {name!r}; supported: {', '.join(sorted(STRATEGIES))}")
    if key in _BUNDLED:
        pretrained = kwargs.pop("pretrained", _UNSET)
        if pretrained is _UNSET and "config" not in kwargs:
            pretrained = _BUNDLED[key]
        if pretrained not in (_UNSET, None):
            from compensation.dnn_checkpoint import load_compensator

            try:
                dnn = load_compensator(pretrained, **kwargs)
            except TypeError as err:
                raise HearloopInputError(f"bad arguments for strategy {key!r}: {err}") from err
            if dnn.name != key:
                raise HearloopInputError(
                    f"compensator {str(pretrained)!r} is conditioned on {dnn.prescribed_from}: it is strategy "
                    f"{dnn.name!r}, not {key!r}"
                )
            return dnn
    try:
        return STRATEGIES[key](**kwargs)
    except TypeError as err:
        raise HearloopInputError(f"bad arguments for strategy {key!r}: {err}") from err
