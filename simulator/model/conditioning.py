"""Variational conditioning of nu-ICNet: per-animal learned means, the time transfer function and sampling of nu.

[Pellatt2025]_ (Fig. 2, eq. 1). For animal k with learned means mu_k in [-10, 10]^D and recording time t = hours / 10:

    mu_k(t) = mu_k + a_k * (sigmoid(b_k * (t - c_k) - 6) - sigmoid(-6))   for t >= c_k      (eq. 1)
    mu_k(t) = mu_k                                                         for t <  c_k
    nu_bar_k(t) = sigmoid(mu_k(t)),    nu ~ N(nu_bar_k(t), diag(s_k^2))   (reparameterised)

with a in [0, 20], b in [0, 50], c in [0.05, 0.5] (30 min to 5 h). The bounds are enforced by parametrisation, so no
optimiser step can leave them: mu = 10 tanh(raw), a = 20 sigmoid(raw), b = 50 sigmoid(raw),
c = 0.05 + 0.45 sigmoid(raw), s = softplus(raw) + 1e-4. The shift is zero before the onset c, continuous at it
(the -sigmoid(-6) intercept), and non-decreasing in t because a, b >= 0.

A sampled nu can leave [0, 1]; the model clamps it to [0, 1] before decoding (the decoder is only defined on the unit
cube, where listeners live). ABRNet (:class:`ABRConditioning`) replaces the learned distribution by the animal's ABR
thresholds mapped linearly onto [0, 1], with no noise and no time transfer.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from simulator.errors import HearloopInputError

__all__ = [
    "A_MAX",
    "B_MAX",
    "C_RANGE",
    "MU_MAX",
    "ABRConditioning",
    "VariationalConditioning",
    "abr_to_nu",
    "time_transfer",
]

MU_MAX: float = 10.0
A_MAX: float = 20.0
B_MAX: float = 50.0
C_RANGE: tuple[float, float] = (0.05, 0.5)
S_MIN: float = 1e-4
_INTERCEPT = 1.0 / (1.0 + math.exp(6.0))  # sigmoid(-6)


def time_transfer(mu: torch.Tensor, t: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Time-shifted means mu(t) of eq. (1) of [Pellatt2025]_.

    Args:
        mu: ``batch x D`` means.
        t: ``batch`` recording time in units of 10 hours.
        a, b, c: ``batch x D`` amplitude, slope and onset.

    Returns:
        ``batch x D`` mu(t).
    """
    dt = t.unsqueeze(-1) - c
    shift = a * (torch.sigmoid(b * dt - 6.0) - _INTERCEPT)
    return mu + torch.where(dt >= 0, shift, torch.zeros_like(shift))


def _hours_tensor(hours: float | torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
    if hours is None:
        return torch.zeros(batch, device=device)
    h = torch.as_tensor(hours, dtype=torch.float32, device=device)
    if h.dim() == 0:
        h = h.expand(batch)
    if h.shape != (batch,):
        raise HearloopInputError(f"hours must be a scalar or have shape ({batch},); got {tuple(h.shape)}")
    if not bool(torch.isfinite(h).all()) or float(h.min()) < 0:
        raise HearloopInputError("hours must be finite and >= 0")
    return h


def _animal_index(animal_idx: int | torch.Tensor, n_animals: int, device: torch.device) -> torch.Tensor:
    idx = torch.as_tensor(animal_idx, dtype=torch.long, device=device)
    if idx.dim() == 0:
        idx = idx.unsqueeze(0)
    if idx.dim() != 1:
        raise HearloopInputError(f"animal_idx must be an int or a 1-D tensor, got shape {tuple(idx.shape)}")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n_animals):
        raise HearloopInputError(f"animal_idx must lie in 0..{n_animals - 1}; got {idx.tolist()}")
    return idx


def _inv_sigmoid(p: float) -> float:
    return math.log(p / (1.0 - p))


class VariationalConditioning(nn.Module):
    """Per-animal Gaussian conditioning distributions with the time transfer function.

    Args:
        n_animals: K.
        n_params: D.
        init_mean_sd: SD of the initial means mu (around 0, i.e. nu_bar ~ 0.5), breaking the symmetry between animals.
        init_s: initial noise SD s.

    Tensors for the loss: :attr:`means` (K x D, mu_k in [-10, 10]), :meth:`nu_bar` (K x D), :attr:`scales` (K x D).
    """

    def __init__(self, n_animals: int, n_params: int, init_mean_sd: float = 0.3, init_s: float = 0.05) -> None:
        super().__init__()
        self.n_animals, self.n_params = int(n_animals), int(n_params)
        shape = (self.n_animals, self.n_params)
        self.raw_mu = nn.Parameter(torch.atanh(torch.clamp(torch.randn(shape) * init_mean_sd / MU_MAX, -0.99, 0.99)))
        self.raw_s = nn.Parameter(torch.full(shape, math.log(math.expm1(init_s - S_MIN))))
        # Time transfer starts small: a = 1, b = 10, onset c = 0.1 (1 hour).
        self.raw_a = nn.Parameter(torch.full(shape, _inv_sigmoid(1.0 / A_MAX)))
        self.raw_b = nn.Parameter(torch.full(shape, _inv_sigmoid(10.0 / B_MAX)))
        self.raw_c = nn.Parameter(torch.full(shape, _inv_sigmoid((0.1 - C_RANGE[0]) / (C_RANGE[1] - C_RANGE[0]))))

    @property
    def means(self) -> torch.Tensor:
        """Learned means mu, ``animals x D`` in [-10, 10]."""
        return MU_MAX * torch.tanh(self.raw_mu)

    @property
    def scales(self) -> torch.Tensor:
        """Noise SDs s, ``animals x D`` (> 0)."""
        return F.softplus(self.raw_s) + S_MIN

    def time_params(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(a, b, c)``, each ``animals x D``, inside [0, 20], [0, 50], [0.05, 0.5]."""
        a = A_MAX * torch.sigmoid(self.raw_a)
        b = B_MAX * torch.sigmoid(self.raw_b)
        c = C_RANGE[0] + (C_RANGE[1] - C_RANGE[0]) * torch.sigmoid(self.raw_c)
        return a, b, c

    def nu_bar(self, hours: float | torch.Tensor | None = None) -> torch.Tensor:
        """nu_bar_k(t) for every animal, ``animals x D`` (``hours`` scalar or ``animals``; None = start, t = 0)."""
        return self.nu_mean(torch.arange(self.n_animals, device=self.raw_mu.device), hours)

    def nu_mean(self, animal_idx: int | torch.Tensor, hours: float | torch.Tensor | None = None) -> torch.Tensor:
        """nu_bar = sigmoid(mu_k(t)) for a batch of animals.

        Args:
            animal_idx: int or ``batch`` long tensor of animal indices.
            hours: recording time in hours, scalar or ``batch`` (None: 0, the start of the recording).

        Returns:
            ``batch x D`` in (0, 1).
        """
        idx = _animal_index(animal_idx, self.n_animals, self.raw_mu.device)
        t = _hours_tensor(hours, idx.numel(), self.raw_mu.device) / 10.0
        a, b, c = self.time_params()
        return torch.sigmoid(time_transfer(self.means[idx], t, a[idx], b[idx], c[idx]))

    def sample_nu(
        self,
        animal_idx: int | torch.Tensor,
        hours: float | torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Reparameterised sample nu = nu_bar + s * eps, eps ~ N(0, I) from ``generator``; ``batch x D``, unclamped."""
        idx = _animal_index(animal_idx, self.n_animals, self.raw_mu.device)
        mean = self.nu_mean(idx, hours)
        gen_device = generator.device if generator is not None else mean.device
        eps = torch.randn(mean.shape, generator=generator, device=gen_device, dtype=mean.dtype).to(mean.device)
        return mean + self.scales[idx] * eps

    def extra_repr(self) -> str:
        return f"n_animals={self.n_animals}, n_params={self.n_params}"


def abr_to_nu(thresholds_db: torch.Tensor, abr_range_db: tuple[float, float] = (0.0, 100.0)) -> torch.Tensor:
    """ABRNet's nu: ABR thresholds (dB SPL, ``... x F``) mapped linearly from ``abr_range_db`` onto [0, 1], clamped."""
    thr = torch.as_tensor(thresholds_db, dtype=torch.float32)
    if not bool(torch.isfinite(thr).all()):
        raise HearloopInputError("ABR thresholds must be finite (dB SPL)")
    lo, hi = float(abr_range_db[0]), float(abr_range_db[1])
    return ((thr - lo) / (hi - lo)).clamp(0.0, 1.0)


class ABRConditioning(nn.Module):
    """ABRNet conditioning: a fixed table of nu per animal from ABR thresholds; no noise, no time transfer.

    The table is a persistent buffer (saved in checkpoints); set it with :meth:`set_thresholds`. Until then every
    animal has nu = 0.5.
    """

    def __init__(self, n_animals: int, n_params: int, abr_range_db: tuple[float, float] = (0.0, 100.0)) -> None:
        super().__init__()
        self.n_animals, self.n_params = int(n_animals), int(n_params)
        self.abr_range_db = (float(abr_range_db[0]), float(abr_range_db[1]))
        self.register_buffer("nu_table", torch.full((self.n_animals, self.n_params), 0.5))

    def set_thresholds(self, thresholds_db: torch.Tensor) -> None:
        """Store ``animals x F`` ABR thresholds (dB SPL) as the animals' nu."""
        nu = abr_to_nu(thresholds_db, self.abr_range_db)
        if nu.shape != self.nu_table.shape:
            raise HearloopInputError(
                f"ABR thresholds must have shape {tuple(self.nu_table.shape)}, got {tuple(nu.shape)}"
            )
        self.nu_table.copy_(nu.to(self.nu_table.device))

    @property
    def scales(self) -> None:
        """ABRNet has no noise (the loss skips the KL term)."""
        return None

    def nu_bar(self, hours: float | torch.Tensor | None = None) -> torch.Tensor:
        """``animals x D`` nu of every animal (time-independent)."""
        return self.nu_table

    def nu_mean(self, animal_idx: int | torch.Tensor, hours: float | torch.Tensor | None = None) -> torch.Tensor:
        """``batch x D`` nu of the given animals (``hours`` is accepted and ignored)."""
        return self.nu_table[_animal_index(animal_idx, self.n_animals, self.nu_table.device)]

    def sample_nu(self, animal_idx, hours=None, generator=None) -> torch.Tensor:
        """No noise in ABRNet: the same as :meth:`nu_mean`."""
        return self.nu_mean(animal_idx, hours)
