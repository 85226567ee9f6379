"""Selectivity against the volume knob, and the selectivity term of DNN compensator training (tiny model)."""

import numpy as np
import pytest
import torch

from compensation.comfort import ListenerComfort
from compensation.comparison import VOLUME_CONTROL
from compensation.dnn import DNNConfig, DNNNuOracle
from compensation.dnn_losses import CompensatorLoss, TokenPool
from compensation.objective import NeuralFidelityObjective
from compensation.population import ListenerSpec
from compensation.selectivity import SelectivityConfig, SelectivityObjective
from compensation.selectivity_comparison import compare_selectivity, nh_selectivity
from simulator.errors import HearloopInputError

REF_NU = np.full(6, 0.5)
HI_NU = np.array([0.9, 0.1, 0.8, 0.2, 0.9, 0.1])
AUDIOGRAM = {250: 30.0, 1000: 40.0, 4000: 55.0, 8000: 60.0}


@pytest.fixture(scope="module")
def selectivity(tiny_model):
    config = SelectivityConfig(kinds=("vowel",), conditions=(None, 0.0), train_per_class=2, test_per_class=1)
    return SelectivityObjective(tiny_model, REF_NU, config)


def test_a_broadband_gain_changes_nothing_at_matched_loudness(selectivity, monkeypatch):
    listener = ListenerComfort.from_audiogram(AUDIOGRAM)
    processes = {"same": lambda t: t.clone(), "louder": lambda t: t * 2.0, "silence": lambda t: t * 1e-4}
    decoded: list[tuple[str, torch.Tensor]] = []
    decode = selectivity.decode

    def recording_decode(task, audio, nu):
        decoded.append((task, audio.clone()))
        return decode(task, audio, nu)

    monkeypatch.setattr(selectivity, "decode", recording_decode)
    got = compare_selectivity(selectivity, HI_NU, processes, listener, volume_gain_db=10.0)
    assert sorted(got) == sorted([*processes, VOLUME_CONTROL])
    # decode calls: per task, per strategy in order (same, louder, silence, volume control), as heard then matched
    names = [*processes, VOLUME_CONTROL]
    assert len(decoded) == 2 * len(names) * len(selectivity.tasks)
    for t, task in enumerate(selectivity.tasks):
        same, louder, vc = got["same"][task], got["louder"][task], got[VOLUME_CONTROL][task]
        for scores in (same, louder, vc):
            assert set(scores) == {"accuracy", "soft_accuracy", "accuracy_matched", "soft_accuracy_matched"}
            assert all(0.0 <= v <= 1.0 for v in scores.values())
        matched = {name: decoded[2 * (t * len(names) + k) + 1] for k, name in enumerate(names)}
        assert all(task_of == task for task_of, _ in matched.values())
        # eq.: matched loudness scales every output to the NH loudness of the token; the knob's matched sound is the
        # unprocessed token at that loudness, so all three decode the same sound (to the loudness search's
        # resolution; the scores of this tiny model's decoder flip on ties at that resolution)
        reference = matched["same"][1]
        for name in ("louder", VOLUME_CONTROL):
            torch.testing.assert_close(matched[name][1], reference, rtol=0, atol=1e-4 * float(reference.abs().max()))
        # as heard, level matters: 80 dB down is (near) silence for this listener
        assert got["silence"][task]["soft_accuracy"] != pytest.approx(same["soft_accuracy"], abs=1e-4)
    only = compare_selectivity(selectivity, HI_NU, {"same": processes["same"]}, listener, as_heard=False)
    assert VOLUME_CONTROL not in only
    assert only["same"] == {t: {k: v for k, v in s.items() if k.endswith("_matched")} for t, s in got["same"].items()}
    with pytest.raises(HearloopInputError, match="baseline's name"):
        compare_selectivity(selectivity, HI_NU, {VOLUME_CONTROL: processes["same"]}, listener)
    assert set(nh_selectivity(selectivity)) == set(selectivity.tasks)


def test_selectivity_features_take_one_listener_per_token(selectivity):
    audio = torch.as_tensor(selectivity.test_sets["vowel/quiet"].audio[:3])
    nus = torch.as_tensor(np.stack([REF_NU, HI_NU, REF_NU]), dtype=torch.float32)
    per_token = selectivity.features(audio, nus, "vowel")
    torch.testing.assert_close(per_token[1], selectivity.features(audio[1:2], HI_NU, "vowel")[0])
    torch.testing.assert_close(per_token[0], selectivity.features(audio[:1], REF_NU, "vowel")[0])
    with pytest.raises(HearloopInputError, match="one per token"):
        selectivity.features(audio, nus[:2], "vowel")


def test_the_training_selectivity_term_draws_held_out_tokens_and_has_a_gradient(tiny_model, selectivity):
    cfg = selectivity.config
    for seed in (cfg.train_seed, cfg.test_seed):
        with pytest.raises(HearloopInputError, match="must differ"):
            TokenPool(selectivity, seed)
    pool = TokenPool(selectivity, 77, per_class=1)
    rng = np.random.default_rng(0)
    assert [pool.draw(step, 2, rng)[0] for step in range(3)] == ["vowel/quiet", "vowel/snr0", "vowel/quiet"]
    listeners = [ListenerSpec("a", np.full(6, 0.3), AUDIOGRAM), ListenerSpec("b", HI_NU, AUDIOGRAM)]
    objective = NeuralFidelityObjective(tiny_model, REF_NU)
    config = DNNConfig(conditioning="nu", n_cond=6, hidden=8, dilations=(1, 2), cond_hidden=8)
    loss = CompensatorLoss(objective, listeners, "nu", config.audiogram_freqs_hz, tokens=pool)
    torch.manual_seed(0)
    dnn = DNNNuOracle(config)
    term = loss.selectivity(dnn, torch.tensor([0, 1]), 0, 3, np.random.default_rng(1), None)
    assert term.dim() == 0 and bool(torch.isfinite(term)) and float(term.detach()) > 0
    term.backward()
    grads = [p.grad for p in dnn.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
