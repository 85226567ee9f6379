"""Bad audio and bad audiograms at the public entry points: each is a HearloopInputError naming the argument, raised
before the model or a formula runs (integer audio says to convert to pascals; complex audio and impossible levels are
refused instead of being taken silently)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compensation.nalr import nalr_gains
from simulator.data.corpus import synthesise
from simulator.errors import HearloopInputError

N = 4096  # samples: enough for the tiny model's receptive field


BAD_AUDIO = [
    (torch.zeros(1, N, dtype=torch.int16), "audio", "pascals"),
    (torch.zeros(1, N, dtype=torch.int32), "audio", "pascals"),
    (torch.zeros(1, N, dtype=torch.uint8), "audio", "pascals"),
    (torch.zeros(1, N, dtype=torch.bool), "audio", "pascals"),
    (torch.zeros(1, N, dtype=torch.complex64), "audio", "complex"),
    (torch.full((1, N), 1e30), "audio", "Pa"),
    (torch.full((1, N), -2e5), "audio", "Pa"),
    (torch.full((1, N), float("nan")), "audio", "non-finite"),
    (torch.full((1, N), float("inf")), "audio", "non-finite"),
    (np.zeros((1, N), dtype=np.float32), "audio", "torch.Tensor"),
    (torch.zeros(N), "audio", "shape"),
    (torch.zeros(1, 1, N), "audio", "shape"),
]


@pytest.mark.parametrize(("audio", "name", "says"), BAD_AUDIO, ids=[f"{i}-{s}" for i, (*_, s) in enumerate(BAD_AUDIO)])
def test_bad_audio_to_predict_is_named(tiny_model, audio, name, says):
    nu = torch.full((1, tiny_model.n_params), 0.5)
    with pytest.raises(HearloopInputError) as err:
        tiny_model.predict(audio, nu)
    assert str(err.value).startswith(name) and says in str(err.value), str(err.value)


BAD_NU = [
    (torch.full((1, 6), float("nan")), "non-finite"),
    (torch.full((1, 6), 1.5), "[0, 1]"),
    (torch.full((1, 5), 0.5), "D=5"),
]


@pytest.mark.parametrize(("nu", "says"), BAD_NU, ids=[s for _, s in BAD_NU])
def test_bad_nu_to_predict_is_named(tiny_model, nu, says):
    with pytest.raises(HearloopInputError) as err:
        tiny_model.predict(torch.zeros(1, N), nu)
    assert str(err.value).startswith("nu") and says in str(err.value), str(err.value)


def test_float_audio_in_range_is_still_accepted(tiny_model):
    probs = tiny_model.predict(torch.full((1, N), 0.01, dtype=torch.float64), torch.full((1, 6), 0.5))
    assert torch.allclose(probs.sum(-1), torch.ones(()))


BASE = {250: 20.0, 500: 30.0, 1000: 40.0, 2000: 50.0, 4000: 60.0}
BAD_AUDIOGRAMS = [
    ({**BASE, 500: True}, "audiogram threshold at 500 Hz"),
    ({**BASE, 500: None}, "audiogram threshold at 500 Hz"),
    ({**BASE, 500: "30"}, "audiogram threshold at 500 Hz"),
    ({**BASE, 500: float("nan")}, "audiogram threshold at 500 Hz"),
    ({**BASE, 500: 400.0}, "audiogram threshold at 500 Hz"),
    ({**BASE, 1e9: 100.0}, "audiogram frequency 1000000000.0"),
    ({**BASE, "1000": 40.0}, "audiogram frequency '1000'"),  # mixed int / str keys
    ({**BASE, True: 40.0}, "audiogram frequency True"),
    ({**BASE, -500: 40.0}, "audiogram frequency -500"),
    ({**BASE, 5.0: 40.0}, "audiogram frequency 5.0"),
    ({**BASE, float("inf"): 40.0}, "audiogram frequency inf"),
    ({}, "audiogram must be a non-empty dict"),
    ([(500, 30.0)], "audiogram must be a non-empty dict"),
]


@pytest.mark.parametrize(("audiogram", "says"), BAD_AUDIOGRAMS, ids=[s for _, s in BAD_AUDIOGRAMS])
def test_bad_audiogram_to_nalr_is_named(audiogram, says):
    with pytest.raises(HearloopInputError) as err:
        nalr_gains(audiogram)
    assert says in str(err.value), str(err.value)


@pytest.mark.parametrize("level", [200.0, -300.0, float("nan"), float("inf")])
def test_corpus_sound_level_outside_the_documented_range_is_named(level):
    with pytest.raises(HearloopInputError, match=r"^level_db_spl \(dB SPL\) must be a number in \[0, 120\]"):
        synthesise("speech", 0, 0.1, level)
