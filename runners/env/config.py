"""Configuration of the hearing-aid fitting environment, from keyword arguments or an RLlib-style ``env_config`` dict.

Every option has a default, so ``HearingAidFittingEnv()`` and ``HearingAidFittingEnv({"strategy": "nalr"})`` both work;
unknown keys and out-of-range values raise :class:`simulator.errors.HearloopInputError` naming the key.
Objects that cannot live in a JSON config (a loaded ``model``, a list of ``listeners``) may be passed too.
``EnvConfig.from_dict(env_config, **overrides)`` (:class:`simulator.validated_config.ValidatedConfig`) takes an
RLlib-style ``env_config`` (an ``EnvContext``'s extra attributes such as ``worker_index`` are not keys and are ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from compensation.generator_objective import OBJECTIVES, MissingGroundTruthError, require_ground_truth
from runners.env.reward import REWARDS
from simulator.data.recording_types import SOUND_CLASSES
from simulator.errors import HearloopInputError
from simulator.validated_config import Interval, Options, Pair, ValidatedConfig
from simulator.validation import SOUND_LEVEL_DB_SPL

PRESENTATIONS: tuple[str, ...] = ("aided", "matched")
"""What the listener hears: the aid's output, or the aid's output at matched loudness (``runners.env.hearing``)."""

AUDIOMETRY: tuple[str, ...] = ("gppta", "true")
"""How the observed audiogram is obtained: a seeded GP-PTA session, or the listener's true neurometric audiogram."""

STARTS: tuple[str, ...] = ("prescription", "neutral", "random")
"""Initial theta: the strategy's prescription from the audiogram estimate, the centre of the box, or uniform."""

ACTION_MODES: tuple[str, ...] = ("absolute", "from_start")
"""What an action sets: the normalised parameters themselves, or an offset from the episode's starting parameters."""

DEFAULT_SOUND_CLASSES: tuple[str, ...] = ("speech", "speech_in_noise", "music", "ripple", "tone")
"""Corpus classes used by default (silence is left out: nothing to restore)."""


_COUNT = [Interval(int, 1, None)]


@dataclass
class EnvConfig(ValidatedConfig):
    """Options of :class:`runners.env.fitting_env.HearingAidFittingEnv` (and of the vector env).

    Attributes:
        strategy: compensation strategy name (``compensation.get_strategy``), one with parameters to fit.
        strategy_kwargs: keyword arguments of the strategy's constructor (e.g. ``{"n_bands": 6}``).
        distance: objective distance, ``"l1"``, ``"l2"`` or ``"kl"`` (``compensation.objective``).
        objective: where fits are scored, ``"model"`` (default: the nu-ICNet at the listener's nu against the NH
            reference) or ``"generator"`` (each listener's virtual-IC animal against its NH twin,
            :mod:`runners.env.scoring`); the generator needs ``listeners`` that carry a ``ground_truth`` (e.g.
            ``runners.ground_truth.training_listeners(model)``), and refuses others with
            :class:`compensation.generator_objective.MissingGroundTruthError`.
        reward: one of :data:`runners.env.reward.REWARDS`: ``"benefit"`` (default: the neural benefit of the current
            fit on a listener-independent scale), ``"fidelity"`` (fidelity restored with a floored denominator) or
            ``"improvement"`` (the benefit's change this step); bounded, see :mod:`runners.env.reward`.
        max_steps: fitting budget: the episode is truncated after this many steps (``gymnasium.make`` also applies
            the registered ``max_episode_steps`` = 30; pass ``max_episode_steps`` there for another budget).
        target_fidelity: terminate once fidelity restored reaches this (a finite number <= 1, where 1 is the normal-
            hearing response; None: never terminate, only truncate).
        loudness_weight: weight w of the comfort term: the reward loses w x the listener's discomfort (0 inside its
            comfort range, 1 at its uncomfortable level; ``compensation.ComfortRange``). 0 switches it off.
        presentation: what the listener hears, one of :data:`PRESENTATIONS`: ``"aided"`` (default: the aid's output)
            or ``"matched"`` (the aid's output scaled so that the listener hears it as loud as normal hearing hears
            the clean sound: the reward then measures what the fit adds beyond loudness).
        n_sounds: sounds per episode (the sound batch every fit is judged on).
        sound_duration_s: duration of every corpus sound, seconds.
        sound_classes: corpus classes to draw from.
        n_per_class: corpus sounds per class.
        corpus_seed: seed of the synthesised corpus (``simulator.data.corpus.make_corpus``).
        level_range_db_spl: presentation levels of the corpus, dB SPL: (low, high) with low <= high, each in
            :data:`simulator.validation.SOUND_LEVEL_DB_SPL` (0-120 dB SPL).
        cohort_size: listeners in the seeded cohort episodes draw from (``listeners.sample_cohort``).
        cohort_seed: seed of that cohort.
        strata: optional severity strata of the cohort, e.g. ``{"mild": 4, "moderate": 4}`` (sums to cohort_size).
        include_nh: False (default): episodes draw only impaired listeners (a drawn listener that is NH in its true
            audiogram and its response, ``listeners.hearing_stratum``, is skipped; ``reset(options=...)`` may still
            name one); True: everyone.
        audiometry: ``"gppta"`` (default) or ``"true"`` (see :data:`AUDIOMETRY`).
        audiometry_trials: GP-PTA trial budget per listener.
        audiometry_seed: seed of the GP-PTA sessions (combined with the listener's identity).
        reference_nu: nu of the NH reference listener (None: ``listeners.nh_reference(model).nu``).
        n_bands: CF bands of the neural error summary.
        start: initial theta, one of :data:`STARTS`.
        action_mode: ``"absolute"`` (default: the action IS the normalised theta u) or ``"from_start"`` (the action
            is an offset from the episode's starting u_0, the prescription by default: u = clip(u_0 + action_scale x
            action, -1, 1), so the zero action keeps the prescription), see :data:`ACTION_MODES`.
        action_scale: the offset of a full-scale ``"from_start"`` action, in units of the normalised box (1: half
            the box, e.g. 35 dB of a -10..60 dB gain); ignored for ``"absolute"``.
        eval_chunk_rows: rows (sound x sub-environment) per strategy/model call. None (default): automatic -- ONE call
            over all sound rows of all (sub-)environments on CUDA, chunks of ``runners.env.core.CPU_CHUNK_ROWS`` rows on
            CPU (one call over many rows is memory-bound there: 64 rows of 0.5 s run at half the per-row speed of 4-row
            chunks, benchmarks/bench_env.py); an integer fixes the rows per call (bounds memory for long sounds).
        model_path: checkpoint directory (None: the bundled model); ignored when ``model`` is given.
        model: an already loaded nu-ICNet (not JSON; for tests and notebooks).
        listeners: an explicit cohort (list of ``listeners.VirtualListener``) instead of a sampled one.
        device: torch device of the model.
        render_mode: None or ``"rgb_array"``.
        disk_cache: keep per-listener measurements (audiogram estimates, true audiograms, unaided distances) on disk
            so that resets onto a listener measured before, in any process, take well under a second
            (:mod:`runners.env.listener_store`).
        cache_dir: folder of that cache (None: ``$HEARLOOP_CACHE_DIR`` or ``~/.cache/hearloop``).
    """

    _config_name: ClassVar[str] = "env option"
    _parameter_constraints: ClassVar[dict[str, list]] = {
        "reward": [Options(REWARDS)],
        "audiometry": [Options(AUDIOMETRY)],
        "start": [Options(STARTS)],
        "action_mode": [Options(ACTION_MODES)],
        "action_scale": [Interval(float, 0.0, 2.0, closed="right")],
        "distance": [Options(("l1", "l2", "kl"))],
        "objective": [Options(OBJECTIVES)],
        **{name: _COUNT for name in ("max_steps", "n_sounds", "n_per_class", "n_bands", "audiometry_trials")},
        "eval_chunk_rows": [None, *_COUNT],
        "sound_duration_s": [Interval(float, 0.05, None, closed="neither")],
        "loudness_weight": [Interval(float, 0.0, None)],
        "presentation": [Options(PRESENTATIONS)],
        "include_nh": [Options((True, False))],
        "disk_cache": [Options((True, False))],
        "target_fidelity": [None, Interval(float, None, 1.0)],
        "level_range_db_spl": [Pair(SOUND_LEVEL_DB_SPL)],
        "render_mode": [None, Options(("rgb_array",))],
    }

    strategy: str = "wdrc"
    strategy_kwargs: dict[str, Any] = field(default_factory=dict)
    distance: str = "l1"
    objective: str = "model"
    reward: str = "benefit"
    max_steps: int = 30
    target_fidelity: float | None = None
    loudness_weight: float = 1.0
    presentation: str = "aided"
    n_sounds: int = 2
    sound_duration_s: float = 0.5
    sound_classes: tuple[str, ...] = DEFAULT_SOUND_CLASSES
    n_per_class: int = 4
    corpus_seed: int = 0
    level_range_db_spl: tuple[float, float] = (50.0, 80.0)
    cohort_size: int = 16
    cohort_seed: int = 0
    strata: dict[str, int] | None = None
    include_nh: bool = False
    audiometry: str = "gppta"
    audiometry_trials: int = 20
    audiometry_seed: int = 0
    reference_nu: Sequence[float] | None = None
    n_bands: int = 6
    start: str = "prescription"
    action_mode: str = "absolute"
    action_scale: float = 0.5
    eval_chunk_rows: int | None = None
    model_path: str | None = None
    model: Any = None
    listeners: Sequence[Any] | None = None
    device: str = "cpu"
    render_mode: str | None = None
    disk_cache: bool = True
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        self.sound_classes = tuple(self.sound_classes)
        self.strategy_kwargs = dict(self.strategy_kwargs or {})
        self.validate()
        self.level_range_db_spl = (float(self.level_range_db_spl[0]), float(self.level_range_db_spl[1]))

    def validate(self) -> None:
        """Raise :class:`HearloopInputError` naming the first bad option (declared constraints first)."""
        self.validate_parameters()
        if self.listeners is None and (not isinstance(self.cohort_size, int) or self.cohort_size < 1):
            raise HearloopInputError(f"env option cohort_size must be an integer >= 1, got {self.cohort_size!r}")
        unknown = sorted(set(self.sound_classes) - set(SOUND_CLASSES))
        if unknown or not self.sound_classes:
            raise HearloopInputError(f"env option sound_classes must be a non-empty subset of {SOUND_CLASSES}")
        if self.sound_classes == ("silence",):
            raise HearloopInputError("env option sound_classes: silence alone leaves nothing to restore")
        if self.n_sounds > self.n_per_class * len(self.sound_classes):
            raise HearloopInputError(
                f"env option n_sounds={self.n_sounds} exceeds the corpus size "
                f"{self.n_per_class} x {len(self.sound_classes)} classes"
            )
        if self.listeners is not None and len(self.listeners) == 0:
            raise HearloopInputError("env option listeners must not be empty")
        if self.objective == "generator":
            if self.listeners is None:
                raise MissingGroundTruthError(
                    "env option objective='generator' scores virtual-IC animals; a cohort sampled from the model's "
                    "nu population carries no ground truth: pass listeners that do "
                    "(runners.ground_truth.training_listeners)"
                )
            require_ground_truth(self.listeners)
