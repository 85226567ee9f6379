"""Bad inputs at the other public entry points: audiometry procedures (an absolute presentation ceiling no
``level_range`` can exceed, one frequency per tone, finite steps), the fitting env's options and ``reset`` options,
HDF5 recordings and cohort TOML files. Each is a named error whose message names the argument or key, raised before
any tone is presented, episode run, model loaded or file written."""

from __future__ import annotations

import math
import re

import h5py
import numpy as np
import pytest

import audiometry
from audiometry.errors import AudiometryInputError
from audiometry.warp import MAX_PRESENTATION_DB_HL, MIN_PRESENTATION_DB_HL
from listeners.cohort_file import load_cohort
from runners.env import HearingAidFittingEnv
from runners.env.config import EnvConfig
from simulator.data.recordings import open_animal, write_animal
from simulator.errors import HearloopInputError, RecordingFormatError, SpecError
from tests.simulator.data.test_recordings import make_animal

NAN, INF = math.nan, math.inf

BAD_PROCEDURES = [
    (audiometry.GPPTA, {"level_range": (-10.0, 1e9)}, "level_range"),
    (audiometry.GPPTA, {"level_range": (-300.0, 100.0)}, "level_range"),
    (audiometry.GPPTA, {"level_range": (-10.0, 121.0)}, "level_range"),
    (audiometry.GPPTA, {"level_range": (60.0, 20.0)}, "level_range"),
    (audiometry.GPPTA, {"level_range": (NAN, 100.0)}, "level_range"),
    (audiometry.GPPTA, {"level_range": 100.0}, "level_range"),
    (audiometry.GPPTA, {"level_step": NAN}, "level_step"),
    (audiometry.GPPTA, {"level_step": 0.0}, "level_step"),
    (audiometry.GPPTA, {"level_step": INF}, "level_step"),
    (audiometry.GPPTA, {"max_trials": 0}, "max_trials"),
    (audiometry.GPPTA, {"max_trials": 2.5}, "max_trials"),
    (audiometry.GPPTA, {"n_grid": 1}, "n_grid"),
    (audiometry.GPPTA, {"offset_sd": NAN}, "offset_sd"),
    (audiometry.GPPTA, {"target_sd": 0.0}, "target_sd"),
    (audiometry.GPPTA, {"freq_range": (8000.0, 250.0)}, "freq_range"),
    (audiometry.HughsonWestlake, {"level_range": (-10.0, 1e9)}, "level_range"),
    (audiometry.HughsonWestlake, {"level_range": (-20.0, 100.0)}, "level_range"),
]


@pytest.mark.parametrize(("cls", "kwargs", "name"), BAD_PROCEDURES,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in BAD_PROCEDURES])  # fmt: skip
def test_bad_procedure_setting_is_named(cls, kwargs, name):
    with pytest.raises(AudiometryInputError) as err:
        cls(**kwargs)
    assert str(err.value).startswith(name), str(err.value)


def _answer(agent, call: str, freq, level) -> None:
    if call == "update":
        agent.next_stimulus()
        agent.update(freq, level, True)
    else:
        agent.add_observation(freq, level, True)


BAD_TONES = [
    ("update", [500.0, 1000.0], 40.0, "freq_hz"),  # a list frequency: never cut to its first value
    ("add_observation", [500.0, 1000.0], 40.0, "freq_hz"),
    ("add_observation", np.array([1000.0]), 40.0, "freq_hz"),
    ("add_observation", True, 40.0, "freq_hz"),
    ("add_observation", NAN, 40.0, "freq_hz"),
    ("add_observation", -500.0, 40.0, "freq_hz"),
    ("add_observation", 1000.0, [40.0, 50.0], "level_db_hl"),
    ("add_observation", 1000.0, NAN, "level_db_hl"),
    ("add_observation", 1000.0, 121.0, "level_db_hl"),  # above the safe range
    ("add_observation", 1000.0, -11.0, "level_db_hl"),
]


@pytest.mark.parametrize(("call", "freq", "level", "name"), BAD_TONES,
                         ids=[f"{c}-{f!r}-{lv!r}" for c, f, lv, _ in BAD_TONES])  # fmt: skip
def test_bad_tone_is_named_and_not_logged(call, freq, level, name):
    agent = audiometry.GPPTA(seed=0, max_trials=5)
    with pytest.raises(AudiometryInputError) as err:
        _answer(agent, call, freq, level)
    assert str(err.value).startswith(name), str(err.value)
    assert agent.trials == []


def test_no_tone_is_ever_presented_above_the_absolute_ceiling():
    agent = audiometry.GPPTA(seed=0, max_trials=25, target_sd=None)
    while not agent.done:  # a listener who hears nothing: the procedure climbs to its ceiling
        freq, level = agent.next_stimulus()
        agent.update(freq, level, False)
    levels = [t.level_db_hl for t in agent.trials]
    assert max(levels) == MAX_PRESENTATION_DB_HL and all(t.no_response_at_max for t in agent.trials[-3:])


def test_an_estimate_below_the_tested_range_is_flagged():
    agent = audiometry.GPPTA(seed=0, max_trials=20)
    while not agent.done:  # a listener who hears every tone: the estimate falls below the quietest tone presented
        freq, level = agent.next_stimulus()
        agent.update(freq, level, True)
    gram = agent.audiogram()
    below = [t < MIN_PRESENTATION_DB_HL for t in gram.threshold_db_hl]
    assert any(below) and gram.below_range == below
    i = below.index(True)
    assert gram.display_value(i) == "< -10" and "< -10" in gram.format_table()
    assert type(gram).from_json(gram.to_json()).below_range == below


BAD_ENV_OPTIONS = [
    ({"level_range_db_spl": (200.0, 250.0)}, "level_range_db_spl"),
    ({"level_range_db_spl": (-300.0, 60.0)}, "level_range_db_spl"),
    ({"level_range_db_spl": (80.0, 50.0)}, "level_range_db_spl"),
    ({"level_range_db_spl": (50.0, NAN)}, "level_range_db_spl"),
    ({"level_range_db_spl": None}, "level_range_db_spl"),
    ({"target_fidelity": NAN}, "target_fidelity"),
    ({"target_fidelity": INF}, "target_fidelity"),
    ({"target_fidelity": 1.5}, "target_fidelity"),
    ({"loudness_weight": -5.0}, "loudness_weight"),  # the comfort term's weight (was loudness_allowance_db)
    ({"action_scale": 0.0}, "action_scale"),
    ({"action_scale": 3.0}, "action_scale"),
    ({"action_mode": "relative"}, "action_mode"),
    ({"presentation": "loud"}, "presentation"),
    ({"reward": "fidelity_gain"}, "reward"),
    ({"loudness_weight": NAN}, "loudness_weight"),
    ({"max_steps": 0}, "max_steps"),
    ({"sound_duration_s": 0.0}, "sound_duration_s"),
    ({"distance": "cosine"}, "distance"),
]


@pytest.mark.parametrize(("kwargs", "name"), BAD_ENV_OPTIONS, ids=[f"{k}" for k, _ in BAD_ENV_OPTIONS])
def test_bad_env_option_is_named(kwargs, name):
    with pytest.raises(HearloopInputError) as err:
        EnvConfig(**kwargs)
    assert str(err.value).startswith(f"env option {name} "), str(err.value)


@pytest.fixture(scope="module")
def env(tiny_model):
    from listeners import VirtualListener

    reference = VirtualListener("NH-ref", [0.3, 0.4, 0.5, 0.6, 0.5, 0.4], tiny_model)
    cohort = [VirtualListener("T0", [0.9, 0.1, 0.8, 0.2, 0.9, 0.1], tiny_model, reference=reference)]
    return HearingAidFittingEnv(model=tiny_model, listeners=cohort, reference_nu=reference.nu.tolist(),
                                sound_duration_s=0.15, n_per_class=1, sound_classes=("speech", "music"),
                                audiometry_trials=4, n_bands=3, max_steps=2, strategy="multiband")  # fmt: skip


@pytest.mark.parametrize("options", [{"listner_index": 0}, {"seed": 3}, {"sounds": ["speech/0"], "thetta": [0.5]}])
def test_unknown_reset_option_is_named(env, options):
    unknown = sorted(set(options) - {"sounds"})
    with pytest.raises(HearloopInputError, match="^" + re.escape(f"reset options {unknown!r} are unknown")):
        env.reset(seed=0, options=options)


def test_a_recording_with_a_nan_abr_threshold_is_named(tmp_path):
    path = write_animal(tmp_path / "a.h5", make_animal())
    with h5py.File(path, "r+") as f:
        f["abr/thresholds_db_spl"][1] = np.nan
    with pytest.raises(RecordingFormatError, match=r"abr/thresholds_db_spl holds non-finite thresholds"):
        open_animal(path)


def test_an_animal_with_a_nan_abr_threshold_is_not_written(tmp_path):
    animal = make_animal()
    animal.abr_thresholds_db[next(iter(animal.abr_thresholds_db))] = NAN
    with pytest.raises(RecordingFormatError, match=r"abr_thresholds_db holds non-finite thresholds"):
        write_animal(tmp_path / "a.h5", animal)
    assert not (tmp_path / "a.h5").exists()


HEAD = 'format = "hearloop-cohort"\nversion = 1\nn_params = 6\n'
NU = "[0.5, 0.5, 0.5, 0.5, 0.5, 0.5]"
BAD_COHORTS = [
    (f'[[listener]]\nid = "A"\nnu = {NU}\n[[listener]]\nid = "A"\nnu = {NU}\n', "listener[1].id"),
    (f'[[listener]]\nid = "A"\nnu = {NU}\nsigma_db = "five"\n', "listener[0].sigma_db"),
    (f'[[listener]]\nid = "A"\nnu = {NU}\nlapse_rate = true\n', "listener[0].lapse_rate"),
    (f'[[listener]]\nid = "A"\nnu = {NU}\nhours = [1.0]\n', "listener[0].hours"),
    ('[[listener]]\nid = "A"\nnu = ["a", "b"]\n', "listener[0].nu"),
    (f"[[listener]]\nid = 7\nnu = {NU}\n", "listener[0].id"),
    (f'[[listener]]\nid = "A"\nnu = {NU}\nmood = "fine"\n', "listener[0]: unknown key"),
    ("listener = [1, 2]\n", "listener[0]: expected a table"),
]


@pytest.mark.parametrize(("body", "name"), BAD_COHORTS, ids=[n for _, n in BAD_COHORTS])
def test_bad_cohort_file_is_named_before_the_model_loads(body, name, tmp_path):
    path = tmp_path / "cohort.toml"
    path.write_text(HEAD + body)
    with pytest.raises(SpecError) as err:
        load_cohort(path, model=None)  # a bad file never gets as far as loading the bundled model
    assert str(err.value).startswith(f"{path}: {name}"), str(err.value)
