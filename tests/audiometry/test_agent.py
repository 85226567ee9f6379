"""GP-PTA agent behaviour: protocol, safety, determinism, bad input, outputs ([CoxDeVries2015]_).

References

.. [CoxDeVries2015]
    M. Cox, B. de Vries. A Bayesian Binary Classification Approach to Pure Tone Audiometry. arXiv:1511.08670,
    2015.
"""

from __future__ import annotations

import numpy as np
import pytest

import audiometry
from audiometry import (
    GPPTA,
    Audiogram,
    AudiometryInputError,
    AudiometryStateError,
    ProbitResponder,
    run_session,
)


def _small(**kw) -> GPPTA:
    defaults = {"n_grid": 41, "refit_maxiter": 5, "target_sd": None}
    defaults.update(kw)
    return GPPTA(**defaults)


def test_same_seed_gives_the_same_session_and_estimates_improve():
    runs = []
    for _ in range(2):
        agent = _small(seed=3, max_trials=15)
        res = run_session(agent, ProbitResponder("S2", sigma=5, lapse=0.02), rng=11)
        runs.append(res)
    a, b = runs
    assert [(t.freq_hz, t.level_db_hl, t.heard) for t in a.trials] == [
        (t.freq_hz, t.level_db_hl, t.heard) for t in b.trials
    ]
    np.testing.assert_array_equal(a.means, b.means)
    truth = audiometry.bisgaard_curve("S2")(np.array(audiometry.STANDARD_FREQS_HZ))
    mae = np.abs(a.means - truth).mean(axis=1)
    assert mae[-1] < 0.6 * mae[0]  # 15 trials must beat the prior clearly
    assert a.sds[-1].max() < a.sds[0].min()
    other = run_session(_small(seed=4, max_trials=15), ProbitResponder("S2", sigma=5, lapse=0.02), rng=11)
    assert [t.freq_hz for t in other.trials] != [t.freq_hz for t in a.trials]


def test_levels_are_clamped_and_no_response_at_max_is_reported():
    agent = _small(level_range=(-10.0, 60.0), max_trials=14, seed=0)
    deaf = ProbitResponder(lambda f: np.full(np.shape(f), 100.0), sigma=5)
    res = run_session(agent, deaf, rng=0)
    levels = np.array([t.level_db_hl for t in res.trials])
    assert levels.max() <= 60.0 and levels.min() >= -10.0
    assert any(t.clamped for t in res.trials)
    flagged = [t for t in res.trials if t.no_response_at_max]
    assert flagged and all(t.level_db_hl == 60.0 and not t.heard for t in flagged)
    gram = res.audiogram
    assert all(gram.no_response)
    assert gram.display_value(0) == "> 60"
    assert "> 60" in gram.to_csv()


def test_update_protocol_errors():
    agent = _small(max_trials=5)
    with pytest.raises(AudiometryStateError, match="without a pending stimulus"):
        agent.update(1000.0, 40.0, True)
    f, lvl = agent.next_stimulus()
    assert agent.next_stimulus() == (f, lvl)  # idempotent until answered
    with pytest.raises(AudiometryStateError, match="pending stimulus is"):
        agent.update(f * 1.1, lvl, True)
    with pytest.raises(AudiometryStateError, match="pending stimulus is"):
        agent.update(f, lvl + 5.0, True)
    with pytest.raises(AudiometryInputError, match="heard must be a bool"):
        agent.update(f, lvl, "yes")
    agent.update(f, lvl, True)
    assert len(agent.trials) == 1 and agent.trials[0].heard


@pytest.mark.parametrize("bad", [-1000.0, 0.0, float("nan"), float("inf")])
def test_bad_frequencies_are_rejected(bad):
    agent = _small()
    with pytest.raises(AudiometryInputError, match=r"freqs?_hz"):
        agent.threshold([1000.0, bad])
    with pytest.raises(AudiometryInputError):
        agent.add_observation(bad, 40.0, True)
    with pytest.raises(AudiometryInputError):
        GPPTA(freq_range=(bad, 8000.0))


@pytest.mark.parametrize("level", [-20.0, 121.0, float("nan")])
def test_levels_outside_the_safe_range_are_rejected(level):
    agent = _small()
    with pytest.raises(AudiometryInputError, match="level"):
        agent.add_observation(1000.0, level, True)
    f, _ = agent.next_stimulus()
    with pytest.raises(AudiometryInputError, match="level"):
        agent.update(f, level, True)


def test_stopping_rules():
    agent = _small(max_trials=3)
    run_session(agent, ProbitResponder("N3"), rng=0)
    assert agent.done and len(agent.trials) == 3
    with pytest.raises(AudiometryStateError, match="done"):
        agent.next_stimulus()
    sd_stop = _small(max_trials=200, target_sd=6.0, min_trials=4)
    res = run_session(sd_stop, ProbitResponder("N3", sigma=5), rng=0)
    assert res.finished and len(res.trials) < 200 and sd_stop.max_band_sd < 6.0


def test_add_observation_moves_the_posterior_and_sigma_callable_uses_full_bald():
    agent = _small(sigma=lambda f: np.where(np.asarray(f) > 2000, 8.0, 4.0))
    assert agent.selection == "full"
    before, _ = agent.threshold([1000.0])
    for _ in range(4):
        agent.add_observation(1000.0, before[0] + 20.0, False)
    after, _ = agent.threshold([1000.0])
    assert after[0] > before[0] + 10.0
    f, lvl = agent.next_stimulus()
    assert 250.0 <= f <= 8000.0 and -10.0 <= lvl <= 120.0
    with pytest.raises(AudiometryInputError, match="sigma"):
        GPPTA(sigma=lambda f: -np.ones_like(f))


def test_audiogram_json_round_trip(tmp_path):
    agent = _small(max_trials=6)
    run_session(agent, ProbitResponder("N4", lapse=0.02), rng=2)
    gram = agent.audiogram()
    assert gram.freqs_hz == list(audiometry.STANDARD_FREQS_HZ) and gram.n_trials == 6
    back = Audiogram.from_json(gram.to_json())
    assert back == gram
    path = tmp_path / "a.json"
    gram.to_json(path)
    assert Audiogram.from_json(path) == gram
    np.testing.assert_allclose(
        np.array(gram.upper95_db_hl) - np.array(gram.threshold_db_hl), 1.96 * np.array(gram.sd_db), rtol=1e-3
    )
    with pytest.raises(AudiometryInputError, match="format"):
        Audiogram.from_json('{"method": "x"}')
    with pytest.raises(AudiometryInputError, match="malformed"):
        Audiogram.from_json("{not json")


def test_plot_posterior_writes_png(tmp_path):
    agent = _small(max_trials=4)
    run_session(agent, ProbitResponder("N2"), rng=0)
    path = tmp_path / "post.png"
    audiometry.plot_posterior(agent, path, true_curve=audiometry.bisgaard_curve("N2"))
    assert path.stat().st_size > 10_000
    img = agent.p_heard(np.array([500.0, 4000.0]), np.array([-10.0, 120.0]))
    assert img.shape == (2, 2) and np.all(img[0] < 0.2) and np.all(img[1] > 0.8)
