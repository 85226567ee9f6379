"""Broadband gains that set a listener's loudness: matched-loudness scaling and the search behind the comfort limit.

A listener's loudness N(g x) of a sound x scaled by a broadband gain g (dB) is non-decreasing in g
(:class:`~compensation.listener_loudness.ListenerLoudness`). The gain that gives a target loudness T,

    g*(x, T) = sup { g in [-G, G] : N(10^(g/20) x) <= T },                                                      (1)

is found by bisection on the sound's third-octave levels (every band shifts by g dB, so the FFT is computed once).
Gradients follow the implicit-function theorem: with the slope s = dN/dg at g* (central difference, 0.05 dB),

    g = g* + (T - N(10^(g*/20) x)) / s,                                                                         (2)

which has the value g* (N = T there) and the gradients dg/dx = -(dN/dx) / s, dg/dT = 1 / s. Where the target lies
outside what [-G, G] can reach, or the loudness is flat (s = 0: an inaudible sound), g* is returned without gradient.

Functions, one job each (used everywhere a comparison scales sound):

* :func:`loudness_gain_db` -- eq. (1)/(2), the gain per sound;
* :func:`scale_to_loudness` -- the sound at that gain;
* :func:`match_nh_loudness` -- *matched loudness*: the aided sound scaled so that the listener's loudness equals the
  normal-hearing loudness of the clean sound (the NH reference hears the clean sound; the listener hears the aid).
"""

from __future__ import annotations

import torch

from compensation.listener_loudness import ListenerLoudness
from compensation.third_octave import third_octave_levels
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError

__all__ = ["MAX_GAIN_DB", "loudness_gain_db", "match_nh_loudness", "scale_to_loudness"]

MAX_GAIN_DB: float = 60.0
"""Largest broadband gain (either sign, dB) a loudness search may apply."""

_ROUNDS, _GRID = 5, 16  # grid bisection: each round splits the bracket into 15 steps; 120 dB / 15^5 = 1.6e-4 dB
_SLOPE_STEP_DB = 0.05


def _as_target(target_sone: torch.Tensor | float, batch: int, like: torch.Tensor) -> torch.Tensor:
    target = torch.as_tensor(target_sone, dtype=like.dtype, device=like.device).reshape(-1)
    if target.numel() not in (1, batch):
        raise HearloopInputError(f"target loudness must be a scalar or one per sound ({batch}); got {target.numel()}")
    if not bool(torch.isfinite(target.detach()).all()) or bool((target.detach() < 0).any()):
        raise HearloopInputError("target loudness must be finite and >= 0 sone")
    return target.expand(batch)


def _search(model: ListenerLoudness, levels: torch.Tensor, target: torch.Tensor, max_gain_db: float) -> torch.Tensor:
    """sup {g : N(levels + g) <= target} over [-G, G] by grid bisection: ``_GRID`` gains per sound per round, all in
    one batched loudness call, keep the last step whose loudness is at most the target (N is non-decreasing in g)."""
    lo = torch.full_like(target, -max_gain_db)
    hi = torch.full_like(target, max_gain_db)
    steps = torch.linspace(0.0, 1.0, _GRID, dtype=levels.dtype, device=levels.device)
    for _ in range(_ROUNDS):
        grid = lo.unsqueeze(-1) + (hi - lo).unsqueeze(-1) * steps  # B x K
        loud = model.sones_from_levels(levels.unsqueeze(1) + grid.unsqueeze(-1))  # B x K
        last = (loud <= target.unsqueeze(-1)).sum(-1) - 1  # monotone: the count of steps at or below the target
        below = last >= 0
        i = last.clamp(0, _GRID - 2)
        new_lo = grid.gather(-1, i.unsqueeze(-1)).squeeze(-1)
        new_hi = grid.gather(-1, (i + 1).unsqueeze(-1)).squeeze(-1)
        at_top = last == _GRID - 1
        lo = torch.where(below, torch.where(at_top, grid[:, -1], new_lo), lo)
        hi = torch.where(below, torch.where(at_top, grid[:, -1], new_hi), grid[:, 0])
    return lo


def loudness_gain_db(
    audio: torch.Tensor,
    model: ListenerLoudness,
    target_sone: torch.Tensor | float,
    *,
    max_gain_db: float = MAX_GAIN_DB,
    sample_rate: float = SAMPLE_RATE,
) -> torch.Tensor:
    """The broadband gain (dB) at which ``model`` hears each sound at ``target_sone`` (eqs. 1-2); differentiable.

    Args:
        audio: ``batch x samples`` pressure (Pa).
        model: the listener(s) (1 or ``batch``).
        target_sone: scalar or ``batch`` target loudness (sone, >= 0).
        max_gain_db: the search range [-max_gain_db, max_gain_db].
        sample_rate: Hz.

    Returns:
        ``batch`` gains in dB.
    """
    if not max_gain_db > 0:
        raise HearloopInputError(f"max_gain_db must be > 0, got {max_gain_db}")
    levels = third_octave_levels(audio, sample_rate)
    target = _as_target(target_sone, levels.shape[0], levels)
    with torch.no_grad():
        gain = _search(model, levels.detach(), target.detach(), float(max_gain_db))
        up = model.sones_from_levels(levels.detach() + (gain + _SLOPE_STEP_DB).unsqueeze(-1))
        down = model.sones_from_levels(levels.detach() - (_SLOPE_STEP_DB - gain).unsqueeze(-1))
        slope = (up - down) / (2.0 * _SLOPE_STEP_DB)
    if not (levels.requires_grad or target.requires_grad):
        return gain
    inside = (slope > 1e-9) & (gain.abs() < float(max_gain_db) - 1e-3)
    loudness = model.sones_from_levels(levels + gain.unsqueeze(-1))
    step = (target - loudness) / torch.where(inside, slope, torch.ones_like(slope))
    return torch.where(inside, gain + step, gain)


def scale_to_loudness(
    audio: torch.Tensor,
    model: ListenerLoudness,
    target_sone: torch.Tensor | float,
    *,
    max_gain_db: float = MAX_GAIN_DB,
    sample_rate: float = SAMPLE_RATE,
) -> torch.Tensor:
    """``audio`` (``batch x samples``, Pa) scaled by :func:`loudness_gain_db`: the listener hears it at the target."""
    gain = loudness_gain_db(audio, model, target_sone, max_gain_db=max_gain_db, sample_rate=sample_rate)
    return audio * torch.pow(10.0, gain / 20.0).unsqueeze(-1)


def match_nh_loudness(
    aided: torch.Tensor,
    clean: torch.Tensor,
    model: ListenerLoudness,
    *,
    reference: ListenerLoudness | None = None,
    max_gain_db: float = MAX_GAIN_DB,
    sample_rate: float = SAMPLE_RATE,
) -> torch.Tensor:
    """Matched loudness: ``aided`` scaled so that the listener hears it as loud as normal hearing hears ``clean``.

    Args:
        aided: ``batch x samples`` aided sound (Pa); differentiable.
        clean: ``batch x samples`` (or ``1 x samples``) clean sound (Pa).
        model: the listener(s) who hear the aided sound.
        reference: the normal-hearing loudness model (default :meth:`ListenerLoudness.normal`).
        max_gain_db: the gain search range.
        sample_rate: Hz.

    Returns:
        ``batch x samples`` scaled aided sound. Apply the strategy's output limiter afterwards if peaks matter.
    """
    reference = reference or ListenerLoudness.normal()
    with torch.no_grad():
        target = reference.sones(clean, sample_rate)
    if target.shape[0] not in (1, aided.shape[0]):
        raise HearloopInputError(f"clean batch {clean.shape[0]} must be 1 or the aided batch {aided.shape[0]}")
    return scale_to_loudness(aided, model, target, max_gain_db=max_gain_db, sample_rate=sample_rate)
