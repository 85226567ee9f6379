"""What a virtual listener hears from the aid, and how comfortable it is: the environment's loudness side.

Each sound row (one sound of one episode) is heard by its listener's loudness model,
:class:`compensation.listener_loudness.ListenerLoudness` (ISO 532-1 with the listener's hearing loss, from its true
audiogram), against the comfort anchors of :class:`compensation.comfort.ComfortRange`:

* ``presentation="aided"``: the listener hears the aid's output as it is;
* ``presentation="matched"``: the aid's output scaled so that the listener hears it as loud as normal hearing hears
  the clean sound (:func:`compensation.loudness_scaling.match_nh_loudness`), then through the strategies' peak output
  limiter (:class:`compensation.limiter.OutputLimiter`), as every matched-loudness comparison in hearloop does: the
  neural score then measures what the fit adds beyond loudness.

The comfort term is the discomfort of what the listener hears (0 within its comfort range, 1 at its uncomfortable
level), clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from compensation.comfort import ComfortRange
from compensation.limiter import OutputLimiter
from compensation.listener_loudness import ListenerLoudness
from compensation.loudness_scaling import match_nh_loudness
from compensation.zwicker import sone_to_phon

__all__ = ["Heard", "hear"]


@dataclass
class Heard:
    """What each row's listener hears.

    Attributes:
        audio: ``rows x samples`` Pa, the sound scored by the neural objective.
        loudness_phon: ``rows`` the listener's loudness level of it.
        discomfort: ``rows`` in [0, 1].
    """

    audio: torch.Tensor
    loudness_phon: torch.Tensor
    discomfort: torch.Tensor


_NORMAL = ListenerLoudness.normal()


@torch.no_grad()
def hear(
    aided: torch.Tensor,
    clean: torch.Tensor,
    ohc_loss_db: torch.Tensor,
    ihc_loss_db: torch.Tensor,
    presentation: str,
    comfort: ComfortRange,
    limiter: OutputLimiter,
) -> Heard:
    """What ``rows`` listeners hear of the aided sounds (module docstring).

    Args:
        aided, clean: ``rows x samples`` Pa.
        ohc_loss_db, ihc_loss_db: ``rows x 20`` each row's listener's loss per critical band (dB).
        presentation: ``"aided"`` or ``"matched"``.
        comfort: the comfort anchors.
        limiter: the peak output limiter applied after loudness matching.
    """
    loudness = ListenerLoudness(ohc_loss_db, ihc_loss_db)
    if presentation == "matched":
        audio = limiter(match_nh_loudness(aided, clean, loudness, reference=_NORMAL))
    else:
        audio = aided
    sones = loudness.sones(audio)
    return Heard(audio, sone_to_phon(sones), comfort.discomfort(sones).clamp(0.0, 1.0))
