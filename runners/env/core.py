"""The fitting loop shared by the single and the batched vector environment: episodes and evaluation.

One :class:`FittingCore` holds the model, the NH-reference objective (``compensation.objective``), the strategy, the
corpus, the cohort and the caches. An episode (:class:`EpisodeState`) is one listener, one sound batch, the listener's
audiogram estimate and the current normalised parameters. :meth:`FittingCore.evaluate` scores the current parameters of
ANY number of episodes at once: their aided sounds go through the strategy in one batched call, through each
listener's loudness model (``runners.env.hearing``: what it hears, how comfortable it is) and through nu-ICNet in one
batched call (each sound row paired with its listener's nu and its cached NH target), so the single environment is
simply the batch-of-one case of the vector environment.

Caching (all deterministic): NH targets and response scales D_0 of the whole corpus are computed once per model and
process; every per-listener measurement (audiogram estimate, true audiogram, unaided distances) once per (model,
listener, setting), kept in memory and on disk (:mod:`runners.env.listener_data`, :mod:`runners.env.listener_store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from compensation.population import clinical_audiogram
from runners.env.bands import ChannelBands, estimate_channel_cf, make_bands
from runners.env.config import EnvConfig
from runners.env.evaluation import CPU_CHUNK_ROWS, db_spl, evaluate_episodes
from runners.env.listener_data import CHUNK, ListenerData, listener_key
from runners.env.resources import get_corpus, get_model, model_cache
from runners.env.scoring import GeneratorScoring, ModelScoring, Scoring, ground_truth_digest
from simulator.errors import HearloopInputError
from simulator.frequencies import AUDIOGRAM_FREQS_HZ

__all__ = ["CHUNK", "CPU_CHUNK_ROWS", "RESET_OPTIONS", "EpisodeState", "FittingCore", "listener_key"]

RESET_OPTIONS: tuple[str, ...] = ("listener", "nu", "listener_id", "listener_index", "sounds", "theta")
"""Keys ``reset(options=...)`` takes; any other key is an error (it would be silently ignored otherwise)."""

_ACTION_TOL = 1e-6


@dataclass
class EpisodeState:
    """One fitting episode (see the module docstring). Tensors live on the model's device."""

    listener: Any
    listener_key: str
    nu: torch.Tensor  # 1 x D
    sound_idx: np.ndarray  # B
    clean: torch.Tensor  # B x samples (Pa)
    target: torch.Tensor  # B x C x T x 5
    d_unaided: float  # mean over the batch
    d_unaided_sound: torch.Tensor  # B
    d_scale_sound: torch.Tensor  # B, response scales D_0
    band_unaided: np.ndarray  # n_bands
    clean_loudness_db_spl: float
    audiogram_mean: np.ndarray  # F, dB HL
    audiogram_sd: np.ndarray  # F, dB
    hearing_loss: tuple[torch.Tensor, torch.Tensor]  # (OHC, IHC) 1 x 20 each, dB
    stratum: str
    theta_u: np.ndarray  # P, normalised
    steps: int = 0
    done: bool = False
    last: dict[str, Any] = field(default_factory=dict)
    first: dict[str, Any] = field(default_factory=dict)  # the evaluation of the starting parameters
    theta_start: np.ndarray | None = None  # P, the starting normalised parameters
    scoring: Any = None  # the runners.env.scoring.Scoring its fits are scored with


class FittingCore:
    """Model, objective, strategy, corpus, cohort and caches of a fitting environment (see the module docstring)."""

    def __init__(self, config: EnvConfig) -> None:
        from compensation.comfort import ComfortRange
        from compensation.limiter import OutputLimiter
        from compensation.objective import NeuralFidelityObjective
        from compensation.registry import get_strategy

        self.config = config
        self.model = config.model if config.model is not None else get_model(config.model_path, config.device)
        self.model.eval()
        self.strategy = get_strategy(config.strategy, **config.strategy_kwargs).to(self.model.device)
        if self.strategy.n_params == 0:
            raise HearloopInputError(
                f"strategy {config.strategy!r} has no parameters to fit; choose one with parameters (e.g. 'wdrc')"
            )
        self.cache = model_cache(self.model)
        self.reference = self._reference_listener(config.reference_nu)
        self.objective = NeuralFidelityObjective(self.model, self.reference.nu, distance=config.distance)
        self.channel_weights = self.objective.channel_weights
        self.ref_key = ref_key = tuple(np.round(self.objective.reference_nu.cpu().numpy().ravel(), 6).tolist())
        cf = self._cached(("channel_cf", ref_key), lambda: estimate_channel_cf(self.model, self.objective.reference_nu))
        self.bands: ChannelBands = make_bands(cf, self.channel_weights.cpu().numpy(), config.n_bands)
        self.model_scoring = ModelScoring(self, self.objective, ref_key, self.bands)
        self.corpus_key = (
            int(config.corpus_seed),
            tuple(config.sound_classes),
            int(config.n_per_class),
            float(config.sound_duration_s),
            tuple(config.level_range_db_spl),
        )
        self.corpus = get_corpus(*self.corpus_key)
        self.cohort = list(config.listeners) if config.listeners is not None else self._sample_cohort()
        self.freqs_hz = np.asarray(AUDIOGRAM_FREQS_HZ, dtype=np.float64)
        self.data = ListenerData(self)
        self.comfort = ComfortRange()
        self.comfort_limit_phon = float(self.comfort.phons()["upper"])
        if config.objective == "model":
            self.scales()  # NH targets and response scales of the corpus now, so that no reset pays for them
        self.limiter = OutputLimiter().to(self.model.device)

    # ------------------------------------------------------------------------------------------------------ caches
    def _cached(self, key: tuple, compute):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def _reference_listener(self, reference_nu: Any) -> Any:
        """The NH reference listener: ``listeners.nh_reference(model)``, or one with the given nu (0 dB HL)."""
        from listeners import VirtualListener, nh_reference

        if reference_nu is None:
            return nh_reference(self.model)
        nu = np.asarray(reference_nu, dtype=np.float64).reshape(-1)
        key = ("reference_listener", tuple(np.round(nu, 9).tolist()))
        return self._cached(key, lambda: VirtualListener("NH-ref", nu, self.model, reference=None))

    def _sample_cohort(self) -> list[Any]:
        from listeners import sample_cohort

        cfg = self.config
        strata = None if cfg.strata is None else dict(cfg.strata)
        key = ("cohort", cfg.cohort_size, cfg.cohort_seed, None if strata is None else tuple(sorted(strata.items())))
        return self._cached(
            key, lambda: sample_cohort(cfg.cohort_size, seed=cfg.cohort_seed, model=self.model, strata=strata)
        )

    def _corpus_audio(self) -> torch.Tensor:
        return torch.as_tensor(np.array(self.corpus.audio), device=self.model.device)

    def targets(self) -> torch.Tensor:
        """NH reference responses to every corpus sound: ``sounds x C x T x 5`` (cached)."""

        def compute() -> torch.Tensor:
            return torch.cat([self.objective.target(chunk) for chunk in self._corpus_audio().split(CHUNK)])

        return self._cached(("targets", self.ref_key, self.corpus_key), compute)

    def scales(self) -> torch.Tensor:
        """Response scale D_0 of every corpus sound (``compensation.benefit.response_scale``): ``sounds`` (cached)."""
        from compensation.benefit import response_scale

        def compute() -> torch.Tensor:
            parts = zip(self._corpus_audio().split(CHUNK), self.targets().split(CHUNK), strict=True)
            return torch.cat([response_scale(self.objective, a, t) for a, t in parts])

        return self._cached(("scales", self.ref_key, self.config.distance, self.corpus_key), compute)

    def scoring(self, listener: Any, key: str | None = None) -> Scoring:
        """What ``listener``'s fits are scored with (:mod:`runners.env.scoring`): the shared model objective, or with
        ``objective="generator"`` the listener's own generator objective (cached per listener).

        Raises:
            MissingGroundTruthError: ``objective="generator"`` and a listener without a ground truth.
        """
        if self.config.objective == "model":
            return self.model_scoring
        from compensation.generator_objective import require_ground_truth

        require_ground_truth([listener])
        key = key or listener_key(listener)
        cfg = self.config
        digest = ground_truth_digest(listener.ground_truth)
        return self._cached(
            ("generator-scoring", key, digest, cfg.distance, self.corpus_key, cfg.n_bands),
            lambda: GeneratorScoring(listener.ground_truth, self._corpus_audio(), cfg.distance, cfg.n_bands, key),
        )

    def unaided(self, listener: Any, key: str | None = None) -> torch.Tensor:
        """The listener's unaided per-channel distances on every corpus sound: ``sounds x C`` (cached)."""
        return self.data.unaided(listener, key or listener_key(listener), self._nu(listener))

    def audiogram(self, listener: Any, key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The observed audiogram (mean dB HL, SD dB) at :data:`AUDIOGRAM_FREQS_HZ` (cached per listener)."""
        return self.data.audiogram(listener, key or listener_key(listener))

    def prefetch(self) -> None:
        """Fill every cache for the whole cohort (NH targets, response scales, unaided distances, audiograms), e.g.
        before training or timing, so that no episode start pays a model pass over the corpus or a GP-PTA session."""
        if self.config.objective == "model":
            self.scales()
        for listener in self.cohort:
            key = listener_key(listener)
            self.scoring(listener, key).scales()
            self.unaided(listener, key)
            self.audiogram(listener, key)
            self.data.hearing_loss(listener, key)

    def _nu(self, listener: Any) -> torch.Tensor:
        nu = np.asarray(listener.nu, dtype=np.float32).reshape(1, -1)
        if nu.shape[1] != int(self.model.n_params) or not np.all(np.isfinite(nu)) or nu.min() < 0 or nu.max() > 1:
            raise HearloopInputError(
                f"listener {getattr(listener, 'id', '?')!r} needs nu of {self.model.n_params} values in [0, 1]; "
                f"got {np.asarray(listener.nu).tolist()}"
            )
        return torch.as_tensor(nu, device=self.model.device)

    # ---------------------------------------------------------------------------------------------------- episodes
    def _pick_listener(self, rng: np.random.Generator, options: dict[str, Any]) -> Any:
        if "listener" in options:
            listener = options["listener"]
            if not (hasattr(listener, "nu") and hasattr(listener, "id")):
                raise HearloopInputError("options['listener'] must be a listeners.VirtualListener (with id and nu)")
            return listener
        if "nu" in options:
            from listeners import VirtualListener

            nu = np.asarray(options["nu"], dtype=np.float64).reshape(-1)
            listener_id = str(options.get("listener_id", "custom"))
            return VirtualListener(id=listener_id, nu=nu, model=self.model, reference=self.reference)
        if "listener_index" in options:
            idx = int(options["listener_index"])
            if not 0 <= idx < len(self.cohort):
                raise HearloopInputError(f"options['listener_index']={idx} outside the cohort of {len(self.cohort)}")
            return self.cohort[idx]
        if self.config.include_nh:
            return self.cohort[int(rng.integers(len(self.cohort)))]
        # A permutation, then its first impaired listener: the draw uses the generator the same way whatever is cached.
        for idx in rng.permutation(len(self.cohort)):
            listener = self.cohort[int(idx)]
            if self.data.stratum(listener, listener_key(listener)) != "NH":
                return listener
        raise HearloopInputError(
            f"the cohort's {len(self.cohort)} listeners all have normal hearing; episodes draw impaired listeners "
            "(include_nh=True draws everyone)"
        )

    def _pick_sounds(self, rng: np.random.Generator, options: dict[str, Any]) -> np.ndarray:
        n = self.config.n_sounds
        if "sounds" not in options:
            return np.sort(rng.choice(len(self.corpus), size=n, replace=False))
        lookup = {name: i for i, name in enumerate(self.corpus.names)}
        idx = []
        for s in options["sounds"]:
            if isinstance(s, str) and s not in lookup:
                raise HearloopInputError(f"unknown sound {s!r}; corpus sounds: {', '.join(self.corpus.names)}")
            idx.append(lookup[s] if isinstance(s, str) else int(s))
        if len(idx) != n or not all(0 <= i < len(self.corpus) for i in idx):
            raise HearloopInputError(
                f"options['sounds'] must name {n} corpus sounds (n_sounds); got {options['sounds']}"
            )
        return np.asarray(idx)

    def start_episode(self, rng: np.random.Generator, options: dict[str, Any] | None = None) -> EpisodeState:
        """Draw (or take from ``options``) a listener and a sound batch; estimate the audiogram; set theta0.

        ``options`` keys: ``listener`` (a VirtualListener), ``nu`` (D values; ``listener_id`` optional),
        ``listener_index`` (into the cohort), ``sounds`` (corpus names or indices), ``theta`` (normalised start).
        """
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS), key=str)
        if unknown:
            raise HearloopInputError(f"reset options {unknown} are unknown (known: {', '.join(RESET_OPTIONS)})")
        listener = self._pick_listener(rng, options)
        key = listener_key(listener)
        nu = self._nu(listener)
        scoring = self.scoring(listener, key)
        idx = self._pick_sounds(rng, options)
        sel = torch.as_tensor(idx, device=self.model.device)
        unaided = self.unaided(listener, key)[sel]  # B x C
        d_unaided_sound = unaided @ scoring.channel_weights.to(unaided)
        d_unaided = float(d_unaided_sound.mean())
        if not d_unaided > 1e-12:
            raise HearloopInputError(
                f"listener {listener.id!r} already matches the NH reference on these sounds: nothing to restore"
            )
        clean = torch.as_tensor(np.array(self.corpus.audio[idx]), device=self.model.device)
        mean, sd = self.audiogram(listener, key)
        theta_u = self._initial_theta(rng, options, mean)
        power = float(clean.double().square().mean())
        return EpisodeState(
            listener=listener,
            listener_key=key,
            nu=nu,
            sound_idx=idx,
            clean=clean,
            target=scoring.targets()[torch.as_tensor(idx)],
            d_unaided=d_unaided,
            d_unaided_sound=d_unaided_sound,
            d_scale_sound=scoring.scales()[torch.as_tensor(idx)].to(unaided),
            band_unaided=scoring.bands.pool(unaided.mean(0)).cpu().double().numpy(),
            clean_loudness_db_spl=db_spl(power),
            audiogram_mean=mean,
            audiogram_sd=sd,
            hearing_loss=self.data.hearing_loss(listener, key),
            stratum=self.data.stratum(listener, key),
            theta_u=theta_u,
            scoring=scoring,
        )

    def _initial_theta(self, rng: np.random.Generator, options: dict[str, Any], mean: np.ndarray) -> np.ndarray:
        if "theta" in options:
            return self.validate_action(options["theta"], what="options['theta']")
        start = self.config.start
        if start == "neutral":
            return np.zeros(self.strategy.n_params, np.float32)
        if start == "random":
            return rng.uniform(-1.0, 1.0, self.strategy.n_params).astype(np.float32)
        # The estimate may extrapolate beyond what an audiometer reports (e.g. -21 dB HL); prescribe from it clipped.
        theta0 = self.strategy.prescribe(clinical_audiogram(dict(zip(self.freqs_hz, mean, strict=True))))
        return self.strategy.to_normalized(theta0).cpu().numpy().astype(np.float32)

    def validate_action(self, action: Any, what: str = "action") -> np.ndarray:
        """Check a normalised action (shape ``P``, finite, in [-1, 1]) and return it as float32.

        Raises:
            HearloopInputError: naming the parameter for NaN/inf or values outside [-1, 1], or the wrong shape.
        """
        names = self.strategy.param_names
        try:
            u = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise HearloopInputError(f"{what} must be an array of {len(names)} numbers: {err}") from err
        if u.shape != (len(names),):
            raise HearloopInputError(
                f"{what} must have shape ({len(names)},) for strategy '{self.strategy.name}'; got {u.shape}"
            )
        bad = ~np.isfinite(u) | (np.abs(u) > 1.0 + _ACTION_TOL)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            problem = "is NaN" if np.isnan(u[i]) else f"= {u[i]:.6g} is outside the action space [-1, 1]"
            raise HearloopInputError(f"{what} for parameter '{names[i]}' (index {i}) {problem}")
        return np.clip(u, -1.0, 1.0).astype(np.float32)

    def action_to_theta(self, state: EpisodeState, action: np.ndarray) -> np.ndarray:
        """The normalised parameters u (``P``) a validated action sets in episode ``state``: the action itself, or
        with ``action_mode="from_start"`` clip(u_0 + action_scale x action, -1, 1) around the starting u_0."""
        if self.config.action_mode == "absolute":
            return action
        start = state.theta_start if state.theta_start is not None else state.theta_u
        return np.clip(start + self.config.action_scale * action, -1.0, 1.0).astype(np.float32)

    # -------------------------------------------------------------------------------------------------- evaluation
    def evaluate(self, states: list[EpisodeState], thetas_u: list[np.ndarray]) -> list[dict[str, Any]]:
        """Score normalised parameters for many episodes in one strategy call and one model call (or in chunks of
        ``config.eval_chunk_rows`` sound rows, to bound memory; one generator call per episode with
        ``objective="generator"``): :func:`runners.env.evaluation.evaluate_episodes`.

        Returns, per episode (means over its sound batch): ``distance`` D (channel-weighted), ``fidelity_restored``
        1 - D / D_u, ``fidelity_floored`` 1 - D / max(D_u, FLOOR D_0), ``benefit`` mean (D_u - D) / D_0 (unclipped;
        :mod:`runners.env.reward`), ``band_ratio`` (n_bands), ``loudness_db_spl`` (RMS level of what the listener
        hears), ``loudness_phon`` (its loudness level for the listener), ``discomfort`` (in [0, 1]) and ``theta``
        (physical units).
        """
        return evaluate_episodes(self, states, thetas_u)
