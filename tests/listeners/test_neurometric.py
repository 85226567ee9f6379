"""Neurometric thresholds (listeners.neurometric): the ideal-observer d' at hand-computed values, the tone protocol,
and the bisection on a stand-in midbrain whose threshold is known in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from listeners.neurometric import ToneProtocol, detectability, neurometric_thresholds_db_spl
from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE
from simulator.errors import HearloopInputError


def _probs(per_bin: list[list[float]], bins: int) -> torch.Tensor:
    """``1 x channels x bins x 5`` with the same count distribution in every bin of a channel."""
    return torch.tensor(per_bin, dtype=torch.float64)[None, :, None, :].expand(1, len(per_bin), bins, 5).clone()


def test_detectability_of_hand_made_distributions():
    window = slice(2, 6)  # 4 bins
    silence = _probs([[1, 0, 0, 0, 0]] * 3, 8)  # no spikes: mean 0, variance 0
    tone = _probs([[0.5, 0.5, 0, 0, 0], [1, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0]], 8)
    tone[0, 1, 2:6] = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0], dtype=torch.float64)  # channel 1: 2 spikes per bin
    silence[0, 1, :] = torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0], dtype=torch.float64)  # ... below its silence (3): d < 0
    tone[0, 0, :2] = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0], dtype=torch.float64)  # outside the window: ignored
    # channels 0 and 2: window mean 4 * 0.5 = 2, variance 4 * 0.25 = 1 -> d = 2 / sqrt(0.5 * (1 + 0) + 1e-6) = 2.828;
    # channel 1 is negative and clipped; d' = sqrt(2 * 2.828^2) = 4
    d = 2.0 / math.sqrt(0.5 + 1e-6)
    assert float(detectability(tone, silence, window)[0]) == pytest.approx(math.sqrt(2.0) * d, rel=1e-12)
    # a silence batch of one serves every tone
    both = torch.cat([tone, silence])
    np.testing.assert_allclose(detectability(both, silence, window).numpy(), [math.sqrt(2.0) * d, 0.0], rtol=1e-12)


def test_tone_protocol_timing_and_waveform():
    p = ToneProtocol(lead_s=0.05, tone_s=0.1, ramp_ms=10.0, tail_s=0.02)
    fs = SAMPLE_RATE  # 24414.0625 Hz
    # round(0.17 fs) = 4150 samples -> 129 whole bins of 32 = 4128 samples; the window starts at int(0.05 fs) // 32
    assert p.n_samples == round(0.17 * fs) // 32 * 32 == 4128 and p.window == slice(int(0.05 * fs) // 32, 129)
    wave = p.tones(torch.tensor([1000.0]), torch.tensor([60.0]))[0].double()
    t = torch.arange(p.n_samples, dtype=torch.float64) / fs - 0.05
    assert wave[t < 0].abs().max() == 0 and wave[t >= 0.1].abs().max() == 0
    steady = wave[(t >= 0.01) & (t < 0.09)]  # after the 10 ms ramp: 80 periods of 1 kHz
    assert 20 * math.log10(float(steady.square().mean().sqrt()) / REF_PRESSURE_PA) == pytest.approx(60.0, abs=0.01)
    # raised-cosine on-ramp: envelope 0.5 - 0.5 cos(pi t / 10 ms) times the 60 dB SPL sinusoid's peak
    peak = math.sqrt(2.0) * REF_PRESSURE_PA * 10 ** (60 / 20)
    ramp = (t >= 0) & (t < 0.01)
    expected = peak * torch.sin(2 * math.pi * 1000.0 * t) * (0.5 - 0.5 * torch.cos(math.pi * t / 0.01))
    np.testing.assert_allclose(wave[ramp].numpy(), expected[ramp].numpy(), atol=1e-6 * peak)


DURATIONS = "tone protocol durations must be >= 0, the ramps > 0 and the tone at least two ramps long"
LEVELS = "level_range_db_spl must be increasing and iterations >= 1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lead_s": -0.01}, DURATIONS),
        ({"tone_s": -0.01, "ramp_ms": 0.0}, DURATIONS),
        ({"tone_s": -0.01, "ramp_ms": -10.0}, DURATIONS),  # a negative tone, whatever the ramp
        ({"tone_s": 0.019, "ramp_ms": 10.0}, DURATIONS),
        ({"tone_s": 0.01999, "ramp_ms": 10.0}, DURATIONS),  # just under two ramps (19.99 ms)
        ({"ramp_ms": 0.0, "lead_s": 0.0}, DURATIONS),  # no ramp: 0/0 at the onset sample would give NaN
        ({"ramp_ms": -10.0}, DURATIONS),  # a negative ramp would silence the tone
        (
            {"ramp_ms": float("nan")},
            "tone protocol durations must be finite; got lead_s=0.08, tone_s=0.2, ramp_ms=nan, tail_s=0.03",
        ),
        # NaN compares False with everything: each duration must be refused by name, not reach round() as a ValueError
        (
            {"lead_s": float("nan")},
            "tone protocol durations must be finite; got lead_s=nan, tone_s=0.2, ramp_ms=10.0, tail_s=0.03",
        ),
        (
            {"tone_s": float("inf")},
            "tone protocol durations must be finite; got lead_s=0.08, tone_s=inf, ramp_ms=10.0, tail_s=0.03",
        ),
        (
            {"tail_s": float("nan")},
            "tone protocol durations must be finite; got lead_s=0.08, tone_s=0.2, ramp_ms=10.0, tail_s=nan",
        ),
        (
            {"ramp_ms": float("inf")},
            "tone protocol durations must be finite; got lead_s=0.08, tone_s=0.2, ramp_ms=inf, tail_s=0.03",
        ),
        ({"level_range_db_spl": (float("nan"), 50.0)}, "level_range_db_spl must be finite; got (nan, 50.0)"),
        ({"level_range_db_spl": (0.0, float("inf"))}, "level_range_db_spl must be finite; got (0.0, inf)"),
        ({"tail_s": -1.0}, DURATIONS),
        ({"level_range_db_spl": (50.0, 50.0)}, LEVELS),
        ({"level_range_db_spl": (60.0, 50.0)}, LEVELS),
        ({"iterations": 0}, LEVELS),
        ({"criterion": float("inf")}, "the detection criterion d' must be positive and finite; got inf"),
        ({"criterion": float("nan")}, "the detection criterion d' must be positive and finite; got nan"),
        ({"criterion": 0.0}, "the detection criterion d' must be positive and finite; got 0.0"),
        ({"criterion": -1.0}, "the detection criterion d' must be positive and finite; got -1.0"),
    ],
)
def test_bad_protocols_are_named(kwargs, message):
    with pytest.raises(HearloopInputError) as err:
        ToneProtocol(**kwargs)
    assert str(err.value) == message


def test_protocol_boundaries_settings_and_equality():
    # zero lead and tail, exactly two ramps, one step, a 1 dB range: all accepted; settings are floats and an int
    p = ToneProtocol(
        lead_s=0, tone_s=0.02, ramp_ms=10, tail_s=0, level_range_db_spl=(50, 51), iterations=1, criterion=2
    )
    assert p.settings() == (0.0, 0.02, 10.0, 0.0, (50.0, 51.0), 1, 2.0)
    assert [type(v) for v in p.settings()] == [float, float, float, float, tuple, int, float]
    assert [type(v) for v in p.level_range_db_spl] == [float, float]
    assert p.window == slice(0, p.n_samples // 32)
    default = ToneProtocol()
    assert default.settings() == (0.08, 0.2, 10.0, 0.03, (-20.0, 130.0), 12, 20.0)
    # equal settings: equal protocols with equal hashes; any one setting changed: not equal
    assert ToneProtocol() == default and hash(ToneProtocol()) == hash(default)
    assert default != default.settings() and default != object()
    changes = [{"lead_s": 0.1}, {"tone_s": 0.3}, {"ramp_ms": 5.0}, {"tail_s": 0.0},
               {"level_range_db_spl": (-20.0, 120.0)}, {"iterations": 11}, {"criterion": 3.0}]  # fmt: skip
    for change in changes:
        assert ToneProtocol(**change) != default, change


class ConstantTones(ToneProtocol):
    """A tone protocol with a constant signal in place of each tone: its value is the level's RMS pressure, so the
    stand-in midbrain reads the level back exactly."""

    def tones(self, freqs_hz: torch.Tensor, levels_db_spl: torch.Tensor) -> torch.Tensor:
        pa = REF_PRESSURE_PA * 10.0 ** (levels_db_spl.double() / 20.0)
        return pa[:, None].expand(-1, self.n_samples).clone()


class StandInMidbrain(nn.Module):
    """One channel whose count is 1 with probability q = clip((L - T) / 50, 0, 1) in every bin (else 0), L the level
    (dB SPL) of a :class:`ConstantTones` signal and T = -100 + 220 nu_0 dB SPL; silence gives q = 0."""

    device = torch.device("cpu")

    def predict(self, audio: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
        level = 20.0 * torch.log10(audio[:, 0].double() / REF_PRESSURE_PA + 1e-300)
        q = ((level - (-100.0 + 220.0 * nu[:, 0].double())) / 50.0).clamp(0.0, 1.0)  # batch 1 silence broadcasts
        probs = torch.zeros(q.shape[0], 1, audio.shape[-1] // 32, 5, dtype=torch.float64)
        probs[..., 0], probs[..., 1] = (1.0 - q)[:, None, None], q[:, None, None]
        return probs


PROTOCOL = ConstantTones(lead_s=0.03, tone_s=0.06, ramp_ms=5.0, tail_s=0.01, iterations=10)


def _closed_form_threshold(nu0: float, criterion: float, bins: int) -> float:
    # d' = W q / sqrt(0.5 W q (1 - q) + 1e-6) = c  <=>  (W^2 + c^2 W / 2) q^2 - (c^2 W / 2) q - c^2 1e-6 = 0
    a, b, k = bins**2 + 0.5 * criterion**2 * bins, -0.5 * criterion**2 * bins, -(criterion**2) * 1e-6
    q = (-b + math.sqrt(b * b - 4 * a * k)) / (2 * a)
    return -100.0 + 220.0 * nu0 + 50.0 * q


def test_bisection_finds_the_closed_form_threshold():
    bins = PROTOCOL.window.stop - PROTOCOL.window.start  # int(0.1 fs) // 32 - int(0.03 fs) // 32 = 76 - 22 = 54
    nus = np.array([[0.7, 0.5], [0.9, 0.5], [0.0, 0.5], [1.0, 0.5]])
    got = neurometric_thresholds_db_spl(StandInMidbrain(), nus, [1000.0, 2000.0], PROTOCOL)
    assert got.shape == (4, 2)
    step = 150.0 / 2**10  # final bracket width; the estimate is its midpoint
    for row, nu0 in zip(got, nus[:, 0], strict=True):
        expected = _closed_form_threshold(nu0, PROTOCOL.criterion, bins)
        if expected <= -20.0:
            np.testing.assert_array_equal(row, -20.0)  # heard at the bottom of the range
        elif expected > 130.0:
            np.testing.assert_array_equal(row, 130.0)  # never heard: the top of the range
        else:
            np.testing.assert_allclose(row, expected, atol=step / 2 + 1e-6)
    # nu_0 = 0.7: T = 54 dB SPL; W = 54, c = 10: q = 2700 / (2916 + 2700) = 0.4808 (+1e-9) -> 54 + 24.04 = 78.04
    assert _closed_form_threshold(0.7, 10.0, 54) == pytest.approx(54.0 + 50.0 * 2700.0 / 5616.0, abs=1e-5)
    # a single listener gives one row; a looser criterion lowers the threshold by the closed-form amount
    one = neurometric_thresholds_db_spl(StandInMidbrain(), nus[0], [1000.0], PROTOCOL, criterion=3.0)
    assert one.shape == (1,) and one[0] == pytest.approx(_closed_form_threshold(0.7, 3.0, bins), abs=step / 2 + 1e-6)


@pytest.mark.parametrize("freqs", [[], [0.0], [-100.0], [SAMPLE_RATE / 2], [float("nan")]])
def test_bad_tone_frequencies_are_named(freqs):
    with pytest.raises(HearloopInputError, match=r"tone frequencies must be finite and in \(0, 12207\) Hz"):
        neurometric_thresholds_db_spl(StandInMidbrain(), np.full(2, 0.5), freqs, PROTOCOL)


def test_progress_bar_only_on_request(capsys):
    nus = np.array([[0.7, 0.5], [0.9, 0.5]])
    neurometric_thresholds_db_spl(StandInMidbrain(), nus, [1000.0], PROTOCOL)
    assert capsys.readouterr().err == ""
    neurometric_thresholds_db_spl(StandInMidbrain(), nus, [1000.0], PROTOCOL, progress=True)
    err = capsys.readouterr().err
    # one bar over the 2 range ends and the 10 bisection steps
    assert "audiograms of 2 listeners" in err and "/12 [" in err and "step" in err


def test_off_ramp_is_a_raised_cosine_and_the_window_is_whole_bins():
    p = ToneProtocol(lead_s=0.05, tone_s=0.1, ramp_ms=10.0, tail_s=0.02)
    wave = p.tones(torch.tensor([1000.0]), torch.tensor([60.0]))[0].double()
    t = torch.arange(p.n_samples, dtype=torch.float64) / SAMPLE_RATE - 0.05
    peak = math.sqrt(2.0) * REF_PRESSURE_PA * 10 ** (60 / 20)
    off = (t >= 0.09) & (t < 0.1)  # raised-cosine off-ramp: envelope 0.5 - 0.5 cos(pi (0.1 - t) / 10 ms)
    expected = peak * torch.sin(2 * math.pi * 1000.0 * t) * (0.5 - 0.5 * torch.cos(math.pi * (0.1 - t) / 0.01))
    np.testing.assert_allclose(wave[off].numpy(), expected[off].numpy(), atol=1e-6 * peak)
    assert type(p.window.start) is int and type(p.window.stop) is int


def test_smallest_accepted_settings():
    # a criterion below 1 is accepted (only > 0 is required); a very short ramp with its two-ramp tone
    assert ToneProtocol(criterion=0.5).criterion == 0.5
    p = ToneProtocol(lead_s=0.0, tone_s=0.0001, ramp_ms=0.05)
    wave = p.tones(torch.tensor([1000.0]), torch.tensor([60.0]))
    assert bool(torch.isfinite(wave).all()) and float(wave[0, 0]) == 0.0


def test_protocols_with_different_settings_hash_differently():
    protocols = [ToneProtocol(), ToneProtocol(criterion=3.0), ToneProtocol(iterations=11), ToneProtocol(lead_s=0.1)]
    assert len({hash(p) for p in protocols}) == len(protocols)
    assert hash(ToneProtocol(criterion=3.0)) == hash(ToneProtocol(criterion=3.0))


def test_detectability_with_variable_silence():
    # silence with variance: 4 bins of Bernoulli(0.5) in silence (variance 1), 2 spikes per bin for the tone (none)
    window = slice(0, 4)
    silence = _probs([[0.5, 0.5, 0, 0, 0]], 4)
    tone = _probs([[0, 0, 1, 0, 0]], 4)
    # d = (8 - 2) / sqrt(0.5 (0 + 1) + 1e-6)
    assert float(detectability(tone, silence, window)[0]) == pytest.approx(6.0 / math.sqrt(0.5 + 1e-6), rel=1e-12)


def test_detectability_keeps_to_the_device_of_its_inputs_and_to_leading_axes():
    window = slice(1, 5)
    silence = _probs([[0.5, 0.5, 0, 0, 0], [0.2, 0.3, 0.5, 0, 0]], 6)
    tone = _probs([[0, 0, 1, 0, 0], [0, 0.1, 0.2, 0.3, 0.4]], 6)
    expected = detectability(tone, silence, window)
    with torch.device("meta"):  # another default device (a CUDA default, say) does not move the count classes
        torch.testing.assert_close(detectability(tone, silence, window), expected, rtol=0.0, atol=0.0)
    # extra leading axes (a batch of batches) give one d' per leading index, summed over channels only
    stacked = detectability(torch.stack([tone, silence]), torch.stack([silence, silence]), window)
    assert stacked.shape == (2, 1)
    torch.testing.assert_close(stacked[:, 0], torch.cat([expected, torch.zeros(1, dtype=torch.float64)]))
