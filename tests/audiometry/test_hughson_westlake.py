"""Modified Hughson-Westlake baseline: exact presentations on scripted answers, safety, outputs."""

from __future__ import annotations

import numpy as np
import pytest

from audiometry import (
    AudiometryStateError,
    HughsonWestlake,
    ProbitResponder,
    ScriptedResponder,
    SessionAborted,
    bisgaard_curve,
    random_audiogram_curve,
    run_session,
)


def test_threshold_rule_on_scripted_answers():
    # freq_range around 1 kHz: the order is 1000 Hz and its retest
    answers = [True, True, False, False, True, False, True, False, False, True]  # test: threshold 25
    answers += [True, False, True, False, True, False, True, False, False, True]  # retest: threshold 20
    responder = ScriptedResponder(answers)
    agent = HughsonWestlake(freq_range=(900.0, 1100.0))
    res = run_session(agent, responder, rng=0)
    levels = [lv for _, lv in responder.asked]
    assert levels[:10] == [40, 30, 20, 25, 30, 20, 25, 15, 20, 25]  # down 10 / up 5; 25 dB: 2 of 3 ascending
    assert levels[10:] == [35, 25, 30, 20, 25, 15, 20, 10, 15, 20]  # retest starts 10 dB above 25
    assert agent.done and res.finished
    assert [r.threshold_db_hl for r in agent.results] == [25.0, 20.0]
    assert agent.results[0].ascending[25.0] == [3, 2] and agent.results[0].ascending[20.0] == [1, 0]
    mean, sd = agent.threshold([1000.0])
    assert mean[0] == 20.0 and sd[0] == 5.0  # the better of test and retest
    with pytest.raises(AudiometryStateError):
        agent.next_stimulus()


def test_only_first_three_ascending_presentations_count():
    # 45 dB collects 3 counted ascending presentations with 1 response; a 4th ascending response there must NOT make
    # it the threshold (without the "up to 3" cap it would be 2 of 4); 55 dB later gets 2 of 3 and is the threshold.
    f, t = False, True
    script = [f, f, f, t, f, t, f, t, f, f, f, f, f, t, t, f, t, f, f, f, f, t]
    responder = ScriptedResponder(script)
    agent = HughsonWestlake(freq_range=(900.0, 1100.0))
    with pytest.raises(SessionAborted):  # the script ends before the 1 kHz retest finishes
        run_session(agent, responder, rng=0)
    levels = [lv for _, lv in responder.asked]
    assert levels[:22] == [40, 45, 50, 55, 45, 50, 40, 45, 35, 40, 45, 50, 55, 60, 50, 40, 45, 35, 40, 45, 50, 55]
    first = agent.results[0]
    assert first.ascending[45.0] == [3, 1] and first.ascending[55.0] == [3, 2]
    assert first.threshold_db_hl == 55.0
    assert levels[22] == 65.0  # the retest starts 10 dB above


def test_no_response_at_max_and_clamping():
    agent = HughsonWestlake(freq_range=(900.0, 1100.0), level_range=(-10.0, 50.0))
    responder = ScriptedResponder([False] * 8)
    run_session(agent, responder, rng=0)
    levels = [lv for _, lv in responder.asked]
    assert levels[:4] == [40, 45, 50, 50]
    assert max(levels) <= 50.0
    assert agent.results[0].no_response
    gram = agent.audiogram()
    assert all(gram.no_response) and gram.display_value(0) == "> 50"
    assert sum(t.no_response_at_max for t in gram.trials) >= 2


def test_full_order_interpolation_and_accuracy():
    agent = HughsonWestlake(seed=0)
    res = run_session(agent, ProbitResponder("S2", sigma=5.0, lapse=0.02), rng=5)
    freqs = [r.freq_hz for r in agent.results]
    assert freqs == [1000.0, 2000.0, 4000.0, 8000.0, 1000.0, 500.0, 250.0]
    assert 30 <= len(res.trials) <= 200
    m, _ = agent.threshold([2000.0, 3000.0, 4000.0])
    assert m[0] <= m[1] <= m[2] or np.isclose(m[1], np.interp(np.log(3000), np.log([2000, 4000]), m[[0, 2]]))
    truth = bisgaard_curve("S2")(np.array(res.eval_freqs_hz))
    measured = np.isin(res.eval_freqs_hz, freqs)
    assert np.mean(np.abs(res.means[-1] - truth)[measured]) < 10.0


def test_random_curves_are_seeded_and_realistic():
    a = random_audiogram_curve(np.random.default_rng(1))
    b = random_audiogram_curve(np.random.default_rng(1))
    f = np.geomspace(250, 8000, 50)
    np.testing.assert_array_equal(a(f), b(f))
    for seed in range(20):
        v = random_audiogram_curve(np.random.default_rng(seed))(f)
        assert np.all((v >= -10) & (v <= 110))
        assert np.max(np.abs(np.diff(v))) < 20.0  # smooth on a fine grid


def test_bisgaard_curve_extends_to_8k():
    c = bisgaard_curve("S1")
    assert c(np.array([8000.0]))[0] == c(np.array([6000.0]))[0] == 70.0
    assert c(np.array([1224.7]))[0] == pytest.approx(10.0, abs=1e-6)
    with pytest.raises(ValueError, match="unknown Bisgaard"):
        bisgaard_curve("X9")
