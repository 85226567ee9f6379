"""Bad fleet specs: every numeric key has a documented range, checked while the spec is parsed, and the SpecError
names the key (``spec.<section>.<key>``) before a model is loaded, a cohort drawn or a run directory written."""

from __future__ import annotations

import pytest

from runners.fleet.spec import spec_from_toml
from runners.fleet.spec_docs import describe_fields
from simulator.errors import SpecError

BAD_SPECS = [
    # [run]
    ('[run]\nname = "../../escape"', "spec.run.name"),
    ('[run]\nname = "/abs/olute"', "spec.run.name"),
    ('[run]\nname = ".hidden"', "spec.run.name"),
    ('[run]\nname = ""', "spec.run.name"),
    ('[run]\nname = "a/b"', "spec.run.name"),
    ("[run]\nseed = -1", "spec.run.seed"),
    ("[run]\nseed = 1.5", "spec.run.seed"),
    # [model]
    ("[model]\nthreads = 0", "spec.model.threads"),
    ("[model]\nthreads = 100000", "spec.model.threads"),
    ('[model]\ndevice = "tpu"', "spec.model.device"),
    # [cohort]
    ("[cohort]\nn = 0", "spec.cohort.n"),
    ("[cohort]\nn = -4", "spec.cohort.n"),
    ("[cohort]\nn = 1e9", "spec.cohort.n"),
    ("[cohort]\nn = 1000000000000", "spec.cohort.n"),  # checked against the available memory before drawing
    ("[cohort]\nseed = -3", "spec.cohort.seed"),
    ("[cohort]\nsigma_db = inf", "spec.cohort.sigma_db"),
    ("[cohort]\nsigma_db = nan", "spec.cohort.sigma_db"),
    ("[cohort]\nsigma_db = 0", "spec.cohort.sigma_db"),
    ("[cohort]\nsigma_db = -5", "spec.cohort.sigma_db"),
    ("[cohort]\nlapse_rate = 0.7", "spec.cohort.lapse_rate"),
    ("[cohort]\nlapse_rate = -0.1", "spec.cohort.lapse_rate"),
    ("[cohort]\nfalse_alarm_rate = nan", "spec.cohort.false_alarm_rate"),
    ("[cohort]\nfalse_alarm_rate = 0.5", "spec.cohort.false_alarm_rate"),
    ("[cohort]\nstrata = {NH = -1, mild = 2}", "spec.cohort.strata.NH"),
    ("[cohort]\nstrata = {deaf = 2}", "spec.cohort.strata.deaf"),
    # [audiometry]
    ("[audiometry]\ntarget_sd = 0", "spec.audiometry.target_sd"),
    ("[audiometry]\ntarget_sd = -1.0", "spec.audiometry.target_sd"),
    ("[audiometry]\ntarget_sd = inf", "spec.audiometry.target_sd"),
    ("[audiometry]\nmax_trials = 0", "spec.audiometry.max_trials"),
    ("[audiometry]\nmax_trials = 10000000", "spec.audiometry.max_trials"),
    ("[audiometry]\nfreqs_hz = [1000.0, 2000.0, 4000.0]", "spec.audiometry.freqs_hz"),  # no 500 Hz: no NAL-R 3FA
    ("[audiometry]\nfreqs_hz = [250.0, 500.0, 1000.0]", "spec.audiometry.freqs_hz"),  # no 2000 Hz
    ("[audiometry]\nfreqs_hz = [500.0, 1000.0, 1000.0, 2000.0]", "spec.audiometry.freqs_hz"),
    ("[audiometry]\nfreqs_hz = []", "spec.audiometry.freqs_hz"),
    ("[audiometry]\nfreqs_hz = [500.0, nan, 2000.0]", "spec.audiometry.freqs_hz[1]"),
    ("[audiometry]\nfreqs_hz = [500.0, 1000.0, 1e9]", "spec.audiometry.freqs_hz[2]"),
    ("[audiometry]\nfreqs_hz = [50.0, 1000.0, 2000.0]", "spec.audiometry.freqs_hz[0]"),
    ('[audiometry]\nmethod = "bekesy"', "spec.audiometry.method"),
    # [hitl]
    ("[hitl]\nbudget = 0", "spec.hitl.budget"),
    ("[hitl]\nradius = 0", "spec.hitl.radius"),
    ("[hitl]\nradius = nan", "spec.hitl.radius"),
    ("[hitl]\nradius = 5.0", "spec.hitl.radius"),
    ("[hitl]\noracle_restarts = 0", "spec.hitl.oracle_restarts"),
    ("[hitl]\noracle_steps = -1", "spec.hitl.oracle_steps"),
    ("[hitl]\nn_sounds = 0", "spec.hitl.n_sounds"),
    ("[hitl]\nn_sounds = 1001", "spec.hitl.n_sounds"),
    ("[hitl]\nsound_seed = -1", "spec.hitl.sound_seed"),
    ("[hitl]\nsound_seed = 0", "spec.hitl.sound_seed"),  # the [sounds] seed: tuning sounds would be evaluated
    # [sounds]
    ("[sounds]\nlevel_db_spl = 200", "spec.sounds.level_db_spl"),
    ("[sounds]\nlevel_db_spl = -300", "spec.sounds.level_db_spl"),
    ("[sounds]\nlevel_db_spl = nan", "spec.sounds.level_db_spl"),
    ("[sounds]\nlevel_db_spl = inf", "spec.sounds.level_db_spl"),
    ("[sounds]\nduration_s = 0.0", "spec.sounds.duration_s"),
    ("[sounds]\nduration_s = 1e6", "spec.sounds.duration_s"),
    ("[sounds]\nn_per_class = 0", "spec.sounds.n_per_class"),
    ("[sounds]\nseed = -1", "spec.sounds.seed"),
    ('[sounds]\nclasses = ["speech", "whale_song"]', "spec.sounds.classes[1]"),
    # [engine]
    ("[engine]\nworkers = -3", "spec.engine.workers"),
    ("[engine]\nretries = -5", "spec.engine.retries"),
    ("[engine]\nnum_cpus = -1.0", "spec.engine.num_cpus"),
    ("[engine]\nnum_gpus = -1.0", "spec.engine.num_gpus"),
    ("[engine]\nnum_gpus = nan", "spec.engine.num_gpus"),
    ("[engine]\ntimeout_s = 0", "spec.engine.timeout_s"),
    ("[engine]\ntimeout_s = inf", "spec.engine.timeout_s"),
    ('[engine]\nkind = "slurm"', "spec.engine.kind"),
    # [regress]
    ("[regress]\ntolerances = {fidelity = {abs = -0.1}}", "spec.regress.tolerances.fidelity.abs"),
    ("[regress]\ntolerances = {fidelity = {abs = nan}}", "spec.regress.tolerances.fidelity.abs"),
]


@pytest.mark.parametrize(("toml", "key"), BAD_SPECS, ids=[f"{k}={t.split('=', 1)[1].strip()}" for t, k in BAD_SPECS])
def test_bad_spec_value_is_a_spec_error_naming_the_key(toml, key, tmp_path):
    with pytest.raises(SpecError) as err:
        spec_from_toml(toml, base_dir=tmp_path)
    assert str(err.value).startswith(f"{key}:") or str(err.value).startswith(f"{key} ="), str(err.value)


def test_a_run_name_is_one_path_component_so_it_stays_inside_out_dir():
    assert spec_from_toml('[run]\nname = "cohort-A_2.v1"').run.name == "cohort-A_2.v1"


def test_every_numeric_key_documents_its_range():
    lines = [line for line in describe_fields().splitlines() if "(int," in line or "(float," in line]
    assert lines and all("in [" in line or "in (" in line for line in lines), [
        line for line in lines if "in [" not in line and "in (" not in line
    ]
