"""Loudness measure (A-weighted L_Aeq): calibrated tones, IEC 61672 weights, exact scaling, matching and the penalty."""

import numpy as np
import pytest
import torch

from compensation.loudness import (
    LEVEL_FLOOR_DB,
    a_weighted_level,
    a_weighting_db,
    loudness_penalty,
    match_loudness,
)
from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE


def _tone(freq_hz: float, level_db_spl: float, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(seconds * SAMPLE_RATE), dtype=torch.float64) / SAMPLE_RATE
    amp = REF_PRESSURE_PA * 10 ** (level_db_spl / 20) * np.sqrt(2)
    return (amp * torch.sin(2 * torch.pi * freq_hz * t)).float().unsqueeze(0)


def test_a_weighting_matches_the_iec_61672_nominal_table():
    freqs = 10.0 ** (np.array([15, 18, 21, 24, 27, 30, 33, 36, 39]) / 10)  # exact base-10 nominal 31.5 Hz ... 8 kHz
    nominal = [-39.4, -26.2, -16.1, -8.6, -3.2, 0.0, 1.2, 1.0, -1.1]
    np.testing.assert_allclose(a_weighting_db(freqs), nominal, atol=0.06)


@pytest.mark.parametrize(("freq", "offset"), [(1000.0, 0.0), (100.0, -19.1), (4000.0, 1.0), (10000.0, -2.5)])
def test_calibrated_tones_read_their_spl_plus_the_a_weight(freq, offset):
    level = a_weighted_level(torch.cat([_tone(freq, 70.0), _tone(freq, 40.0)]))
    np.testing.assert_allclose(level.numpy(), [70.0 + offset, 40.0 + offset], atol=0.1)


def test_level_is_exactly_quadratic_in_scale_and_matching_hits_the_target():
    x = 0.02 * torch.randn(3, 5000, generator=torch.Generator().manual_seed(0))
    base = a_weighted_level(x)
    torch.testing.assert_close(a_weighted_level(10 * x), base + 20.0, atol=1e-3, rtol=0)
    target = torch.tensor([60.0, 75.0, 50.0])
    torch.testing.assert_close(a_weighted_level(match_loudness(x, target)), target, atol=1e-3, rtol=0)


def test_silence_reads_the_floor_and_gradients_are_finite():
    assert float(a_weighted_level(torch.zeros(1, 1000))[0]) == pytest.approx(LEVEL_FLOOR_DB)
    x = (0.05 * torch.randn(2, 2048, generator=torch.Generator().manual_seed(1))).requires_grad_(True)
    penalty = loudness_penalty(x, torch.tensor([60.0, 60.0]))
    penalty.sum().backward()
    assert bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().sum()) > 0


def test_penalty_is_free_within_tolerance_and_quadratic_beyond():
    x = _tone(1000.0, 70.0, 0.2)
    assert float(loudness_penalty(x, torch.tensor([69.5]), tolerance_db=1.0)[0]) == pytest.approx(0.0)
    assert float(loudness_penalty(x, torch.tensor([59.0]), tolerance_db=1.0)[0]) == pytest.approx(1.0, abs=0.02)
    assert float(loudness_penalty(x, torch.tensor([89.0]), tolerance_db=1.0)[0]) == pytest.approx(1.8**2, abs=0.05)
