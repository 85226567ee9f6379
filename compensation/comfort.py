"""Comfortable loudness: categorical anchors, each listener's comfort range and uncomfortable level, the comfort limit.

Anchors. Categorical loudness scaling (ISO 16832:2006) names loudness categories on a 0-50 scale of categorical units
(CU): "very soft" 5, "soft" 15, "medium" 25, "loud" 35, "very loud" 45, "too loud" 50. For normal hearing, loudness in
sone grows with the cube of the categorical loudness [HHAV13], N(CU) = N_medium (CU / 25)^3. This module pins "medium"
at :data:`MEDIUM_PHON` = 80 phon (16 sone): the loudness, for normal hearing in the ISO 532-1 model, of speech-shaped
noise at 65 dB SPL (81 phon), i.e. of conversational speech, the everyday "medium" sound. (Pinning it with narrowband
data instead -- a 1 kHz band at 65 dB reads 65 phon -- would make conversational speech "loud": stationary loudness
models sum loudness across bands more strongly than categorical ratings of broadband sound do, and hearing-aid sound is
broadband.) That gives

    soft 15 CU = 3.5 sone (58 phon), medium 25 CU = 16 sone (80 phon), loud 35 CU = 43.9 sone (94.6 phon),
    very loud 45 CU = 93.3 sone (105.4 phon), too loud 50 CU = 128 sone (110 phon);

for a corpus speech sound, normal hearing puts "soft" at 46.5 dB SPL, "loud" at 83.6 dB SPL and "too loud" at
101.3 dB SPL (``benchmarks/bench_loudness.py``).

These are loudness *sensations*, the same for every listener; what differs between listeners is the sound level that
evokes them. A listener's loudness model (:class:`~compensation.listener_loudness.ListenerLoudness`, with recruitment)
turns the anchors into a comfortable range of levels for any sound (:func:`comfortable_levels`): for an impaired ear
its lower end rises with the threshold while its upper end stays near normal, so the range narrows.

Definitions used throughout hearloop:

* comfort range: "soft" to "loud" (15-35 CU), :class:`ComfortRange`;
* comfort limit: the range's upper end ("loud"); aided sound above it is uncomfortable, :func:`limit_to_comfort`
  scales it down to the limit (a comfort-aware output limit, like an MPO set from the listener's loudness);
* uncomfortable loudness level (UCL): "too loud" (50 CU); :meth:`ComfortRange.discomfort` grows linearly in phon from
  0 at the comfort limit to 1 at the UCL.

.. [ISO16832] ISO 16832:2006, Acoustics -- Loudness scaling by means of categories.
.. [HHAV13] W. Heeren, V. Hohmann, J. E. Appell, J. L. Verhey, Relation between loudness in categorical units and
   loudness in phons and sones, J. Acoust. Soc. Am. 133(4), EL314-EL319, 2013.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from compensation.listener_loudness import ListenerLoudness
from compensation.loudness_scaling import MAX_GAIN_DB, loudness_gain_db
from compensation.zwicker import phon_to_sone, sone_to_phon
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError

__all__ = [
    "CATEGORY_UNITS",
    "MEDIUM_PHON",
    "ComfortRange",
    "ComfortRangeError",
    "ListenerComfort",
    "category_sone",
    "comfortable_levels",
    "limit_to_comfort",
]

CATEGORY_UNITS: dict[str, float] = {
    "very soft": 5.0, "soft": 15.0, "medium": 25.0, "loud": 35.0, "very loud": 45.0, "too loud": 50.0,
}  # fmt: skip
"""ISO 16832 loudness categories and their categorical units (CU)."""

MEDIUM_PHON: float = 80.0
"""Loudness level (phon) of the "medium" category (25 CU) that pins the cubic CU-sone relation."""


class ComfortRangeError(HearloopInputError):
    """A comfort range is empty, inverted, or not finite (lower < upper <= UCL is required)."""


def category_sone(category: str | float) -> float:
    """Loudness (sone) of a category name of :data:`CATEGORY_UNITS` or a CU value in (0, 50]: N_medium (CU / 25)^3."""
    cu = CATEGORY_UNITS.get(category) if isinstance(category, str) else float(category)
    if cu is None or not (0.0 < cu <= 50.0):
        raise ComfortRangeError(f"unknown loudness category {category!r}; use {list(CATEGORY_UNITS)} or CU in (0, 50]")
    return float(phon_to_sone(MEDIUM_PHON)) * (cu / 25.0) ** 3


@dataclasses.dataclass(frozen=True)
class ComfortRange:
    """A comfortable loudness range and the uncomfortable loudness, in sone (module docstring).

    Attributes:
        lower_sone: lower end of the comfort range (default "soft").
        upper_sone: upper end, the comfort limit (default "loud").
        ucl_sone: uncomfortable loudness level (default "too loud"), at or above the comfort limit.

    Raises:
        ComfortRangeError: unless 0 <= lower < upper <= ucl, all finite (an empty or inverted range).
    """

    lower_sone: float = dataclasses.field(default_factory=lambda: category_sone("soft"))
    upper_sone: float = dataclasses.field(default_factory=lambda: category_sone("loud"))
    ucl_sone: float = dataclasses.field(default_factory=lambda: category_sone("too loud"))

    def __post_init__(self) -> None:
        lo, hi, ucl = (float(v) for v in (self.lower_sone, self.upper_sone, self.ucl_sone))
        if not all(math.isfinite(v) for v in (lo, hi, ucl)) or lo < 0:
            raise ComfortRangeError(f"comfort range must be finite and >= 0 sone; got {lo}, {hi}, {ucl}")
        if not lo < hi:
            kind = "empty" if lo == hi else "inverted"
            raise ComfortRangeError(f"comfort range is {kind}: lower {lo:.4g} sone must lie below upper {hi:.4g} sone")
        if not hi <= ucl:
            raise ComfortRangeError(f"the comfort limit {hi:.4g} sone lies above the UCL {ucl:.4g} sone")

    @classmethod
    def from_categories(
        cls, lower: str | float = "soft", upper: str | float = "loud", ucl: str | float = "too loud"
    ) -> ComfortRange:
        """A range between two loudness categories (names or CU), with the UCL at a third."""
        return cls(category_sone(lower), category_sone(upper), category_sone(ucl))

    @classmethod
    def from_phons(cls, lower: float, upper: float, ucl: float) -> ComfortRange:
        """A range given as loudness levels (phon)."""
        lo, hi, top = (float(phon_to_sone(float(v))) for v in (lower, upper, ucl))
        if not float(lower) < float(upper):  # phon_to_sone floors at 0: keep the error about what was asked
            raise ComfortRangeError(f"comfort range is empty or inverted: {lower} phon to {upper} phon")
        return cls(lo, hi, top)

    @property
    def limit_sone(self) -> float:
        """The comfort limit (sone): the upper end of the range."""
        return float(self.upper_sone)

    def phons(self) -> dict[str, float]:
        """``{"lower", "upper", "ucl"}`` in phon."""
        values = sone_to_phon(torch.tensor([self.lower_sone, self.upper_sone, self.ucl_sone], dtype=torch.float64))
        return dict(zip(("lower", "upper", "ucl"), (float(v) for v in values), strict=True))

    def discomfort(self, sones: torch.Tensor) -> torch.Tensor:
        """Discomfort of loudness ``sones`` (any shape): (LN - LN_limit)_+ / (LN_UCL - LN_limit), LN in phon.

        0 within the comfort range, 1 at the UCL, linear in loudness level above the limit; differentiable.
        """
        p = self.phons()
        span = max(p["ucl"] - p["upper"], 1e-6)
        return (sone_to_phon(sones) - p["upper"]).clamp(min=0.0) / span

    def to_dict(self) -> dict[str, float]:
        """JSON-ready range (sone and phon)."""
        p = self.phons()
        return {"lower_sone": self.lower_sone, "upper_sone": self.upper_sone, "ucl_sone": self.ucl_sone,
                "lower_phon": p["lower"], "upper_phon": p["upper"], "ucl_phon": p["ucl"]}  # fmt: skip


def limit_to_comfort(
    aided: torch.Tensor,
    model: ListenerLoudness,
    comfort: ComfortRange | None = None,
    *,
    sample_rate: float = SAMPLE_RATE,
) -> torch.Tensor:
    """The comfort-aware output limit: each sound the listener hears above the comfort limit is scaled down to it.

    A broadband gain min(0, g*(x, limit)) (:func:`compensation.loudness_scaling.loudness_gain_db`) per sound; sounds
    within the comfort range pass unchanged. Differentiable.

    Args:
        aided: ``batch x samples`` (Pa).
        model: the listener(s) (1 or ``batch``).
        comfort: the comfort range (default :class:`ComfortRange`).
        sample_rate: Hz.
    """
    comfort = comfort or ComfortRange()
    gain = loudness_gain_db(aided, model, comfort.limit_sone, max_gain_db=MAX_GAIN_DB, sample_rate=sample_rate)
    return aided * torch.pow(10.0, gain.clamp(max=0.0) / 20.0).unsqueeze(-1)


def comfortable_levels(
    audio: torch.Tensor,
    model: ListenerLoudness,
    comfort: ComfortRange | None = None,
    *,
    sample_rate: float = SAMPLE_RATE,
) -> dict[str, torch.Tensor]:
    """A listener's comfortable range for each sound as presentation levels (dB SPL RMS of the scaled sound).

    Args:
        audio: ``batch x samples`` (Pa): the spectrum and time course whose level is varied.
        model: the listener(s) (1 or ``batch``).
        comfort: the anchors (default :class:`ComfortRange`).

    Returns:
        ``{"lower_db", "upper_db", "ucl_db", "width_db"}``, each ``batch`` (``width_db`` = upper - lower, the
        comfortable range's width); a level the search cannot reach reads at its edge (the sound's own level +- 60 dB).
    """
    comfort = comfort or ComfortRange()
    with torch.no_grad():
        rms_db = 10.0 * torch.log10(audio.double().square().mean(-1).clamp(min=1e-30) / (20e-6) ** 2).float()
        out = {}
        for key, target in (("lower_db", comfort.lower_sone), ("upper_db", comfort.upper_sone),
                            ("ucl_db", comfort.ucl_sone)):  # fmt: skip
            out[key] = rms_db + loudness_gain_db(audio, model, target, sample_rate=sample_rate)
    out["width_db"] = out["upper_db"] - out["lower_db"]
    return out


@dataclasses.dataclass
class ListenerComfort:
    """One listener's loudness model and comfort range together: what this listener finds too loud.

    Attributes:
        loudness: the listener's :class:`~compensation.listener_loudness.ListenerLoudness` (one listener).
        comfort: the comfort range (default :class:`ComfortRange`).
    """

    loudness: ListenerLoudness
    comfort: ComfortRange = dataclasses.field(default_factory=ComfortRange)

    def __post_init__(self) -> None:
        if self.loudness.n_listeners != 1:
            raise HearloopInputError(f"ListenerComfort is for one listener; got {self.loudness.n_listeners}")

    @classmethod
    def from_audiogram(cls, audiogram, comfort: ComfortRange | None = None) -> ListenerComfort:
        """From an audiogram ``{freq_hz: dB HL}`` (the listener's true one, for its own perception)."""
        return cls(ListenerLoudness.from_audiogram(audiogram), comfort or ComfortRange())

    @property
    def limit_phon(self) -> float:
        """The comfort limit as a loudness level (phon)."""
        return self.comfort.phons()["upper"]

    def phons(self, audio: torch.Tensor) -> torch.Tensor:
        """The listener's loudness level of each sound (``batch x samples`` Pa) -> ``batch`` phon; differentiable."""
        return sone_to_phon(self.loudness.sones(audio))

    def excess_phon(self, audio: torch.Tensor) -> torch.Tensor:
        """How far each sound is above the comfort limit (phon, 0 within the range) -> ``batch``; differentiable."""
        return (self.phons(audio) - self.limit_phon).clamp(min=0.0)

    def discomfort(self, audio: torch.Tensor) -> torch.Tensor:
        """:meth:`ComfortRange.discomfort` of each sound (0 within the range, 1 at the UCL) -> ``batch``."""
        return self.comfort.discomfort(self.loudness.sones(audio))

    def limit(self, audio: torch.Tensor) -> torch.Tensor:
        """:func:`limit_to_comfort` for this listener."""
        return limit_to_comfort(audio, self.loudness, self.comfort)
