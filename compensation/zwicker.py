"""Zwicker stationary loudness (ISO 532-1:2017, method 1) in torch, batched and differentiable, with hearing loss.

From the 28 third-octave band levels (:mod:`compensation.third_octave`) to total loudness N in sone, following the
standard's program (Zwicker & Fastl's BASIC program, ISO 532-1 annex A) step by step:

1. Bands up to 250 Hz are corrected by the equal-loudness contours (table ``DLL`` over the level ranges ``RAP``,
   ISO 532-1 A.3) and summed into the first three critical-band levels; the 17 bands from 315 Hz on are the other
   critical-band levels, 20 in all: LE_i.
2. Transmission through the ear (``A0``; free field) and, above threshold, the critical-band correction ``DCB``.
3. Core (main) loudness of band i, with LTQ_i the excitation at threshold in quiet (ISO 532-1 eq. A.7):

       N'_i = 0.0635 * 10^(0.025 LTQ_i) * [(1 - s + s * 10^((LE_i - LTQ_i) / 10))^0.25 - 1],  s = 0.25,       (1)

   for LE_i > LTQ_i, else 0; band 1 is corrected for the threshold's slope within it (``korry``).
4. Upward spread of masking: the specific-loudness pattern over critical-band rate z (0-24 Bark) is the core
   loudness of each band, continued towards higher z by slopes whose steepness ``USL`` depends on the specific
   loudness (ranges ``RNS``) and the band; N = integral of N'(z) dz. The standard walks z in 0.1 Bark steps; here each
   band's descent is integrated in closed form, range by range (the same piecewise-linear pattern, without the grid).

Hearing loss. A cochlear loss of HL dB in a band is split into an outer-hair-cell part HL_OHC (loss of the cochlear
amplifier's gain: raised threshold with steeper loudness growth, i.e. recruitment) and an inner-hair-cell part
HL_IHC = HL - HL_OHC (a plain attenuation), as Moore & Glasberg [MG04] do. In eq. (1) OHC loss raises the threshold
excitation, LTQ_i -> LTQ_i + HL_OHC,i, and IHC loss attenuates the excitation, LE_i -> LE_i - HL_IHC,i. Well above
threshold eq. (1) tends to 0.0635 s^0.25 10^(LE_i / 40), whatever LTQ_i: loudness catches up with normal
("complete recruitment" for a purely OHC loss), while near the raised threshold it starts from zero, so it grows
faster than normal with level. Broadened tuning (a flatter upward slope) is not modelled.

.. [ISO532] ISO 532-1:2017, Acoustics -- Methods for calculating loudness -- Part 1: Zwicker method.
.. [ZF91] E. Zwicker, H. Fastl, U. Widmann, K. Kurakata, S. Kuwano, S. Namba, Program for calculating loudness
   according to DIN 45631 (ISO 532B), J. Acoust. Soc. Jpn. (E) 12(1), 1991.
.. [MG04] B. C. J. Moore, B. R. Glasberg, A revised model of loudness perception applied to cochlear hearing loss,
   Hearing Research 188, 2004.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "CRITICAL_BAND_FREQS_HZ",
    "N_CRITICAL_BANDS",
    "core_loudness",
    "phon_to_sone",
    "sone_to_phon",
    "total_loudness",
]

# ---------------------------------------------------------------------------------------------------- ISO 532-1 tables
_RAP = (45.0, 55.0, 65.0, 71.0, 80.0, 90.0, 100.0, 120.0)
_DLL = (
    (-32, -24, -16, -10, -5, 0, -7, -3, 0, -2, 0),
    (-29, -22, -15, -10, -4, 0, -7, -2, 0, -2, 0),
    (-27, -19, -14, -9, -4, 0, -6, -2, 0, -2, 0),
    (-25, -17, -12, -9, -3, 0, -5, -2, 0, -2, 0),
    (-23, -16, -11, -7, -3, 0, -4, -1, 0, -1, 0),
    (-20, -14, -10, -6, -3, 0, -4, -1, 0, -1, 0),
    (-18, -12, -9, -6, -2, 0, -3, -1, 0, -1, 0),
    (-15, -10, -8, -4, -2, 0, -3, -1, 0, -1, 0),
)
_LTQ = (30, 18, 12, 8, 7, 6, 5, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3)
_A0 = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -0.5, -1.6, -3.2, -5.4, -5.6, -4, -1.5, 2, 5, 12)
_DCB = (-0.25, -0.6, -0.8, -0.8, -0.5, 0, 0.5, 1.1, 1.5, 1.7, 1.8, 1.8, 1.7, 1.6, 1.4, 1.2, 0.8, 0.5, 0, -0.5)
_ZUP = (0.9, 1.8, 2.8, 3.5, 4.4, 5.4, 6.6, 7.9, 9.2, 10.6, 12.3, 13.8, 15.2, 16.7, 18.1, 19.3, 20.6, 21.8, 22.7,
        23.6, 24.0)  # fmt: skip
_RNS = (21.5, 18, 15.1, 11.5, 9, 6.1, 4.4, 3.1, 2.13, 1.36, 0.82, 0.42, 0.30, 0.22, 0.15, 0.10, 0.035, 0)
_USL = (
    (13, 8.2, 6.3, 5.5, 5.5, 5.5, 5.5, 5.5),
    (9, 7.5, 6, 5.1, 4.5, 4.5, 4.5, 4.5),
    (7.8, 6.7, 5.6, 4.9, 4.4, 3.9, 3.9, 3.9),
    (6.2, 5.4, 4.6, 4.0, 3.5, 3.2, 3.2, 3.2),
    (4.5, 3.8, 3.6, 3.2, 2.9, 2.7, 2.7, 2.7),
    (3.7, 3.0, 2.8, 2.35, 2.2, 2.2, 2.2, 2.2),
    (2.9, 2.3, 2.1, 1.9, 1.8, 1.7, 1.7, 1.7),
    (2.4, 1.7, 1.5, 1.35, 1.3, 1.3, 1.3, 1.3),
    (1.95, 1.45, 1.3, 1.15, 1.1, 1.1, 1.1, 1.1),
    (1.5, 1.2, 0.94, 0.86, 0.82, 0.82, 0.82, 0.82),
    (0.72, 0.67, 0.64, 0.63, 0.62, 0.62, 0.62, 0.62),
    (0.59, 0.53, 0.51, 0.50, 0.42, 0.42, 0.42, 0.42),
    (0.40, 0.33, 0.26, 0.24, 0.24, 0.22, 0.22, 0.22),
    (0.27, 0.21, 0.20, 0.18, 0.17, 0.17, 0.17, 0.17),
    (0.16, 0.15, 0.14, 0.12, 0.11, 0.11, 0.11, 0.11),
    (0.12, 0.11, 0.10, 0.08, 0.08, 0.08, 0.08, 0.08),
    (0.09, 0.08, 0.07, 0.06, 0.06, 0.06, 0.06, 0.05),
    (0.06, 0.05, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02),
)
_S = 0.25  # eq. (1)

N_CRITICAL_BANDS: int = 20
"""Number of approximate critical bands of the core loudness (the hearing loss is given per band)."""

CRITICAL_BAND_FREQS_HZ: tuple[float, ...] = (
    (25.0 * 80.0) ** 0.5, (100.0 * 160.0) ** 0.5, (200.0 * 250.0) ** 0.5,
    *(1000.0 * 10.0 ** (k / 10.0) for k in range(-5, 12)),
)  # fmt: skip
"""Representative frequency of each critical band (Hz): the geometric centre of the merged third-octave bands
25-80, 100-160 and 200-250 Hz, then the third-octave centres 315 Hz ... 12.5 kHz; where a band's hearing loss is read
from an audiogram."""


def _table(values, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float64), dtype=like.dtype, device=like.device)


def _low_band_levels(levels: torch.Tensor) -> torch.Tensor:
    """Levels of the first three critical bands from the 11 third octaves 25-250 Hz (ISO 532-1 A.3): ``... x 3``."""
    low = levels[..., :11]
    rap, dll = _table(_RAP, levels), _table(_DLL, levels)  # 8, 8 x 11
    exceeds = low.unsqueeze(-2) > (rap.unsqueeze(-1) - dll)  # ... x 8 x 11
    # range index: the number of leading ranges whose bound the level exceeds, at most 7 (the standard's while loop)
    j = torch.cumprod(exceeds.to(torch.int64), dim=-2).sum(-2).clamp(max=7)
    corrected = low + dll.T.expand(*j.shape, 8).gather(-1, j.unsqueeze(-1)).squeeze(-1)
    intensity = torch.pow(10.0, corrected / 10.0)
    groups = torch.stack([intensity[..., 0:6].sum(-1), intensity[..., 6:9].sum(-1), intensity[..., 9:11].sum(-1)], -1)
    return 10.0 * torch.log10(groups)


def core_loudness(
    levels: torch.Tensor, ohc_loss_db: torch.Tensor | None = None, ihc_loss_db: torch.Tensor | None = None
) -> torch.Tensor:
    """Core loudness N'_i of the 20 critical bands (eq. 1), sone/Bark, with optional hearing loss.

    Args:
        levels: ``... x 28`` third-octave band levels (dB SPL, free field), as from
            :func:`compensation.third_octave.third_octave_levels`.
        ohc_loss_db: ``... x 20`` (broadcast) outer-hair-cell loss per critical band (dB, >= 0), raising the
            threshold excitation; None for normal hearing.
        ihc_loss_db: ``... x 20`` (broadcast) inner-hair-cell loss per critical band (dB, >= 0), attenuating the
            excitation; None for none.

    Returns:
        ``... x 20`` core loudness (>= 0).
    """
    le = torch.cat([_low_band_levels(levels), levels[..., 11:]], dim=-1) - _table(_A0, levels)
    ltq = _table(_LTQ, levels)
    if ohc_loss_db is not None:
        ltq = ltq + ohc_loss_db.to(levels)
    if ihc_loss_db is not None:
        le = le - ihc_loss_db.to(levels)
    above = le > ltq
    le = torch.where(above, le - _table(_DCB, levels), le)
    excess = torch.where(above, le - ltq, torch.zeros_like(le))  # safe where below threshold (no NaN gradients)
    growth = torch.pow(1.0 - _S + _S * torch.pow(10.0, excess / 10.0), 0.25) - 1.0
    nm = torch.where(above, (0.0635 * torch.pow(10.0, 0.025 * ltq) * growth).clamp(min=0.0), torch.zeros_like(le))
    first = nm[..., 0]
    korry = 0.4 + 0.32 * torch.pow(first.clamp(min=1e-12), 0.2)
    first = torch.where((first > 0) & (korry < 1.0), first * korry, first)
    return torch.cat([first.unsqueeze(-1), nm[..., 1:]], dim=-1)


def _band_descent(
    n1: torch.Tensor, floor: torch.Tensor, width: float, usl: torch.Tensor, tops: torch.Tensor, bottoms: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate a band of ``width`` Bark entered at specific loudness ``n1`` with core loudness ``floor``.

    Where n1 > floor the pattern descends from n1 with slope usl[r] while its value lies in range r = (bottom_r,
    top_r], until it meets the floor or the band ends; the rest of the band is at the floor. Returns (area, value at
    the band's end), each of n1's shape.
    """
    lo = torch.maximum(floor, torch.zeros_like(floor)).unsqueeze(-1)
    hi = n1.unsqueeze(-1)
    top = torch.minimum(hi, tops)
    bottom = torch.maximum(lo, bottoms)
    drop = (top - bottom).clamp(min=0.0)  # how far the descent falls within each range, ... x 18
    length = drop / usl
    before = torch.cumsum(length, dim=-1) - length  # z spent above each range
    room = (width - before).clamp(min=0.0)
    used = torch.minimum(length, room)
    area = (used * (top - 0.5 * used * usl)).sum(-1)
    spent = used.sum(-1)
    end = torch.where(length.sum(-1) <= width, torch.maximum(floor, torch.zeros_like(floor)), n1 - (used * usl).sum(-1))
    descending = n1 > floor
    area = torch.where(descending, area + floor.clamp(min=0.0) * (width - spent), floor * width)
    end = torch.where(descending, end, floor)
    return area, end


def total_loudness(core: torch.Tensor) -> torch.Tensor:
    """Total loudness N (sone) from the core loudness (``... x 20``): the integral over 0-24 Bark of the specific
    loudness pattern with the upward slopes of masking (module docstring, step 4); differentiable."""
    nm = torch.cat([core, torch.zeros_like(core[..., :1])], dim=-1)  # the 21st segment, 23.6-24 Bark, has no core
    rns = _table(_RNS, core)
    tops = torch.cat([torch.full_like(rns[:1], float("inf")), rns[:-1]])
    usl_table = _table(_USL, core)  # 18 x 8
    total = torch.zeros_like(core[..., 0])
    n1 = torch.zeros_like(core[..., 0])
    z_low = 0.0
    for i, z_up in enumerate(_ZUP):
        usl = usl_table[:, min(max(i - 1, 0), 7)]
        area, n1 = _band_descent(n1, nm[..., i], z_up - z_low, usl, tops, rns)
        total = total + area
        z_low = z_up
    return total


def sone_to_phon(sone: torch.Tensor | np.ndarray | float) -> torch.Tensor:
    """Loudness level (phon) of a loudness (sone), ISO 532-1: 40 + 10 log2 N for N >= 1, else 40 (N + 0.0005)^0.35."""
    n = torch.as_tensor(sone, dtype=torch.float32) if not isinstance(sone, torch.Tensor) else sone
    high = 40.0 + 10.0 * torch.log2(n.clamp(min=1.0))
    low = 40.0 * torch.pow(n.clamp(min=0.0, max=1.0) + 0.0005, 0.35)
    return torch.where(n >= 1.0, high, low)


def phon_to_sone(phon: torch.Tensor | np.ndarray | float) -> torch.Tensor:
    """Inverse of :func:`sone_to_phon` (phon -> sone); levels below its range read 0 sone."""
    p = torch.as_tensor(phon, dtype=torch.float32) if not isinstance(phon, torch.Tensor) else phon
    high = torch.pow(2.0, (p.clamp(min=40.0) - 40.0) / 10.0)
    low = (torch.pow((p.clamp(min=0.0, max=40.0) / 40.0), 1.0 / 0.35) - 0.0005).clamp(min=0.0)
    return torch.where(p >= 40.0, high, low)
