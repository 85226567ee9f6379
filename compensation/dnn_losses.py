"""The loss of DNN compensator training: fidelity at matched loudness, loudness under the comfort limit, selectivity.

For a batch of (clean sound s, listener k) pairs, with theta_k what the compensator is conditioned on (the listener's
audiogram as a clinic measures it, or its nu for the upper-bound variant; :mod:`compensation.dnn_conditioning`) and
L_k the listener's loudness model (:class:`compensation.listener_loudness.ListenerLoudness`, from its audiogram):

    aided    = DNN(s; theta_k)                                       the compensator's output, peak-limited
    matched  = limiter(match_nh_loudness(aided, s; L_k))             heard as loud as normal hearing hears s     (1)
    F        = D(matched) / max(D(unaided), f * Dbar_k)              fidelity term, one minus FR at matched loudness
    LN*      = min(LN_NH(s), LN_limit)                               normal loudness, never above the comfort limit
    P        = ((|LN_k(aided) - LN*| - tol)_+ / 10 phon)^2           loudness term (LN in phon)                  (2)
    S        = -log p_NH(token | response_k(matched DNN(token)))     selectivity term (optional)                 (3)
    loss     = mean F + w_L mean P + w_S mean S

Eq. (1) takes level out of the fidelity term (every output is compared at the loudness normal hearing has), so the
network can only win there by *how* it shapes sound, the comparison :mod:`compensation.comparison` reports; eq. (2)
sets its own output level: normal loudness, pulled under the listener's comfort limit ("loud", the same loudness for
every listener, :class:`compensation.comfort.ComfortRange`) whatever the clean sound's level. D is the neural-fidelity
distance (:mod:`compensation.objective`); the denominator is floored at f (``unaided_floor``) times the listener's mean
unaided distance Dbar over a fixed sample of training segments, so near-silent segments and near-normal listeners
cannot dominate. Eq. (3) is the cross-entropy of the NH reference's token decoder
(:class:`compensation.selectivity.SelectivityObjective`) on the listener's response to compensated speech tokens at
matched loudness, on a training token pool disjoint from the tokens selectivity is reported on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch

from compensation.comfort import ComfortRange
from compensation.dnn_conditioning import audiogram_theta, measured_audiograms
from compensation.listener_loudness import ListenerLoudness
from compensation.loudness_scaling import match_nh_loudness
from compensation.objective import NeuralFidelityObjective
from compensation.population import ListenerSpec
from compensation.zwicker import sone_to_phon
from simulator.data.speech import make_tokens
from simulator.errors import HearloopInputError

__all__ = ["CompensatorLoss", "LossTerms", "TokenPool", "listener_thetas", "loudness_target_phon"]

LOUDNESS_SCALE_PHON: float = 10.0


@dataclasses.dataclass
class LossTerms:
    """Per-pair terms of one batch (each ``batch``): distance at matched loudness ``d_matched``, its floored
    normaliser ``norm``, loudness term ``loudness`` (eq. 2), and the scalar selectivity term (eq. 3, or None)."""

    d_matched: torch.Tensor
    norm: torch.Tensor
    loudness: torch.Tensor
    selectivity: torch.Tensor | None = None

    def total(self, loudness_weight: float, selectivity_weight: float) -> torch.Tensor:
        loss = (self.d_matched / self.norm).mean() + loudness_weight * self.loudness.mean()
        if self.selectivity is not None and selectivity_weight > 0:
            loss = loss + selectivity_weight * self.selectivity
        return loss


def listener_thetas(listeners: Sequence[ListenerSpec], conditioning: str, freqs_hz: Sequence[float]) -> torch.Tensor:
    """``listeners x n_cond`` true conditioning: audiograms (dB HL at ``freqs_hz``) or nu."""
    if conditioning == "nu":
        return torch.as_tensor(np.stack([lis.nu for lis in listeners]), dtype=torch.float32)
    return torch.stack([audiogram_theta(lis.audiogram, freqs_hz) for lis in listeners])


def loudness_target_phon(nh_phon: torch.Tensor, comfort: ComfortRange) -> torch.Tensor:
    """LN* of eq. (2): the NH loudness level of the clean sound, capped at the comfort limit (phon)."""
    return nh_phon.clamp(max=comfort.phons()["upper"])


def loudness_term(phon: torch.Tensor, target_phon: torch.Tensor, tolerance_phon: float) -> torch.Tensor:
    """Eq. (2) per sound: ((|LN - LN*| - tol)_+ / 10 phon)^2."""
    return (((phon - target_phon).abs() - tolerance_phon).clamp(min=0.0) / LOUDNESS_SCALE_PHON).square()


class TokenPool:
    """Training tokens for eq. (3): ``per_class`` tokens of every class for each task of a selectivity objective,
    from ``seed`` (which must differ from the objective's train and test seeds)."""

    def __init__(self, selectivity, seed: int, per_class: int = 2) -> None:
        cfg = selectivity.config
        if seed in (cfg.train_seed, cfg.test_seed):
            raise HearloopInputError(f"the compensator's token seed {seed} must differ from the selectivity seeds")
        self.selectivity = selectivity
        self.tasks = selectivity.tasks
        self.sets = {}
        for task in self.tasks:
            kind, snr = task.split("/")[0], selectivity.test_sets[task].snr_db
            self.sets[task] = make_tokens(kind, seed, per_class, snr, cfg.masker, cfg.level_db_spl)

    def draw(self, step: int, n: int, rng: np.random.Generator) -> tuple[str, torch.Tensor, np.ndarray]:
        """(task of this step -- the tasks take turns --, ``n x samples`` tokens, their labels)."""
        task = self.tasks[step % len(self.tasks)]
        tokens = self.sets[task]
        pick = rng.integers(0, len(tokens), size=n)
        return task, torch.as_tensor(tokens.audio[pick]), tokens.labels[pick]


class CompensatorLoss:
    """Eqs. (1)-(3) for a training population.

    Args:
        objective: the neural-fidelity objective (frozen nu-ICNet, NH reference nu).
        listeners: the training population.
        conditioning: ``"audiogram"`` or ``"nu"``; freqs_hz: the audiogram frequencies of theta.
        comfort: the comfort range (default :class:`ComfortRange`).
        tolerance_phon: the free band of eq. (2).
        audiogram_sd_db: measurement error drawn into each training audiogram (0: the true audiogram).
        tokens: a :class:`TokenPool` for eq. (3), or None.
    """

    def __init__(self, objective: NeuralFidelityObjective, listeners: Sequence[ListenerSpec], conditioning: str,
                 freqs_hz: Sequence[float], *, comfort: ComfortRange | None = None, tolerance_phon: float = 2.0,
                 audiogram_sd_db: float = 0.0, tokens: TokenPool | None = None) -> None:  # fmt: skip
        self.objective = objective
        self.conditioning = conditioning
        self.nus = torch.as_tensor(np.stack([lis.nu for lis in listeners]), dtype=torch.float32)
        self.thetas = listener_thetas(listeners, conditioning, freqs_hz)
        self.loudness = ListenerLoudness.from_audiogram([lis.audiogram for lis in listeners])
        self.nh = ListenerLoudness.normal()
        self.comfort = comfort or ComfortRange()
        self.tolerance_phon = float(tolerance_phon)
        self.audiogram_sd_db = float(audiogram_sd_db)
        self.tokens = tokens

    def theta(self, who: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The compensator's theta for listeners ``who``: a fresh audiogram measurement when training (``generator``
        given and ``audiogram_sd_db`` > 0), else the true audiogram (or nu)."""
        theta = self.thetas[who]
        if self.conditioning == "audiogram" and generator is not None and self.audiogram_sd_db > 0:
            theta = measured_audiograms(theta, self.audiogram_sd_db, generator)
        return theta

    def matched(self, dnn, clean: torch.Tensor, aided: torch.Tensor, who: torch.Tensor) -> torch.Tensor:
        """Eq. (1): ``aided`` at the NH loudness of ``clean`` for listeners ``who``, peak-limited."""
        return dnn.limiter(match_nh_loudness(aided, clean, self.loudness.select(who), reference=self.nh))

    def fidelity_and_loudness(self, dnn, clean, target, who, norm, generator=None) -> LossTerms:
        """Eqs. (1)-(2) for pairs (``clean[i]``, listener ``who[i]``), ``target`` the cached NH responses."""
        theta = self.theta(who, generator)
        aided = dnn(clean, theta)
        d_matched = self.objective(clean, self.matched(dnn, clean, aided, who), self.nus[who], target=target)
        with torch.no_grad():
            wanted = loudness_target_phon(sone_to_phon(self.nh.sones(clean)), self.comfort)
        phon = sone_to_phon(self.loudness.select(who).sones(aided))
        return LossTerms(d_matched, norm, loudness_term(phon, wanted, self.tolerance_phon))

    def selectivity(
        self, dnn, who: torch.Tensor, step: int, n: int, rng: np.random.Generator, generator
    ) -> torch.Tensor:
        """Eq. (3): the NH decoder's cross-entropy on ``n`` training tokens for listeners drawn from ``who``."""
        task, tokens, labels = self.tokens.draw(step, n, rng)
        listeners = who[torch.as_tensor(rng.integers(0, len(who), size=n))]
        aided = dnn(tokens, self.theta(listeners, generator))
        matched = self.matched(dnn, tokens, aided, listeners)
        kind, decoder = self.tokens.selectivity.task_decoder(task)
        return decoder.cross_entropy(self.tokens.selectivity.features(matched, self.nus[listeners], kind), labels)
