"""hearloop fit-aid: the tuning sounds the listener judges are never the held-out sounds the fit is scored on."""

import pytest
import torch

from runners.commands.fit_aid import evaluation_sounds, speech_sounds
from simulator.errors import HearloopInputError


def test_tuning_and_held_out_sounds_are_disjoint_and_seeded():
    tuning = speech_sounds(3, 0.2, 65.0, seed=4)
    held_out, names = evaluation_sounds(4, 0.2, 65.0, seed=4)
    assert names == ["eval_speech_00", "eval_speech_in_noise_01", "eval_speech_02", "eval_speech_in_noise_03"]
    for a in tuning:
        assert all(not torch.allclose(a, b) for b in held_out)
    torch.testing.assert_close(speech_sounds(3, 0.2, 65.0, seed=4), tuning)  # same seed, same sounds
    assert not torch.allclose(speech_sounds(1, 0.2, 65.0, seed=5)[0], tuning[0])


@pytest.mark.parametrize("make", [speech_sounds, evaluation_sounds])
def test_asking_for_no_sounds_is_a_named_error(make):
    with pytest.raises(HearloopInputError, match="must be >= 1"):
        make(0, 0.2, 65.0)
