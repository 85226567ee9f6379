"""Loudness of sound for a given listener: ISO 532-1 (Zwicker) with the listener's hearing loss per critical band.

:class:`ListenerLoudness` is the loudness measure every comparison in hearloop uses: the loudness (sone) or loudness
level (phon) that a listener with a given audiogram hears from a sound, computed by the torch ISO 532-1 model of
:mod:`compensation.zwicker` (checked against ``mosqito`` for normal hearing: ``benchmarks/bench_loudness.py``).

The audiogram's loss HL(f) (dB HL, interpolated on log frequency, held flat outside the measured range) is read at each
critical band's frequency (:data:`compensation.zwicker.CRITICAL_BAND_FREQS_HZ`) and split as Moore & Glasberg (2004)
do into a loss of cochlear gain (outer hair cells) and an attenuation (inner hair cells):

    HL_OHC = min(ohc_share * HL, ohc_max_db),   HL_IHC = HL - HL_OHC,

with :data:`OHC_SHARE` = 0.9 and :data:`OHC_MAX_DB` = 55 dB by default (the cochlear amplifier's gain is of the order
of 50-60 dB, so losses beyond it are attenuation). Behavioural estimates put the OHC share of mild-to-moderate losses
at 60-70 % on average with a wide spread (Lopez-Poveda & Johannesen 2012), so both are parameters. Losses below 0 dB HL
(a listener slightly more sensitive than the NH reference) count as 0: the model's normal threshold is the floor.

Whose audiogram: for the virtual listener's own perception, its true neurometric thresholds
(``listener.audiogram()``); where a clinic would act (a prescription, a clinician's output limit), the measured one.

.. [MG04] B. C. J. Moore, B. R. Glasberg, A revised model of loudness perception applied to cochlear hearing loss,
   Hearing Research 188, 2004.
.. [LPJ12] E. A. Lopez-Poveda, P. T. Johannesen, Behavioral estimates of the contribution of inner and outer hair cell
   dysfunction to individualized audiometric loss, J. Assoc. Res. Otolaryngol. 13, 2012.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from compensation.nalr import interpolate_audiogram
from compensation.third_octave import third_octave_levels
from compensation.zwicker import CRITICAL_BAND_FREQS_HZ, N_CRITICAL_BANDS, core_loudness, sone_to_phon, total_loudness
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError

__all__ = ["OHC_MAX_DB", "OHC_SHARE", "ListenerLoudness", "band_hearing_loss", "split_hearing_loss"]

OHC_SHARE: float = 0.9
"""Default share of a band's hearing loss attributed to outer-hair-cell loss (Moore & Glasberg 2004)."""

OHC_MAX_DB: float = 55.0
"""Default largest outer-hair-cell loss (dB): the order of the cochlear amplifier's gain; the rest is attenuation."""

Audiogram = Mapping[int | float, float]


def band_hearing_loss(audiogram: Audiogram) -> np.ndarray:
    """Hearing loss (dB, >= 0) at each of the 20 critical bands from ``audiogram`` ``{freq_hz: dB HL}`` -> ``20``."""
    loss = interpolate_audiogram(audiogram, CRITICAL_BAND_FREQS_HZ, require_3fa=False)
    return np.clip(np.asarray(loss, dtype=np.float64), 0.0, None)


def split_hearing_loss(
    loss_db: np.ndarray | Sequence[float], ohc_share: float = OHC_SHARE, ohc_max_db: float = OHC_MAX_DB
) -> tuple[np.ndarray, np.ndarray]:
    """(HL_OHC, HL_IHC) of a loss ``loss_db`` (dB, any shape): HL_OHC = min(share * HL, max), HL_IHC = HL - HL_OHC."""
    if not (0.0 <= float(ohc_share) <= 1.0) or not (np.isfinite(ohc_max_db) and ohc_max_db >= 0):
        raise HearloopInputError(f"need 0 <= ohc_share <= 1 and ohc_max_db >= 0; got {ohc_share}, {ohc_max_db}")
    loss = np.clip(np.asarray(loss_db, dtype=np.float64), 0.0, None)
    if not np.all(np.isfinite(loss)):
        raise HearloopInputError("hearing loss must be finite")
    ohc = np.minimum(float(ohc_share) * loss, float(ohc_max_db))
    return ohc, loss - ohc


class ListenerLoudness:
    """The loudness that one or several listeners hear (ISO 532-1 with hearing loss; module docstring).

    Args:
        ohc_loss_db: ``20`` or ``L x 20`` outer-hair-cell loss per critical band (dB); None for normal hearing.
        ihc_loss_db: same shape, inner-hair-cell loss (dB); None for none.

    A model of ``L`` listeners scores a batch of ``L`` sounds pairwise (sound i for listener i); a single listener
    (``20`` or ``1 x 20``) scores any batch.

    Example:
        >>> nh = ListenerLoudness.normal()
        >>> impaired = ListenerLoudness.from_audiogram(listener.audiogram())
        >>> nh.sones(clean), impaired.sones(aided)          # batch x samples Pa -> batch sone
    """

    def __init__(self, ohc_loss_db: np.ndarray | torch.Tensor | None = None, ihc_loss_db=None) -> None:
        self.ohc_loss_db = self._check(ohc_loss_db, "ohc_loss_db")
        self.ihc_loss_db = self._check(ihc_loss_db, "ihc_loss_db")

    @staticmethod
    def _check(loss, name: str) -> torch.Tensor:
        if loss is None:
            return torch.zeros(1, N_CRITICAL_BANDS, dtype=torch.float32)
        arr = np.asarray(loss.detach().cpu() if isinstance(loss, torch.Tensor) else loss, dtype=np.float32)
        if arr.size == 0 or arr.shape[-1] != N_CRITICAL_BANDS or arr.ndim > 2:
            raise HearloopInputError(f"{name} must have shape ({N_CRITICAL_BANDS},) or (listeners, {N_CRITICAL_BANDS})")
        t = torch.as_tensor(arr).reshape(-1, N_CRITICAL_BANDS)
        if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
            raise HearloopInputError(f"{name} must be finite and >= 0 dB, {N_CRITICAL_BANDS} values per listener")
        return t

    @classmethod
    def normal(cls) -> ListenerLoudness:
        """Normal hearing: the ISO 532-1 reference (no loss)."""
        return cls()

    @classmethod
    def from_audiogram(
        cls, audiogram: Audiogram | Sequence[Audiogram], ohc_share: float = OHC_SHARE, ohc_max_db: float = OHC_MAX_DB
    ) -> ListenerLoudness:
        """A model from one audiogram ``{freq_hz: dB HL}`` or a list of them (one listener each)."""
        grams = [audiogram] if isinstance(audiogram, Mapping) else list(audiogram)
        if not grams:
            raise HearloopInputError("from_audiogram needs at least one audiogram")
        ohc, ihc = split_hearing_loss(np.stack([band_hearing_loss(g) for g in grams]), ohc_share, ohc_max_db)
        return cls(ohc, ihc)

    @property
    def n_listeners(self) -> int:
        """L, the number of listeners the model holds."""
        return int(max(self.ohc_loss_db.shape[0], self.ihc_loss_db.shape[0]))

    def select(self, index: int | Sequence[int] | torch.Tensor) -> ListenerLoudness:
        """The listeners at ``index`` (a row per entry; repeat indices to pair listeners with sounds)."""
        idx = torch.as_tensor(index, dtype=torch.long).reshape(-1)
        ohc = self.ohc_loss_db.expand(self.n_listeners, -1)[idx]
        return ListenerLoudness(ohc, self.ihc_loss_db.expand(self.n_listeners, -1)[idx])

    def _losses(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n_listeners not in (1, batch):
            raise HearloopInputError(
                f"a loudness model of {self.n_listeners} listeners scores 1 or {self.n_listeners} sounds; got {batch}"
            )
        return self.ohc_loss_db.to(like), self.ihc_loss_db.to(like)

    def sones_from_levels(self, levels: torch.Tensor) -> torch.Tensor:
        """Loudness (sone) from third-octave levels ``batch x 28`` or ``batch x K x 28`` (dB SPL; K variants of each
        sound for the same listener) -> ``batch`` or ``batch x K``; differentiable."""
        ohc, ihc = self._losses(levels.shape[0], levels)
        if levels.dim() == 3:
            ohc, ihc = ohc.unsqueeze(1), ihc.unsqueeze(1)
        return total_loudness(core_loudness(levels, ohc, ihc))

    def sones(self, audio: torch.Tensor, sample_rate: float = SAMPLE_RATE) -> torch.Tensor:
        """Loudness (sone) of each sound ``batch x samples`` (Pa) for this listener -> ``batch``; differentiable.

        Raises:
            compensation.third_octave.LoudnessSampleRateError: for a sample rate below 22.4 kHz.
        """
        return self.sones_from_levels(third_octave_levels(audio, sample_rate))

    def phons(self, audio: torch.Tensor, sample_rate: float = SAMPLE_RATE) -> torch.Tensor:
        """Loudness level (phon) of each sound for this listener -> ``batch`` (ISO 532-1 sone-to-phon)."""
        return sone_to_phon(self.sones(audio, sample_rate))

    def to_dict(self) -> dict[str, list[list[float]]]:
        """JSON-ready losses per listener (dB), for run records."""
        return {"ohc_loss_db": self.ohc_loss_db.tolist(), "ihc_loss_db": self.ihc_loss_db.tolist()}

    def __repr__(self) -> str:
        total = (self.ohc_loss_db + self.ihc_loss_db).mean(-1)
        return f"ListenerLoudness(n_listeners={self.n_listeners}, mean_loss_db={[round(float(v), 1) for v in total]})"
