"""A listener's strategies scored on neural selectivity: as prescribed, at matched loudness, against the volume knob.

The selectivity counterpart of :func:`compensation.comparison.compare_with_volume_control`, with the same
definitions, applied to the held-out speech tokens of a :class:`compensation.selectivity.SelectivityObjective`
(every task: vowels and consonants, in quiet and in noise). For one listener and each strategy's processing of the
tokens (the token in its masker is the aid's input, the "clean" sound of the comparison):

* **as prescribed**: the strategy's output through the listener's comfort-aware output limit (what it hears);
* **at matched loudness**: the output scaled so the listener hears it as loud as normal hearing hears the unprocessed
  token (:func:`compensation.loudness_scaling.match_nh_loudness`), then through the peak output limiter;
* **volume control**: the tokens at the listener's volume-control knob setting (found on the fidelity sounds by
  :func:`compensation.volume_control.volume_control`) through the comfort limit; at matched loudness, the unprocessed
  tokens scaled to the NH loudness;
* **NH reference**: the normal listener's own decoding of the unprocessed tokens (the ceiling of each task).

Scores per task: accuracy (fraction decoded right; chance 1/12) and soft accuracy (mean posterior of the true token).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from compensation.comfort import ListenerComfort
from compensation.comparison import VOLUME_CONTROL
from compensation.limiter import OutputLimiter
from compensation.listener_loudness import ListenerLoudness
from compensation.loudness_scaling import match_nh_loudness
from compensation.selectivity import SelectivityObjective
from simulator.errors import HearloopInputError

__all__ = ["NH_REFERENCE", "compare_selectivity", "nh_selectivity"]

NH_REFERENCE: str = "NH reference"
"""Name of the NH reference's own scores (the ceiling) among a selectivity table's strategies."""

Process = Callable[[torch.Tensor], torch.Tensor]
"""``process(tokens) -> aided``: a strategy at one listener's theta (its own peak limiter applied), ``N x samples``
Pa in and out."""


def nh_selectivity(selectivity: SelectivityObjective) -> dict[str, dict[str, float]]:
    """The NH reference decoding the unprocessed test tokens: ``{task: {"accuracy", "soft_accuracy"}}``."""
    return selectivity.score(None, selectivity.reference_nu)


@torch.no_grad()
def compare_selectivity(
    selectivity: SelectivityObjective,
    nu: torch.Tensor | np.ndarray,
    processes: Mapping[str, Process],
    listener: ListenerComfort,
    *,
    volume_gain_db: float | None = None,
    peak_limiter: OutputLimiter | None = None,
    as_heard: bool = True,
) -> dict[str, dict[str, dict[str, float]]]:
    """Selectivity of one listener's strategies on every task.

    Args:
        selectivity: the NH decoders and held-out tokens.
        nu: the listener's conditioning (``D``).
        processes: ``{strategy name: process}`` (:data:`Process`).
        listener: the listener's loudness model and comfort range (its true audiogram: its own perception).
        volume_gain_db: the listener's volume-control setting (dB), or None to leave the baseline out.
        peak_limiter: applied after loudness matching (default :class:`OutputLimiter`).
        as_heard: also score the tokens as prescribed (False: at matched loudness only, half the model calls).

    Returns:
        ``{strategy: {task: {"accuracy_matched", "soft_accuracy_matched"} and, with ``as_heard``, {"accuracy",
        "soft_accuracy"}}}``, the volume control under :data:`compensation.comparison.VOLUME_CONTROL`.
    """
    if VOLUME_CONTROL in processes:
        raise HearloopInputError(f"{VOLUME_CONTROL!r} is the baseline's name; rename that strategy")
    peak_limiter = peak_limiter or OutputLimiter()
    nh = ListenerLoudness.normal()
    runs: dict[str, Process] = dict(processes)
    if volume_gain_db is not None:
        gain = float(10.0 ** (float(volume_gain_db) / 20.0))
        runs[VOLUME_CONTROL] = lambda tokens: tokens * gain
    out: dict[str, dict[str, dict[str, float]]] = {name: {} for name in runs}
    for task, tokens in selectivity.test_sets.items():
        clean = torch.as_tensor(tokens.audio)
        for name, process in runs.items():
            aided = process(clean)
            source = clean if name == VOLUME_CONTROL else aided  # the knob's matched sound: the token at NH loudness
            matched = peak_limiter(match_nh_loudness(source, clean, listener.loudness, reference=nh))
            scores = selectivity.decode(task, listener.limit(aided), nu) if as_heard else {}
            scores.update({f"{k}_matched": v for k, v in selectivity.decode(task, matched, nu).items()})
            out[name][task] = scores
    return out
