"""The oracle optimum of a fitting problem: gradient descent through the frozen nu-ICNet on theta.

A real listener's percept has no gradient, but the virtual listener's does: the neural-fidelity objective is
differentiable through the frozen model and the (differentiable) strategy, so projected Adam (Kingma & Ba 2015) on the
normalised search coordinates, from the prescription and from ``restarts - 1`` scrambled-Sobol starts in the search box,
finds the best setting a fitting session could hope to reach (the yardstick of every session). All restarts run as one
batch (one model call per step). Each restart keeps its best iterate, and the prescription itself is a candidate, so the
oracle never reports a worse objective than theta0.

The oracle respects the listener's comfort limit: it descends D plus a steep penalty for loudness above the limit
(:meth:`~runners.hitl.problem.FittingProblem.constrained_distance`) and only comfortable iterates can become its optimum
(the prescription is comfortable by construction), so it answers "the best a session could reach without making the
listener uncomfortable".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.quasirandom import SobolEngine
from tqdm.auto import tqdm

from runners.hitl.problem import FittingProblem
from simulator.errors import HearloopInputError


@dataclass
class OracleResult:
    """The oracle optimum.

    Attributes:
        theta: ``P`` physical theta of the optimum.
        x: ``k`` normalised search coordinates of the optimum.
        objective: D* at the optimum (lower is better).
        objective_start: D0 at the prescription.
        restart_objectives: best D of each restart (restart 0 starts at the prescription).
        steps: Adam steps per restart.
        signature: the search space it was computed on (tuned names and box).
        history: best D over all restarts after each step.
    """

    theta: np.ndarray
    x: np.ndarray
    objective: float
    objective_start: float
    restart_objectives: list[float]
    steps: int
    signature: dict[str, Any] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)


def oracle_optimum(
    problem: FittingProblem,
    *,
    restarts: int = 4,
    steps: int = 60,
    lr: float = 0.05,
    seed: int = 0,
    progress: bool = False,
) -> OracleResult:
    """Minimise D over the comfortable part of the problem's search box by projected Adam from several starts.

    Args:
        problem: the fitting problem (its ``distance(x, grad=True)`` must be differentiable).
        restarts: number of starts (the prescription and ``restarts - 1`` Sobol points in the box).
        steps: Adam steps per start.
        lr: Adam step size in normalised units (the box spans at most 2).
        seed: seed of the Sobol starts.
        progress: a tqdm bar over the Adam steps (all starts advance together).

    Returns:
        An :class:`OracleResult`.
    """
    if int(restarts) < 1 or int(steps) < 0 or not lr > 0:
        raise HearloopInputError(f"need restarts >= 1, steps >= 0 and lr > 0; got {restarts}, {steps}, {lr}")
    lo, hi = problem.lower, problem.upper
    starts = [problem.x0.reshape(1, -1)]
    if restarts > 1:
        sobol = SobolEngine(problem.dim, scramble=True, seed=int(seed)).draw(int(restarts) - 1).double()
        starts.append(lo + sobol * (hi - lo))
    x = torch.cat(starts).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=float(lr))
    best_x = x.detach().clone()
    best_d = torch.full((x.shape[0],), float("inf"), dtype=torch.float64)
    d_start = float("nan")
    history: list[float] = []
    bar = tqdm(total=int(steps) + 1, desc=f"oracle ({x.shape[0]} starts)", unit="step", disable=not progress,
               leave=False)  # fmt: skip
    for step in range(int(steps) + 1):
        bar.update(1)
        optimiser.zero_grad()
        loss, d, comfortable = problem.constrained_distance(x, grad=step < int(steps))
        if step == 0:
            d_start = float(d[0])
        better = comfortable & (d < best_d)
        best_d = torch.where(better, d, best_d)
        best_x[better] = x.detach()[better]
        history.append(float(best_d.min()))
        if step == int(steps):
            break
        loss.sum().backward()
        optimiser.step()
        with torch.no_grad():
            x.copy_(torch.minimum(torch.maximum(x, lo), hi))
    bar.close()
    if not bool(torch.isfinite(best_d).any()):  # nothing comfortable was visited (not even the start): stay there
        best_d[0], best_x[0] = d_start, problem.x0
    i = int(torch.argmin(best_d))
    return OracleResult(
        theta=problem.theta(best_x[i]),
        x=best_x[i].numpy().copy(),
        objective=float(best_d[i]),
        objective_start=d_start,
        restart_objectives=[float(v) for v in best_d],
        steps=int(steps),
        signature=problem.signature(),
        history=history,
    )
