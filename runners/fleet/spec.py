"""Fleet run specifications: a TOML file naming the cohort, the pipeline, strategies, sounds, metrics and engine.

A spec is parsed strictly: every section and key is known, every value has the documented type, files exist, and
every field has a default (the empty spec is valid and is the default cohort that ``hearloop fleet`` runs). Errors are
:class:`simulator.errors.SpecError` naming the key path, e.g. ``spec.cohort.n: expected int, got str``.

    spec = load_spec("cohort.toml")    # or load_spec(None): the default spec
    spec.cohort.n, spec.hitl.budget, spec.to_dict(), spec.to_toml()

The section dataclasses below are the one source of every default and its meaning: ``hearloop fleet --describe`` and
``runners/assets/fleet-default.toml`` are both generated from them (:mod:`runners.fleet.spec_docs`). Sections:
``[run]``, ``[model]``, ``[cohort]``, ``[pipeline]``, ``[audiometry]``, ``[strategies]``, ``[hitl]``, ``[sounds]``,
``[evaluation]``, ``[engine]``, ``[report]``, ``[regress]``.
"""

# ruff: noqa: RUF009  (entry returns dataclasses.field(default_factory=...) for list / dict defaults)
from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from pathlib import Path
from typing import Any

import tomllib

from runners.fleet.spec_checks import (
    AUDIOMETRY_FREQ_HZ,
    RESPONSE_RATE,
    RUN_NAME,
    SD_DB,
    SEED,
    TOLERANCE,
    check_cohort,
    check_freqs,
)
from runners.fleet.toml_fields import entry, parse_section, section_fields, type_name
from simulator.errors import MissingFileError, SpecError
from simulator.severity import STRATA
from simulator.validated_config import Interval, Options
from simulator.validation import SOUND_LEVEL_DB_SPL

DEFAULT_SPEC_PATH = Path(__file__).resolve().parent.parent / "assets" / "fleet-default.toml"
"""The default spec written out with every key (generated; ``hearloop fleet`` with no arguments runs it)."""

PIPELINE_STEPS: tuple[str, ...] = ("audiometry", "prescription", "hitl", "evaluation")
"""Per-listener pipeline steps, in execution order."""

DISTANCES: tuple[str, ...] = ("l1", "l2", "kl")
"""Neural-fidelity distances of :class:`compensation.objective.NeuralFidelityObjective`."""

KNOWN_STRATEGIES: tuple[str, ...] = ("nalr", "multiband", "wdrc", "dnn")
"""Strategies a fleet can prescribe and evaluate (``unaided`` is always the reference)."""

STRATUM_NAMES: tuple[str, ...] = tuple(STRATA)
"""Severity strata a cohort can ask for: :data:`simulator.severity.STRATA` (a leaf module: no model import)."""


@dataclasses.dataclass
class RunSection:
    name: str = entry("default-cohort", RUN_NAME, "run name; the run directory is <out_dir>/<name>-<timestamp>")
    seed: int = entry(0, SEED, "master seed: every job's seeds derive from (seed, listener index)")
    out_dir: str = entry("runs/fleet", doc="parent directory of run directories")


@dataclasses.dataclass
class ModelSection:
    path: str = entry("", doc='checkpoint directory, relative to the spec file; "" = the bundled nu-ICNet')
    device: str = entry("cpu", Options(("cpu", "cuda", "auto")), "torch device of the workers: cpu | cuda | auto")
    threads: int = entry(
        1, Interval(int, 1, 256), "torch threads per worker (fixed, so every engine computes the same numbers)"
    )


@dataclasses.dataclass
class CohortSection:
    n: int = entry(
        8, Interval(int, 1, None), "listeners drawn from the model's population of learned nu (not with 'file')"
    )
    seed: int = entry(0, SEED, "seed of the cohort draw (listeners.sample_cohort)")
    strata: dict[str, int] = entry(
        {},
        doc="listeners per severity stratum instead, e.g. { NH = 2, mild = 2, moderate = 2, severe = 2 } "
        "(NH, slight, mild, moderate, severe; sets n); slower: candidates are screened by neurometric PTA",
    )
    file: str = entry("", doc='an explicit cohort TOML (listeners.save_cohort), relative to the spec file; "" = draw')
    sigma_db: float = entry(5.0, SD_DB, "tone-response noise of the virtual listeners (psychometric SD, dB)")
    lapse_rate: float = entry(0.02, RESPONSE_RATE, "probability of a missed tone that was heard")
    false_alarm_rate: float = entry(0.01, RESPONSE_RATE, "probability of a yes to an inaudible tone")


@dataclasses.dataclass
class PipelineSection:
    steps: list[str] = entry(
        list(PIPELINE_STEPS), doc="steps to run: a subset of audiometry, prescription, hitl, evaluation, in that order"
    )
    prescribe_from: str = entry(
        "estimate",
        Options(("estimate", "truth")),
        "estimate (the measured audiogram) | truth (the neurometric audiogram)",
    )


@dataclasses.dataclass
class AudiometrySection:
    method: str = entry("gppta", Options(("gppta", "hw")), "gppta (GP-PTA) | hw (modified Hughson-Westlake)")
    max_trials: int = entry(
        40, Interval(int, 1, 1000), "trial cap per listener (a session stopped by it is flagged in the report)"
    )
    target_sd: float = entry(
        3.0,
        Interval(float, 0.0, None, closed="neither"),
        "gppta: stop when the posterior SD is below this everywhere (dB; a large value stops at the 8-trial minimum)",
    )
    freqs_hz: list[float] = entry(
        [250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0],
        AUDIOMETRY_FREQ_HZ,
        "audiogram frequencies (Hz); with a prescription they span 500-2000 Hz (NAL-R's three-frequency average)",
    )


@dataclasses.dataclass
class StrategiesSection:
    names: list[str] = entry(["nalr", "multiband", "wdrc"], doc="nalr, multiband, wdrc, dnn; unaided is the reference")


@dataclasses.dataclass
class HITLSection:
    strategy: str = entry(
        "wdrc", Options(KNOWN_STRATEGIES[:3]), "strategy fine-tuned by the session: nalr | multiband | wdrc"
    )
    mode: str = entry(
        "pairwise", Options(("pairwise", "rating")), "pairwise (PairwiseGP + EUBO) | rating (0-100 ratings)"
    )
    budget: int = entry(
        20,
        Interval(int, 1, 1000),
        "comparisons / ratings per listener (published anchors for preference fitting: 10-25)",
    )
    tune: str = entry(
        "bands:3",
        doc="what is tuned: 'bands:N' (band gains in N groups: 3 = bass / mid / treble), 'gains', "
        "'all' or comma-separated parameter names",
    )
    radius: float = entry(
        0.5,
        Interval(float, 0.0, 2.0, closed="right"),
        "search half-width around the prescription (normalised units, box [-1, 1])",
    )
    oracle_restarts: int = entry(
        2, Interval(int, 1, 100), "starts of the gradient-descent oracle (the prescription + Sobol points)"
    )
    oracle_steps: int = entry(25, Interval(int, 0, 10000), "Adam steps per oracle start")
    n_sounds: int = entry(
        1, Interval(int, 1, 1000), "tuning sounds the listener judges (the [sounds] classes, drawn with sound_seed)"
    )
    sound_seed: int = entry(1, SEED, "must differ from [sounds] seed: tuning and evaluation sounds are disjoint")


@dataclasses.dataclass
class SoundsSection:
    classes: list[str] = entry(
        ["speech", "speech_in_noise"], doc="synthetic corpus classes: speech, speech_in_noise, music, ripple, tone"
    )
    n_per_class: int = entry(1, Interval(int, 1, 1000), "sounds per class")
    duration_s: float = entry(0.5, Interval(float, 0.05, 60.0), "duration of every sound (s)")
    level_db_spl: float = entry(65.0, SOUND_LEVEL_DB_SPL, "presentation level (dB SPL)")
    seed: int = entry(0, SEED, "corpus seed")


@dataclasses.dataclass
class EvaluationSection:
    distance: str = entry(
        "l1", Options(DISTANCES), "l1 | l2 | kl: the HITL objective and the reported fidelity restored"
    )
    extra_distances: list[str] = entry(
        ["kl"], doc="also reported (metrics fidelity_restored_kl, ...); a default entry equal to distance is dropped"
    )


@dataclasses.dataclass
class EngineSection:
    kind: str = entry("local", Options(("local", "ray")), "local (in-process / process pool) | ray")
    workers: int = entry(2, Interval(int, 0, 1024), "local: processes (0 = in-process); ray: actors")
    address: str = entry("", doc='ray: join this cluster (e.g. "auto"); "" starts a local one')
    num_cpus: float = entry(1.0, Interval(float, 0.0, 1024.0), "ray: CPUs per actor")
    num_gpus: float = entry(0.0, Interval(float, 0.0, 64.0), "ray: GPUs per actor (> 0 puts the model on the GPU)")
    retries: int = entry(
        2, Interval(int, 0, 100), "retries of a failed job (on a fresh worker) before failures.json lists it"
    )
    timeout_s: float = entry(
        3600.0,
        Interval(float, 0.0, None, closed="neither"),
        "longest wait for a worker to start or a job to finish (s); past it the run stops with a named error",
    )


@dataclasses.dataclass
class ReportSection:
    enabled: bool = entry(True, doc="write report.md and plots/ after the run")
    neurogram: bool = entry(True, doc="include a neurogram example (recomputed with the model)")


@dataclasses.dataclass
class RegressSection:
    tolerances: dict[str, dict[str, float]] = entry(
        {},
        doc="per-metric overrides of runners/fleet/regress.py's tolerances, e.g. { audiogram_mae_db = { abs = 0.5 } }",
    )


@dataclasses.dataclass
class FleetSpec:
    """A validated fleet spec; ``source`` is the spec file (None for dicts / the default)."""

    run: RunSection = dataclasses.field(default_factory=RunSection)
    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    cohort: CohortSection = dataclasses.field(default_factory=CohortSection)
    pipeline: PipelineSection = dataclasses.field(default_factory=PipelineSection)
    audiometry: AudiometrySection = dataclasses.field(default_factory=AudiometrySection)
    strategies: StrategiesSection = dataclasses.field(default_factory=StrategiesSection)
    hitl: HITLSection = dataclasses.field(default_factory=HITLSection)
    sounds: SoundsSection = dataclasses.field(default_factory=SoundsSection)
    evaluation: EvaluationSection = dataclasses.field(default_factory=EvaluationSection)
    engine: EngineSection = dataclasses.field(default_factory=EngineSection)
    report: ReportSection = dataclasses.field(default_factory=ReportSection)
    regress: RegressSection = dataclasses.field(default_factory=RegressSection)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (TOML / JSON ready)."""
        return {f.name: dataclasses.asdict(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    def digest(self) -> str:
        """sha256 of the canonical JSON of the spec (what the results depend on: ``run.out_dir``, the engine
        placement, the report and the regression tolerances are excluded, so a resumed run may use another engine
        and a baseline stays valid when only its tolerances change)."""
        d = self.to_dict()
        d["run"].pop("out_dir")
        for section in ("engine", "report", "regress"):
            d.pop(section)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    @property
    def hitl_enabled(self) -> bool:
        return "hitl" in self.pipeline.steps


def _check_tune(strategy: str, tune: str) -> None:
    """``hitl.tune`` must name parameters of ``hitl.strategy`` (checked now, not when the first job starts)."""
    from compensation import get_strategy
    from runners.hitl.problem import parse_tune, select_tuned
    from simulator.errors import HearloopInputError

    names = get_strategy(strategy).param_names
    try:
        select_tuned(names, parse_tune(tune, names))
    except HearloopInputError as err:
        raise SpecError(f"spec.hitl.tune: {err}") from err


def _check_consistency(spec: FleetSpec, given: dict[str, Any], base_dir: Path | None, stored: bool = False) -> None:
    """Cross-field rules (each error names the key)."""
    steps = spec.pipeline.steps
    for i, step in enumerate(steps):
        if step not in PIPELINE_STEPS:
            raise SpecError(f"spec.pipeline.steps[{i}]: unknown step {step!r}; expected a subset of {PIPELINE_STEPS}")
    if len(set(steps)) != len(steps):
        raise SpecError(f"spec.pipeline.steps: duplicate steps in {steps}")
    for step in ("hitl", "evaluation"):
        if step in steps and "prescription" not in steps:
            raise SpecError(f"spec.pipeline.steps: {step!r} needs the 'prescription' step")
    if spec.pipeline.prescribe_from == "estimate" and "prescription" in steps and "audiometry" not in steps:
        raise SpecError("spec.pipeline.prescribe_from: 'estimate' needs the 'audiometry' step (or use 'truth')")
    for i, name in enumerate(spec.strategies.names):
        if name not in KNOWN_STRATEGIES:
            raise SpecError(f"spec.strategies.names[{i}]: unknown strategy {name!r}; known: {KNOWN_STRATEGIES}")
    if len(set(spec.strategies.names)) != len(spec.strategies.names):
        raise SpecError("spec.strategies.names: duplicate strategies")
    if "extra_distances" not in given.get("evaluation", {}):  # the default list never repeats the main distance
        ev = spec.evaluation
        ev.extra_distances = [d for d in ev.extra_distances if d != ev.distance]
    for i, name in enumerate(spec.evaluation.extra_distances):
        if name not in DISTANCES or name == spec.evaluation.distance:
            raise SpecError(f"spec.evaluation.extra_distances[{i}]: {name!r} is not one of {DISTANCES} other than "
                            f"spec.evaluation.distance")  # fmt: skip
    from simulator.data.recording_types import SOUND_CLASSES

    for i, cls in enumerate(spec.sounds.classes):
        if cls not in SOUND_CLASSES or cls == "silence":
            raise SpecError(f"spec.sounds.classes[{i}]: unknown sound class {cls!r}; known: {SOUND_CLASSES[:-1]}")
    if not spec.sounds.classes:
        raise SpecError("spec.sounds.classes: needs at least one class")
    if "hitl" in steps and spec.hitl.sound_seed == spec.sounds.seed:
        raise SpecError("spec.hitl.sound_seed: must differ from spec.sounds.seed (tuning sounds are never evaluated)")
    if "hitl" in steps:
        _check_tune(spec.hitl.strategy, spec.hitl.tune)
    check_freqs(spec)
    if not stored:
        check_cohort(spec, given.get("cohort", {}), base_dir)
    if spec.model.path:
        path = Path(spec.model.path)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not (path / "config.json").is_file():
            raise SpecError(f"spec.model.path: {str(path)!r} is not a checkpoint directory (no config.json)")
        spec.model.path = str(path.resolve())
    for metric, tol in spec.regress.tolerances.items():
        for key, value in tol.items():
            if key not in ("abs", "rel"):
                raise SpecError(f"spec.regress.tolerances.{metric}.{key}: unknown key (known: abs, rel)")
            if value not in TOLERANCE:
                raise SpecError(f"spec.regress.tolerances.{metric}.{key}: must be {TOLERANCE}, got {value!r}")


def parse_spec(data: dict[str, Any], base_dir: str | Path | None = None, *, stored: bool = False) -> FleetSpec:
    """Validate a spec given as a nested dict (parsed TOML). Relative paths resolve against ``base_dir``.

    ``stored``: the spec as a run manifest records it (every key written out, the cohort already drawn into the
    manifest's jobs), so the cohort keys a file excludes may all be present and the cohort file need not exist."""
    if not isinstance(data, dict):
        raise SpecError(f"spec: expected table, got {type_name(data)}")
    fields = {f.name: f for f in dataclasses.fields(FleetSpec)}
    hints = typing.get_type_hints(FleetSpec)
    sections = {}
    for key, value in data.items():
        if key not in fields:
            raise SpecError(f"spec.{key}: unknown section (known: {', '.join(fields)})")
        sections[key] = parse_section(hints[key], value, f"spec.{key}")
    spec = FleetSpec(**sections)
    _check_consistency(spec, data, Path(base_dir) if base_dir is not None else None, stored)
    return spec


def load_spec(path: str | Path | None = None) -> FleetSpec:
    """Load and validate a TOML spec file (None: the default spec, every key at its default; the file
    :data:`DEFAULT_SPEC_PATH` is generated from these defaults by :mod:`runners.fleet.spec_docs`).

    Raises:
        SpecError: malformed TOML, unknown key, wrong type or value, missing cohort / model file (the message names
            the key path).
        FileNotFoundError: the spec file itself does not exist.
    """
    if path is None:
        return parse_spec({})
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"spec file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"spec: {path} is not valid TOML: {err}") from err
    return parse_spec(data, base_dir=path.resolve().parent)


def spec_from_toml(text: str, base_dir: str | Path | None = None) -> FleetSpec:
    """Parse and validate spec TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"spec: not valid TOML: {err}") from err
    return parse_spec(data, base_dir=base_dir)


def key_constraint(section: str, key: str) -> Any:
    """The values spec key ``[section] key`` accepts (a :mod:`simulator.validated_config` constraint, or None)."""
    return section_fields(FleetSpec)[section][key].metadata.get("constraint")
