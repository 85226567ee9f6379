"""The per-listener fleet pipeline: audiometry -> prescription -> HITL fitting -> evaluation.

For one virtual listener (a nu-ICNet conditioning, interface B) a job

1. **audiometry**: measures the audiogram with GP-PTA ([CoxDeVries2015]_; or Hughson-Westlake) through the listener's
   neurometric responder ``listener.respond`` (seeded), and compares it with the neurometric truth
   ``listener.audiogram(freqs)`` (mean absolute error, dB);
2. **prescription**: each strategy's ``prescribe(audiogram)`` (NAL-R, Byrne & Dillon 1986; multiband; WDRC) from the
   GP-PTA estimate (or the truth, ``pipeline.prescribe_from``);
3. **hitl**: fine-tunes one strategy from the listener's A/B preferences or ratings (:func:`runners.hitl` session
   against the gradient-descent oracle) on its own tuning sounds (``[hitl] sound_seed``, never evaluated), within the
   listener's comfort limit (its loudness model from its true audiogram);
4. **evaluation**: every strategy on the evaluation sounds as the listener hears it (comfort-limited), at matched
   loudness and against the volume-control baseline (:mod:`runners.fleet.evaluation`).

A job returns a tidy table (:data:`COLUMNS`), one value per row. Metrics by step (units in brackets):

* audiometry: ``threshold_estimate_db_hl``, ``threshold_sd_db``, ``threshold_true_db_hl`` (per ``freq_hz``),
  ``audiogram_mae_db``, ``n_trials``, ``stopped_by_trial_cap`` (1: ``audiometry.max_trials`` ended the session before
  the procedure's own stopping rule; 0: it finished), ``pta_true_db_hl``;
* prescription: ``audiogram_db_hl`` (per ``freq_hz``: the audiogram the formulas saw, clipped to the audiometer's
  range by :func:`compensation.population.clinical_audiogram`), ``theta0`` (per ``strategy`` and ``param``, physical
  units);
* hitl: per ``query``: ``objective_of_incumbent``, ``fraction_of_oracle``, ``fidelity_of_incumbent``; and
  ``objective_start``, ``objective_best``, ``oracle_objective``, ``fraction_of_oracle_reached``, ``queries_to_90``
  (NaN if not reached), ``theta_best`` (per ``param``), ``loudness_phon_start`` and ``loudness_phon`` (the listener's
  loudness of its loudest tuning sound at the prescription and at the delivered setting), ``above_comfort_phon``
  (delivered loudness minus the comfort limit; never above 0.05), ``output_gain_db`` (the comfort trim),
  ``at_edge`` (per tuned coordinate in ``param``: 1 if it ended on the edge of the search box), ``n_at_edge``, and
  ``tuning_sound`` (per ``sound``: the sounds the session used);
* comfort and evaluation: see :mod:`runners.fleet.evaluation`. The HITL-tuned aid appears as strategy
  ``"<name>+hitl"``, the volume-control baseline as ``"volume control"``.

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from runners.fleet.evaluation import evaluate_listener, nh_animal_distances, record_comfort
from runners.fleet.jobs import Job, load_spec_model
from runners.fleet.spec import FleetSpec

COLUMNS: tuple[str, ...] = (
    "job", "listener", "stratum", "step", "metric", "strategy", "param", "sound", "freq_hz", "query", "value",
)  # fmt: skip
"""Columns of a job's result table (empty string / NaN / -1 where a key does not apply)."""


class Rows:
    """Accumulates tidy result rows of one job."""

    def __init__(self, job: str, listener: str) -> None:
        self.job, self.listener, self.stratum = job, listener, ""
        self._rows: list[tuple] = []

    def add(
        self,
        step: str,
        metric: str,
        value: float,
        *,
        strategy: str = "",
        param: str = "",
        sound: str = "",
        freq_hz: float = math.nan,
        query: int = -1,
    ) -> None:
        v = math.nan if value is None else float(value)
        self._rows.append((step, metric, strategy, param, sound, float(freq_hz), int(query), v))

    def columns(self) -> dict[str, list]:
        out: dict[str, list] = {c: [] for c in COLUMNS}
        for step, metric, strategy, param, sound, freq, query, value in self._rows:
            for key, v in zip(COLUMNS[:3], (self.job, self.listener, self.stratum), strict=True):
                out[key].append(v)
            for key, v in zip(COLUMNS[3:], (step, metric, strategy, param, sound, freq, query, value), strict=True):
                out[key].append(v)
        return out


def make_sounds(spec: FleetSpec) -> tuple[torch.Tensor, list[str]]:
    """The spec's sounds: ``S x samples`` float32 Pa (seeded corpus classes at one level) and their names."""
    from simulator.data.corpus import synthesise

    s = spec.sounds
    audio, names = [], []
    for ci, cls in enumerate(s.classes):
        for i in range(s.n_per_class):
            audio.append(synthesise(cls, [s.seed, ci, i], s.duration_s, s.level_db_spl).audio)
            names.append(f"{cls}_{i:02d}")
    return torch.tensor(np.stack(audio)), names


def make_tuning_sounds(spec: FleetSpec) -> tuple[torch.Tensor, list[str]]:
    """The HITL tuning sounds: ``hitl.n_sounds`` sounds of the ``[sounds]`` classes in turn, drawn with
    ``hitl.sound_seed`` (which differs from ``sounds.seed``), so no tuning sound is an evaluation sound."""
    from simulator.data.corpus import synthesise

    s, h = spec.sounds, spec.hitl
    audio, names = [], []
    for k in range(h.n_sounds):
        ci, i = k % len(s.classes), k // len(s.classes)
        audio.append(synthesise(s.classes[ci], [h.sound_seed, ci, i], s.duration_s, s.level_db_spl).audio)
        names.append(f"tune_{s.classes[ci]}_{i:02d}")
    return torch.tensor(np.stack(audio)), names


class FleetWorker:
    """The default worker factory: built once per worker (model, NH reference, targets, strategies), then called
    once per job: ``FleetWorker(spec)(job) -> {column: list}``."""

    def __init__(self, spec: FleetSpec) -> None:
        from compensation import get_strategy
        from compensation.objective import NeuralFidelityObjective
        from listeners import nh_reference

        torch.set_num_threads(spec.model.threads)
        self.spec = spec
        self.model = load_spec_model(spec)
        self.device = next(self.model.parameters()).device
        self.reference = nh_reference(self.model)
        self.objective = NeuralFidelityObjective(self.model, self.reference.nu, distance=spec.evaluation.distance)
        sounds, self.sound_names = make_sounds(spec)
        self.sounds = sounds.to(self.device)
        self.target = self.objective.target(self.sounds)
        self.nh_animal_d_unaided = nh_animal_distances(self.objective, self.model, self.sounds, self.target)
        self.metrics = {"": (self.objective, self.target)}  # metric-name suffix -> (objective, NH target)
        for name in spec.evaluation.extra_distances:
            extra = NeuralFidelityObjective(self.model, self.reference.nu, distance=name)
            self.metrics[f"_{name}"] = (extra, extra.target(self.sounds))
        names = ["unaided", *spec.strategies.names]
        if spec.hitl_enabled and spec.hitl.strategy not in names:
            names.append(spec.hitl.strategy)
        if spec.hitl_enabled:
            tuning, self.tuning_names = make_tuning_sounds(spec)
            self.tuning_sounds = tuning.to(self.device)
        self.strategies = {name: get_strategy(name).to(self.device) for name in names}

    # ------------------------------------------------------------------------------------------------------- steps
    def __call__(self, job: Job) -> dict[str, list]:
        from linear_operator.utils.warnings import NumericalWarning

        with warnings.catch_warnings():
            # GP fits on a handful of points routinely need diagonal jitter; that is expected, not news
            warnings.simplefilter("ignore", NumericalWarning)
            return self._run(job)

    def _run(self, job: Job) -> dict[str, list]:
        from compensation import ListenerComfort
        from listeners import VirtualListener, listener_stratum

        spec = self.spec
        lis = VirtualListener(
            job.listener.id,
            np.asarray(job.listener.nu),
            self.model,
            hours=job.listener.hours,
            sigma_db=spec.cohort.sigma_db,
            lapse_rate=spec.cohort.lapse_rate,
            false_alarm_rate=spec.cohort.false_alarm_rate,
            reference=self.reference,
        )
        rows = Rows(job.id, lis.id)
        freqs = np.asarray(spec.audiometry.freqs_hz, dtype=float)
        truth = np.asarray(lis.thresholds(freqs), dtype=float)
        rows.stratum = listener_stratum(lis)
        steps = spec.pipeline.steps
        audiogram = {float(f): float(t) for f, t in zip(freqs, truth, strict=True)}
        if "audiometry" in steps:
            estimate = self._audiometry(lis, job, freqs, truth, rows)
            if spec.pipeline.prescribe_from == "estimate":
                audiogram = estimate
        if "prescription" not in steps:
            return rows.columns()
        thetas = self._prescribe(lis, audiogram, rows)
        # the listener's own perception: its loudness model from its true audiogram
        comfort = ListenerComfort.from_audiogram({float(f): float(t) for f, t in zip(freqs, truth, strict=True)})
        trims: dict[str, float] = {}
        if "hitl" in steps:
            name = spec.hitl.strategy
            thetas[f"{name}+hitl"], trims[f"{name}+hitl"] = self._hitl(lis, job, thetas[name], comfort, rows)
        if "evaluation" in steps:
            record_comfort(comfort, self.sounds, self.sound_names, rows)
            self._evaluate(lis, thetas, trims, comfort, rows)
        return rows.columns()

    def _audiometry(self, lis: Any, job: Job, freqs: np.ndarray, truth: np.ndarray, rows: Rows) -> dict[float, float]:
        import audiometry

        a = self.spec.audiometry
        if a.method == "gppta":
            agent = audiometry.GPPTA(
                seed=job.seeds["audiometry"], sigma=self.spec.cohort.sigma_db, max_trials=a.max_trials,
                target_sd=a.target_sd,
            )  # fmt: skip
        else:
            agent = audiometry.HughsonWestlake(seed=job.seeds["audiometry"])
        session = audiometry.run_session(
            agent, lis, rng=np.random.default_rng(job.seeds["responses"]), max_trials=a.max_trials,
            eval_freqs_hz=tuple(freqs),
        )  # fmt: skip
        mean, sd = session.means[-1], session.sds[-1]
        for f, m, s, t in zip(freqs, mean, sd, truth, strict=True):
            rows.add("audiometry", "threshold_estimate_db_hl", m, freq_hz=f)
            rows.add("audiometry", "threshold_sd_db", s, freq_hz=f)
            rows.add("audiometry", "threshold_true_db_hl", t, freq_hz=f)
        rows.add("audiometry", "audiogram_mae_db", float(np.mean(np.abs(mean - truth))))
        rows.add("audiometry", "n_trials", len(session.trials))
        rows.add("audiometry", "stopped_by_trial_cap", 0.0 if session.finished else 1.0)
        rows.add("audiometry", "pta_true_db_hl", float(lis.pta()))
        return {float(f): float(m) for f, m in zip(freqs, mean, strict=True)}

    def _prescribe(self, lis: Any, audiogram: dict[float, float], rows: Rows) -> dict[str, torch.Tensor | None]:
        # A clinical audiogram lives on the audiometer's scale: thresholds below its floor (supra-normal virtual
        # listeners) are recorded at the floor, as an audiologist would, before a fitting formula sees them.
        from compensation.population import clinical_audiogram

        audiogram = clinical_audiogram(audiogram)
        for f, v in audiogram.items():
            rows.add("prescription", "audiogram_db_hl", v, freq_hz=f)
        thetas: dict[str, torch.Tensor | None] = {}
        for name, strategy in self.strategies.items():
            if strategy.n_params == 0:
                thetas[name] = None
                continue
            theta = torch.as_tensor(strategy.prescribe_for(audiogram, lis.nu), dtype=torch.float32).reshape(-1)
            thetas[name] = theta
            for pname, v in zip(strategy.param_names, theta.tolist(), strict=True):
                rows.add("prescription", "theta0", v, strategy=name, param=pname)
        return thetas

    def _hitl(self, lis: Any, job: Job, theta0: torch.Tensor, comfort: Any, rows: Rows) -> tuple[torch.Tensor, float]:
        """The HITL session on the tuning sounds; returns the delivered theta and its output trim (dB)."""
        from runners.hitl import make_problem, oracle_optimum, parse_tune, run_session

        h = self.spec.hitl
        strategy = self.strategies[h.strategy]
        problem = make_problem(
            lis, strategy, self.tuning_sounds, theta0, objective=self.objective,
            tune=parse_tune(h.tune, strategy.param_names), radius=h.radius, comfort=comfort,
        )  # fmt: skip
        seed = job.seeds["hitl"]
        oracle = oracle_optimum(problem, restarts=h.oracle_restarts, steps=h.oracle_steps, seed=seed)
        res = run_session(problem, mode=h.mode, budget=h.budget, seed=seed, oracle=oracle)
        for row in res.trace:
            q = int(row["query"])
            rows.add("hitl", "objective_of_incumbent", row["objective_of_incumbent"], strategy=h.strategy, query=q)
            rows.add("hitl", "fraction_of_oracle", row["fraction_of_oracle"], strategy=h.strategy, query=q)
            rows.add("hitl", "fidelity_of_incumbent", row["quality_of_incumbent"], strategy=h.strategy, query=q)
        q90 = res.queries_to(0.9)
        for metric, value in (
            ("objective_start", res.objective_start),
            ("objective_best", res.objective_best),
            ("oracle_objective", res.oracle_objective),
            ("fraction_of_oracle_reached", res.fraction_of_oracle_reached),
            ("queries_to_90", math.nan if q90 is None else q90),
            ("loudness_phon_start", res.info["loudness_phon_start"]),
            ("loudness_phon", res.loudness_phon),
            ("above_comfort_phon", res.above_comfort_phon),
            ("output_gain_db", res.output_gain_db),
            ("n_at_edge", len(res.at_edge)),
        ):
            rows.add("hitl", metric, value, strategy=h.strategy)
        for coordinate in res.param_names:
            rows.add("hitl", "at_edge", float(coordinate in res.at_edge), strategy=h.strategy, param=coordinate)
        for sound in self.tuning_names:
            rows.add("hitl", "tuning_sound", 1.0, strategy=h.strategy, sound=sound)
        theta_best = torch.as_tensor(np.asarray(res.theta_best), dtype=torch.float32).reshape(-1)
        for pname, v in zip(strategy.param_names, theta_best.tolist(), strict=True):
            rows.add("hitl", "theta_best", v, strategy=h.strategy, param=pname)
        return theta_best, res.output_gain_db

    @torch.no_grad()
    def _evaluate(
        self, lis: Any, thetas: dict[str, torch.Tensor | None], trims: dict[str, float], comfort: Any, rows: Rows
    ) -> None:
        """Every strategy's output (with the HITL fit's trim) scored by :func:`runners.fleet.evaluation
        .evaluate_listener`."""
        aided = {}
        for name, theta in thetas.items():
            if name != "unaided":
                t = None if theta is None else theta.to(self.device)
                out = self.strategies[name.removesuffix("+hitl")](self.sounds, t)
                aided[name] = out * 10.0 ** (trims.get(name, 0.0) / 20.0)
        evaluate_listener(self, lis.nu_tensor().to(self.device), aided, comfort, rows)
