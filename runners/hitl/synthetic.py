"""A smooth synthetic fitting problem with a known optimum, for tests and for checking the optimisers in isolation.

D(x) = d_min + sum_i w_i (x_i - x*_i)^2 on a box around x0, with the optimum x* and weights w drawn from a seed. It has
the properties the neural problem has near the prescription (smooth, one basin, anisotropic) and costs nothing to
evaluate, so the optimisers' query efficiency can be measured apart from the model.

With ``loudness_slope`` it also has a listener's loudness, L(x) = loudness_base_phon + loudness_slope . x (phon), and
a comfort limit, so the comfort rules of sessions and oracle can be checked where the optimum is too loud.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from runners.hitl.problem import FittingProblem
from simulator.errors import HearloopInputError


class QuadraticProblem(FittingProblem):
    """Anisotropic quadratic bowl in ``k`` normalised coordinates.

    Args:
        k: number of search coordinates.
        seed: draws the optimum (uniform in the inner 60 % of the box) and weights (log-uniform over a factor 10).
        x0: start (default the box centre, 0).
        radius: half-width of the box around x0.
        d_min: D at the optimum (> 0).
        d_unaided: quality scale; q = 1 - D / d_unaided.
        optimum: explicit optimum instead of a drawn one.
        loudness_slope: ``k`` phon per normalised unit of each coordinate (None: no loudness model).
        loudness_base_phon, comfort_limit_phon, ucl_phon: L at x = 0, the comfort limit and the UCL (phon).
    """

    def __init__(
        self,
        k: int = 4,
        seed: int = 0,
        *,
        x0: Sequence[float] | None = None,
        radius: float = 0.5,
        d_min: float = 0.5,
        d_unaided: float = 1.0,
        optimum: Sequence[float] | None = None,
        loudness_slope: Sequence[float] | None = None,
        loudness_base_phon: float = 80.0,
        comfort_limit_phon: float = 90.0,
        ucl_phon: float = 105.0,
    ) -> None:
        if int(k) < 1 or not radius > 0 or not 0 < d_min < d_unaided:
            raise HearloopInputError(f"need k >= 1, radius > 0 and 0 < d_min < d_unaided; got {k}, {radius}, {d_min}")
        rng = np.random.default_rng(seed)
        self.names = tuple(f"x{i}" for i in range(int(k)))
        self.x0 = torch.zeros(int(k), dtype=torch.float64) if x0 is None else torch.as_tensor(x0, dtype=torch.float64)
        self.lower = torch.clamp(self.x0 - radius, min=-1.0)
        self.upper = torch.clamp(self.x0 + radius, max=1.0)
        if optimum is None:
            u = rng.uniform(0.2, 0.8, int(k))
            optimum = (self.lower + torch.as_tensor(u) * (self.upper - self.lower)).numpy()
        self.optimum = torch.as_tensor(np.asarray(optimum, dtype=np.float64))
        self.weights = torch.as_tensor(10.0 ** rng.uniform(-0.5, 0.5, int(k)))
        self.d_min, self.d_unaided = float(d_min), float(d_unaided)
        self.n_evaluations = 0
        self.loudness_slope = None
        if loudness_slope is not None:
            self.loudness_slope = torch.as_tensor(np.asarray(loudness_slope, dtype=np.float64)).reshape(int(k))
            self.loudness_base_phon = float(loudness_base_phon)
            self.comfort_limit_phon, self.ucl_phon = float(comfort_limit_phon), float(ucl_phon)

    def distance(self, x: torch.Tensor, grad: bool = False) -> torch.Tensor:
        x = self.check_points(x)
        self.n_evaluations += x.shape[0]
        with torch.set_grad_enabled(grad):
            return self.d_min + ((x - self.optimum) ** 2 * self.weights).sum(dim=-1)

    def distance_and_loudness(self, x: torch.Tensor, grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.distance(x, grad=grad)
        if self.loudness_slope is None:
            return d, torch.full_like(d.detach(), float("nan"))
        with torch.set_grad_enabled(grad):
            return d, self.loudness_base_phon + self.check_points(x) @ self.loudness_slope

    def theta(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        return self.check_points(torch.as_tensor(np.asarray(x, dtype=np.float64)))[0].numpy().copy()
