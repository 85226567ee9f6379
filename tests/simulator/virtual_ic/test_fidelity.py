"""Neural fidelity scored on the generator itself (simulator.virtual_ic.fidelity): gain rolls over on BEZ2018."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from compensation.nalr_strategy import NALRStrategy
from simulator.data.corpus import speech_like
from simulator.errors import HearloopInputError
from simulator.virtual_ic.animal import true_loss_db_hl
from simulator.virtual_ic.cohort import make_animal
from simulator.virtual_ic.fidelity import fidelity_restored_on_generator, nh_twin
from simulator.virtual_ic.midbrain import sample_channel_template

OFFSETS_DB = (-10.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0)
AUDIOGRAM_HZ = (250, 500, 1000, 2000, 3000, 4000, 6000, 8000)


def _flat_gain_curve(periphery: str) -> tuple[np.ndarray, float]:
    """Fidelity restored of flat gains at NAL-R's level + OFFSETS_DB for a 50 dB HL flat-loss animal, and its loss."""
    template = sample_channel_template(np.random.default_rng([0, 1]), 8)
    animal = make_animal(0, 3, "HI01", (50.0, "flat"), template, True, periphery)
    audiogram = dict(zip(AUDIOGRAM_HZ, true_loss_db_hl(animal, AUDIOGRAM_HZ).tolist(), strict=True))
    clean = speech_like(np.random.default_rng(5), 0.4, 65.0).astype(np.float64)
    nalr = NALRStrategy()
    aided = nalr(torch.as_tensor(clean, dtype=torch.float32)[None], nalr.prescribe(audiogram))[0].double().numpy()
    level = 10.0 * np.log10(np.sum(aided**2) / np.sum(clean**2))
    fid, _ = fidelity_restored_on_generator(animal, clean, [clean * 10 ** ((level + o) / 20) for o in OFFSETS_DB])
    return fid, float(np.mean([audiogram[f] for f in (500, 1000, 2000, 4000, 8000)]))


def test_too_much_gain_hurts_on_bez2018_and_gain_restores_less_than_on_gammatone():
    bez, loss_bez = _flat_gain_curve("bez2018")
    gam, loss_gam = _flat_gain_curve("gammatone")
    assert loss_bez >= 35.0 and loss_gam >= 35.0
    best = int(np.argmax(bez))
    assert 0 < best < len(OFFSETS_DB) - 1 and OFFSETS_DB[best] <= 40.0, bez  # an interior maximum, then roll-over
    assert bez[-1] < bez[best] - 0.3
    assert bez.max() < gam.max() - 0.2, (bez, gam)  # gain undoes much less of an OHC loss on BEZ2018


def test_nh_twin_and_bad_input():
    template = sample_channel_template(np.random.default_rng([0, 1]), 4)
    animal = make_animal(0, 3, "HI01", (40.0, "flat"), template, True, "gammatone")
    twin = nh_twin(animal)
    assert twin.profile.total_loss_db.max() == 0.0 and twin.profile.central_gain == 0.0
    np.testing.assert_array_equal(twin.channels.cf_pos, animal.channels.cf_pos)
    clean = speech_like(np.random.default_rng(1), 0.2, 65.0).astype(np.float64)
    fid, d0 = fidelity_restored_on_generator(animal, clean, [clean, clean * 10.0, clean * 0.1])
    assert fid[0] == pytest.approx(0.0) and d0 > 0.0
    assert fid[1] > 0.1 and fid[2] < 0.0  # 20 dB of gain helps a 40 dB HL animal; 20 dB less hurts
    # the ground truth a recording carries (JSON) gives the same numbers
    from_gt, d_gt = fidelity_restored_on_generator(json.loads(json.dumps(animal.to_dict())), clean, [clean * 10.0])
    assert from_gt[0] == fid[1] and d_gt == d0
    with pytest.raises(HearloopInputError, match="ground-truth"):
        fidelity_restored_on_generator("HI01", clean, [clean])  # type: ignore[arg-type]
    with pytest.raises(HearloopInputError, match="shape"):
        fidelity_restored_on_generator(animal, clean, [clean[:-1]])
    with pytest.raises(HearloopInputError, match="undefined"):
        fidelity_restored_on_generator(twin, clean, [clean])
