"""The fitting problem a human-in-the-loop session solves: a bounded search box over (part of) a strategy's theta.

A hearing-aid fine-tuning session adjusts a strategy's parameters theta around the fitting-formula prescription theta0.
Every optimiser in :mod:`runners.hitl` works in the strategy's normalised space
u = 2 (theta - lower) / (upper - lower) - 1 in [-1, 1]^P (:meth:`compensation.Strategy.to_normalized`), on search
coordinates x that are offsets from the prescription u0:

* each coordinate moves one parameter, or a group of parameters together (e.g. bass / mid / treble gain controls over
  an 8-band aid); the other parameters stay at the prescription;
* x lies in a box [-radius, radius]^k around x0 = 0 (clinical fine-tuning moves a few dB to a few tens of dB from the
  prescription; ``radius=None`` searches the strategy's whole range).

The quantity optimised is the neural-fidelity objective D (:class:`compensation.objective.NeuralFidelityObjective`,
lower is better) of the listener's response to the aided sounds, averaged over the sound batch. The listener's
*perceived quality* is the fidelity restored minus the discomfort of loud sound,

    q(x) = 1 - D(x) / D(unaided) - (L(x) - L_limit)_+ / (L_UCL - L_limit),

with L(x) the listener's loudness level (phon, ISO 532-1 with its hearing loss: :class:`compensation.ListenerComfort`)
of the loudest aided sound and L_limit, L_UCL its comfort limit and uncomfortable level: 0 unaided, 1 a perfect
restoration, a whole unit lost at the UCL. Virtual feedback (:mod:`runners.hitl.feedback`) is a noisy read-out of q.

Comfort by construction. A problem built with the listener's comfort (``comfort=``) starts comfortable: if the
prescription's loudest tuning sound is above the comfort limit, a broadband output trim (``output_gain_db`` <= 0, the
clinician turning the aid's overall gain down before the session) brings it to the limit. Every setting is scored
through the same trim; :meth:`FittingProblem.comfortable` says whether a setting is within the comfort limit, the
oracle only accepts comfortable settings, and the sessions deliver only settings the listener found comfortable
(the prescription always is), so no session ends above the comfort limit.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from simulator.errors import HearloopInputError

COMFORT_TOLERANCE_PHON: float = 0.05
"""A setting counts as comfortable up to this far above the comfort limit (phon): the resolution of the loudness
search behind the output trim."""

ORACLE_PENALTY_PER_PHON: float = 1.0
"""The oracle minimises D + ORACLE_PENALTY_PER_PHON * D(unaided) * (L - L_limit)_+ (phon): a steep exact penalty that
keeps its gradient steps inside the comfort range; only comfortable iterates can become its optimum."""


class FittingProblem(abc.ABC):
    """A box-bounded minimisation of a distance D(x) over search coordinates x (``k`` values, normalised units).

    Attributes:
        names: ``k`` names of the tuned coordinates.
        x0: ``k`` float64 start (the prescription), inside [lower, upper].
        lower, upper: ``k`` float64 search box.
        d_unaided: D of the unaided sound (> 0): the scale of the perceived quality q = 1 - D / d_unaided.
        comfort_limit_phon, ucl_phon: the listener's comfort limit and uncomfortable level (phon); inf for a problem
            without a loudness model (then every setting is comfortable).
    """

    names: tuple[str, ...]
    x0: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    d_unaided: float
    comfort_limit_phon: float = math.inf
    ucl_phon: float = math.inf

    @property
    def dim(self) -> int:
        """k, the number of tuned coordinates."""
        return int(self.x0.numel())

    @abc.abstractmethod
    def distance(self, x: torch.Tensor, grad: bool = False) -> torch.Tensor:
        """D at search points ``x`` (``n x k``, inside the box): ``n`` values (float64; differentiable if ``grad``)."""

    @abc.abstractmethod
    def theta(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """The strategy's full physical theta (``P``) for one search point ``x`` (``k``)."""

    def distance_and_loudness(self, x: torch.Tensor, grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(D, L) at search points ``x`` (``n x k``): L the listener's loudness level (phon) of the loudest aided sound,
        NaN for a problem without a loudness model (this default)."""
        d = self.distance(x, grad=grad)
        return d, torch.full_like(d.detach(), math.nan)

    def _point(self, x: torch.Tensor) -> tuple[float, float]:
        """(D, L) at one search point, no grad, memoised (sessions revisit their incumbent often)."""
        x = self.check_points(x.detach())
        cache: dict[bytes, tuple[float, float]] = self.__dict__.setdefault("_cache", {})
        key = torch.round(x[0] * 1e9).to(torch.int64).numpy().tobytes()
        if key not in cache:
            d, loud = self.distance_and_loudness(x)
            cache[key] = (float(d[0]), float(loud[0]))
        return cache[key]

    def evaluate(self, x: torch.Tensor) -> float:
        """D at one search point ``x`` (``k``), no grad, memoised."""
        return self._point(x)[0]

    def loudness(self, x: torch.Tensor) -> float:
        """The listener's loudness level (phon) of the loudest aided sound at ``x`` (``k``); NaN without a model."""
        return self._point(x)[1]

    def excess_phon(self, x: torch.Tensor) -> float:
        """How far ``x`` (``k``) is above the comfort limit (phon; 0 when comfortable or without a loudness model)."""
        loud = self.loudness(x)
        return 0.0 if math.isnan(loud) else max(0.0, loud - self.comfort_limit_phon)

    def comfortable(self, x: torch.Tensor) -> bool:
        """Whether setting ``x`` (``k``) is within the listener's comfort limit (:data:`COMFORT_TOLERANCE_PHON`)."""
        return self.excess_phon(x) <= COMFORT_TOLERANCE_PHON

    def quality(self, x: torch.Tensor) -> torch.Tensor:
        """Perceived quality at ``x`` (``n x k``) -> ``n`` (no grad): fidelity restored minus discomfort (docstring)."""
        from compensation.objective import fidelity_restored

        x = self.check_points(torch.as_tensor(x).detach())
        d = torch.tensor([self.evaluate(row) for row in x], dtype=torch.float64)
        excess = [self.excess_phon(row) for row in x]
        span = max(self.ucl_phon - self.comfort_limit_phon, 1e-6) if any(excess) else 1.0
        discomfort = torch.tensor(excess, dtype=torch.float64) / span
        return fidelity_restored(d, self.d_unaided) - discomfort

    def constrained_distance(
        self, x: torch.Tensor, grad: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the oracle minimises at ``x`` (``n x k``): (D + a penalty for loudness above the comfort limit
        (:data:`ORACLE_PENALTY_PER_PHON`), D, comfortable?), each ``n``; the first differentiable if ``grad``."""
        d, loud = self.distance_and_loudness(x, grad=grad)
        if bool(torch.isnan(loud).all()):
            return d, d.detach(), torch.ones(d.shape, dtype=torch.bool)
        excess = (loud - self.comfort_limit_phon).clamp(min=0.0)
        penalised = d + ORACLE_PENALTY_PER_PHON * self.d_unaided * excess
        return penalised, d.detach(), excess.detach() <= COMFORT_TOLERANCE_PHON

    def signature(self) -> dict[str, Any]:
        """What identifies the search space (tuned names and box), to check an oracle belongs to this problem."""
        return {
            "names": list(self.names),
            "lower": [round(float(v), 6) for v in self.lower],
            "upper": [round(float(v), 6) for v in self.upper],
        }

    def check_points(self, x: torch.Tensor) -> torch.Tensor:
        """Validate search points -> ``n x k`` float64, clamped to the box (tolerance 1e-6)."""
        x = torch.as_tensor(x, dtype=torch.float64)
        x = x.reshape(1, -1) if x.dim() == 1 else x
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise HearloopInputError(f"search points must have shape (n, {self.dim}); got {tuple(x.shape)}")
        if not bool(torch.isfinite(x.detach()).all()):
            raise HearloopInputError("search points contain NaN or Inf")
        tol = 1e-6
        if bool(((x.detach() < self.lower - tol) | (x.detach() > self.upper + tol)).any()):
            raise HearloopInputError("search points lie outside the search box")
        return torch.minimum(torch.maximum(x, self.lower), self.upper)


TuneSpec = str | Sequence[str] | Mapping[str, Sequence[str]] | None
"""Which parameters a session tunes: None (all), a name prefix, a list of names, or ``{group: [names]}``."""


def select_tuned(param_names: Sequence[str], tune: TuneSpec) -> dict[str, list[int]]:
    """Search coordinates -> the indices of the parameters each one moves.

    Args:
        param_names: the strategy's P parameter names.
        tune: None (every parameter its own coordinate), a prefix such as ``"gain_db"`` (every name starting with it),
            a list of exact names, or ``{group name: [parameter names]}`` (each group one coordinate that moves all
            its parameters together, like the bass / mid / treble controls of a self-fitting app).

    Raises:
        HearloopInputError: naming an unknown parameter, a prefix that matches nothing, or an empty group.
    """
    names = list(param_names)
    if tune is None:
        return {n: [i] for i, n in enumerate(names)}
    if isinstance(tune, str):
        idx = [i for i, n in enumerate(names) if n.startswith(tune)]
        if not idx:
            raise HearloopInputError(f"tune prefix {tune!r} matches no parameter; parameters: {names}")
        return {names[i]: [i] for i in idx}
    groups = dict(tune) if isinstance(tune, Mapping) else {n: [n] for n in tune}
    if not groups:
        raise HearloopInputError("tune names no parameter")
    out: dict[str, list[int]] = {}
    for group, members in groups.items():
        members = [members] if isinstance(members, str) else list(members)
        unknown = [m for m in members if m not in names]
        if unknown or not members:
            raise HearloopInputError(f"tune group {group!r}: unknown or no parameters {unknown}; parameters: {names}")
        out[str(group)] = [names.index(m) for m in members]
    return out


def band_groups(param_names: Sequence[str], n_groups: int = 3, prefix: str = "gain_db") -> dict[str, list[str]]:
    """Split the band parameters starting with ``prefix`` (in band order) into ``n_groups`` contiguous groups.

    With 3 groups these are the ``low`` / ``mid`` / ``high`` (bass / middle / treble) controls of self-fitting hearing
    aids (e.g. Nielsen, Nielsen & Larsen 2015, "Perception-based personalization of hearing aids using Gaussian
    processes and active learning", IEEE/ACM TASLP 23:162-173, tune a 3-band equaliser by paired comparisons).
    """
    bands = [n for n in param_names if n.startswith(prefix)]
    if not 1 <= int(n_groups) <= len(bands):
        raise HearloopInputError(
            f"n_groups must be in 1..{len(bands)} (parameters starting {prefix!r}); got {n_groups}"
        )
    labels = {3: ("low", "mid", "high")}.get(int(n_groups), tuple(f"group{g}" for g in range(int(n_groups))))
    split = np.array_split(np.arange(len(bands)), int(n_groups))
    return {label: [bands[i] for i in part] for label, part in zip(labels, split, strict=True)}


def parse_tune(text: str, param_names: Sequence[str]) -> TuneSpec:
    """A tuning description -> a :data:`TuneSpec` (what the CLI's ``--tune`` and the fleet's ``hitl.tune`` take).

    ``"all"``: every parameter; ``"gains"``: every band gain (``gain_db*``); ``"bands:N"``: the band gains in N
    contiguous groups (:func:`band_groups`; 3 = bass / mid / treble); otherwise comma-separated parameter names.
    """
    text = str(text).strip()
    if text == "all":
        return None
    if text == "gains":
        return "gain_db"
    if text.startswith("bands:"):
        try:
            n = int(text.split(":", 1)[1])
        except ValueError as err:
            raise HearloopInputError(f"tune 'bands:N' needs an integer N, got {text!r}") from err
        return band_groups(param_names, n)
    return [name.strip() for name in text.split(",") if name.strip()]


class StrategyFittingProblem(FittingProblem):
    """D(x) = mean over sounds of objective(clean, strategy(clean, theta(x)), nu), the NH target cached once.

    Search coordinates are offsets from the prescription in normalised units: u = clip(u0 + A x, -1, 1), with A the
    ``P x k`` 0/1 matrix of the tuned coordinates (:func:`select_tuned`), so x0 = 0 and the box is [-radius, radius]
    cut to where the parameters stay in range.

    Args:
        strategy: a :class:`compensation.Strategy` (P parameters).
        objective: a :class:`~compensation.objective.NeuralFidelityObjective`, or any callable
            ``objective(clean, aided, nu, target=None) -> B`` distances (a ``target(clean)`` method, if present, is
            used to cache the reference response).
        nu: the listener's conditioning (``D``), or whatever the objective callable takes.
        sounds: ``B x samples`` clean sounds (Pa at SAMPLE_RATE).
        theta0: ``P`` prescription (physical units).
        tune: which parameters are tuned (see :func:`select_tuned`); the others stay at theta0.
        radius: half-width of the search box around the prescription in normalised units (None: whole range).
        max_batch: largest number of aided sounds per objective call (bounds memory).
        comfort: the listener's :class:`compensation.ListenerComfort` (loudness model and comfort range), or None
            for a problem without one; with it the perceived quality counts discomfort and the prescription is trimmed
            to the comfort limit when above it (module docstring).
    """

    def __init__(
        self,
        strategy: Any,
        objective: Any,
        nu: Any,
        sounds: torch.Tensor,
        theta0: torch.Tensor | np.ndarray | Sequence[float],
        *,
        tune: TuneSpec = None,
        radius: float | None = 0.5,
        max_batch: int = 64,
        comfort: Any | None = None,
    ) -> None:
        if radius is not None and not (np.isfinite(radius) and radius > 0):
            raise HearloopInputError(f"radius must be > 0 (normalised units) or None, got {radius!r}")
        self.strategy, self.objective, self.nu = strategy, objective, nu
        self.sounds = torch.as_tensor(sounds, dtype=torch.float32)
        if self.sounds.dim() != 2 or self.sounds.shape[0] < 1:
            raise HearloopInputError(f"sounds must have shape (batch, samples); got {tuple(self.sounds.shape)}")
        theta0 = strategy.validate_theta(torch.as_tensor(np.asarray(theta0, dtype=np.float32))).reshape(-1)
        self.theta0 = theta0.detach().double().cpu()
        self.theta_lower = strategy.lower.detach().double().cpu()
        self.theta_upper = strategy.upper.detach().double().cpu()
        self.u0 = strategy.to_normalized(theta0).detach().double().cpu().reshape(-1)
        groups = select_tuned(strategy.param_names, tune)
        self.names = tuple(groups)
        self.basis = torch.zeros(strategy.n_params, len(groups), dtype=torch.float64)
        for j, members in enumerate(groups.values()):
            self.basis[members, j] = 1.0
        self.max_batch = max(int(max_batch), self.sounds.shape[0])
        self.x0 = torch.zeros(len(groups), dtype=torch.float64)
        half = 2.0 if radius is None else float(radius)
        room_down = torch.stack([(-1.0 - self.u0[m]).min() for m in groups.values()])
        room_up = torch.stack([(1.0 - self.u0[m]).max() for m in groups.values()])
        self.lower = torch.clamp(room_down, min=-half).clamp(max=0.0)
        self.upper = torch.clamp(room_up, max=half).clamp(min=0.0)
        if bool((self.upper - self.lower <= 1e-9).any()):
            bad = [n for n, w in zip(self.names, (self.upper - self.lower).tolist(), strict=True) if w <= 1e-9]
            raise HearloopInputError(f"no room to tune {bad}: the prescription sits on their bounds")
        target_fn = getattr(objective, "target", None)
        with torch.no_grad():
            self.target = target_fn(self.sounds) if callable(target_fn) else None
            d_unaided = objective(self.sounds, self.sounds, nu, target=self.target)
        self.d_unaided = float(torch.as_tensor(d_unaided).double().mean())
        if not (np.isfinite(self.d_unaided) and self.d_unaided > 0):
            raise HearloopInputError(
                f"the unaided distance is {self.d_unaided}: the listener already matches the target (nothing to fit)"
            )
        self.comfort, self.output_gain_db = comfort, 0.0
        if comfort is not None:
            limits = comfort.comfort.phons()
            self.comfort_limit_phon, self.ucl_phon = limits["upper"], limits["ucl"]
            self.output_gain_db = self._comfort_trim_db()

    def _comfort_trim_db(self) -> float:
        """The broadband output gain (dB, <= 0) that brings the prescription's loudest sound to the comfort limit."""
        from compensation.loudness_scaling import loudness_gain_db

        with torch.no_grad():
            aided = self.strategy(self.sounds, self.theta0.to(self.strategy.lower.device, torch.float32))
            gain = loudness_gain_db(aided, self.comfort.loudness, self.comfort.comfort.limit_sone)
        return min(0.0, float(gain.min()))

    def _full_theta(self, x: torch.Tensor) -> torch.Tensor:
        """``n x k`` offsets -> ``n x P`` physical theta (float64), clipped to the strategy's bounds.

        theta = theta0 + (A x) (upper - lower) / 2, i.e. u = u0 + A x in normalised units, computed from the exact
        prescription in float64 so that x = 0 reproduces theta0 bit for bit (a float32 round trip through u would
        move it by ~1e-5 of the range).
        """
        half_span = 0.5 * (self.theta_upper - self.theta_lower)
        theta = self.theta0 + (x @ self.basis.T) * half_span
        return torch.minimum(torch.maximum(theta, self.theta_lower), self.theta_upper)

    def theta(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        x = self.check_points(torch.as_tensor(np.asarray(x, dtype=np.float64)))
        return self._full_theta(x)[0].detach().numpy().copy()

    def _chunk(self, x: torch.Tensor, loudness: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(D, L or None) for ``m x k`` points at once: every point's theta applied to every sound."""
        m, b = x.shape[0], self.sounds.shape[0]
        theta = self._full_theta(x).to(device=self.strategy.lower.device, dtype=torch.float32)
        clean = self.sounds.repeat(m, 1)
        aided = self.strategy(clean, theta.repeat_interleave(b, dim=0))
        if self.output_gain_db:
            aided = aided * 10.0 ** (self.output_gain_db / 20.0)
        target = None if self.target is None else self.target.repeat(m, *([1] * (self.target.dim() - 1)))
        d = torch.as_tensor(self.objective(clean, aided, self.nu, target=target)).double().reshape(m, b).mean(dim=1)
        if not (loudness and self.comfort is not None):
            return d, None
        return d, self.comfort.phons(aided).double().reshape(m, b).amax(dim=1)

    def distance_and_loudness(self, x: torch.Tensor, grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.check_points(x)
        per = max(1, self.max_batch // self.sounds.shape[0])
        with torch.set_grad_enabled(grad):
            parts = [self._chunk(x[i : i + per], loudness=True) for i in range(0, x.shape[0], per)]
            d = torch.cat([p[0] for p in parts])
            if self.comfort is None:
                return d, torch.full_like(d.detach(), math.nan)
            return d, torch.cat([p[1] for p in parts])

    def distance(self, x: torch.Tensor, grad: bool = False) -> torch.Tensor:
        x = self.check_points(x)
        per = max(1, self.max_batch // self.sounds.shape[0])
        with torch.set_grad_enabled(grad):
            return torch.cat([self._chunk(x[i : i + per], loudness=False)[0] for i in range(0, x.shape[0], per)])
