"""NAL-R / NAL-RP prescription (Byrne & Dillon 1986; Byrne, Parkinson & Newall 1990) and the linear-phase FIR design."""

import csv
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

import compensation
from compensation.fir import GainTableFIR, fft_convolve
from compensation.nalr import (
    NALR_FREQS_HZ,
    interpolate_audiogram,
    nalr_gain_curve,
    nalr_gains,
    nalrp_profound_correction,
    resolve_variant,
)
from simulator.constants import SAMPLE_RATE
from simulator.errors import HearloopInputError

BISGAARD = Path(__file__).resolve().parents[2] / "audiometry" / "data" / "bisgaard_2010.csv"


def _bisgaard() -> dict[str, dict[float, float]]:
    with BISGAARD.open() as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    header = [float(f) for f in rows[0][1:]]
    return {row[0]: dict(zip(header, (float(v) for v in row[1:]), strict=True)) for row in rows[1:]}


# Hand-computed from IG_f = 0.15*3FA + 0.31*H_f + k_f, clipped at 0, e.g. N2: 3FA = (20+25+35)/3, X = 4.0,
# 250 Hz: 4 + 6.2 - 17 < 0 -> 0; 750 Hz: 4 + 0.31*22.5 - 3 = 7.975; 6000 Hz: 4 + 15.5 - 2 = 17.5.
EXPECTED_NALR = {
    "N2": [0.0, 2.2, 7.975, 12.75, 14.3, 13.85, 14.4, 15.95, 17.5],  # X = 4.0
    "N3": [0.1, 9.1, 14.1, 19.65, 21.2, 20.75, 21.3, 22.85, 24.4],  # X = 6.25
    "S2": [0.0, 3.2, 8.975, 13.75, 16.85, 21.05, 26.25, 32.45, 32.45],  # X = 5.0
    "N1": [0.0, 0.0, 1.85, 5.85, 5.85, 5.4, 5.95, 9.05, 12.15],  # X = 1.75
}
# N7: 3FA = (95+105+105)/3 = 101.667 > 60 -> X = 15.25 + 0.2*41.667 = 23.5833; H2000 = 105 -> p = row "105"
# (8, 5, [750: 5*(1-log(1.5)/log 2) = 2.0752], 0, -3, -5, -5, -5, -5). 250 Hz: 23.5833 + 27.9 - 17 + 8 = 42.4833.
EXPECTED_N7_NALRP = [42.4833, 50.0333, 53.6585, 57.1333, 54.1333, 50.1333, 49.1333, 49.1333, 49.1333]
# N6 forced NAL-RP: 3FA = 85 -> X = 12.75 + 5 = 17.75; H2000 = 90 < 95 -> no profound correction: NAL-R + 5 dB.
EXPECTED_N6_NALR = [19.0, 29.55, 35.325, 40.1, 41.65, 39.65, 40.2, 41.75, 41.75]


@pytest.mark.parametrize("name", sorted(EXPECTED_NALR))
def test_nalr_matches_hand_computed_formula(name):
    gains = compensation.nalr_gains(_bisgaard()[name])
    assert list(gains) == list(NALR_FREQS_HZ)
    np.testing.assert_allclose([gains[f] for f in NALR_FREQS_HZ], EXPECTED_NALR[name], atol=1e-9)


def test_nalrp_applies_only_to_n7_in_auto_mode_and_matches_hand_values():
    audiograms = _bisgaard()
    qualifying = sorted(n for n, a in audiograms.items() if a[2000.0] >= 95)
    assert qualifying == ["N7"]  # N6 has H2000 = 90 dB HL
    for name, audiogram in audiograms.items():
        expected_variant = "nal-rp" if name == "N7" else "nal-r"
        assert nalr_gains(audiogram) == nalr_gains(audiogram, expected_variant), name
    n7 = nalr_gains(audiograms["N7"])
    np.testing.assert_allclose([n7[f] for f in NALR_FREQS_HZ], EXPECTED_N7_NALRP, atol=1e-3)
    # relative to plain NAL-R: +0.2*(3FA-60) everywhere, plus the profound correction (+8 dB at 250, -5 dB at 4 kHz)
    n7_r = nalr_gains(audiograms["N7"], "nal-r")
    assert n7[250] - n7_r[250] == pytest.approx(0.2 * (305 / 3 - 60) + 8)
    assert n7[4000] - n7_r[4000] == pytest.approx(0.2 * (305 / 3 - 60) - 5)
    n6 = nalr_gains(audiograms["N6"])
    np.testing.assert_allclose([n6[f] for f in NALR_FREQS_HZ], EXPECTED_N6_NALR, atol=1e-9)
    n6_rp = nalr_gains(audiograms["N6"], "nal-rp")
    np.testing.assert_allclose([n6_rp[f] - n6[f] for f in NALR_FREQS_HZ], [5.0] * 9, atol=1e-9)


def test_missing_frequencies_are_log_interpolated_and_3fa_is_required():
    audiogram = {250: 20, 500: 30, 1000: 40, 2000: 50, 4000: 70}
    gains = nalr_gains(audiogram)
    h750 = 30 + 10 * math.log(1.5) / math.log(2)  # log-frequency interpolation between 500 and 1000 Hz
    x = 0.15 * 40
    assert gains[750] == pytest.approx(x + 0.31 * h750 - 3)
    assert gains[6000] == pytest.approx(x + 0.31 * 70 - 2)  # held flat above 4 kHz
    assert nalr_gains({500: 30, 2000: 50})[1000] == pytest.approx(x + 0.31 * 40 + 1)
    with pytest.raises(HearloopInputError, match="three-frequency average"):
        nalr_gains({1000: 40, 2000: 50, 4000: 60})
    with pytest.raises(HearloopInputError, match="threshold at 2000 Hz"):
        nalr_gains({500: 30, 1000: 40, 2000: float("nan")})
    with pytest.raises(HearloopInputError, match="frequency"):
        nalr_gains({-500: 30, 1000: 40, 2000: 50})
    with pytest.raises(HearloopInputError, match="variant"):
        nalr_gains(audiogram, "nal-nl2")
    with pytest.raises(HearloopInputError, match="non-empty"):
        nalr_gains({})


def _response_db_at(impulse_response: np.ndarray, freqs_hz) -> np.ndarray:
    n = np.arange(len(impulse_response))
    dft = np.array([np.sum(impulse_response * np.exp(-2j * np.pi * f * n / SAMPLE_RATE)) for f in freqs_hz])
    return 20 * np.log10(np.abs(dft))


@pytest.mark.parametrize("name", ["N2", "N4", "S2", "N7"])
def test_fir_response_matches_requested_gains_and_firwin2(name):
    gains = np.array([nalr_gains(_bisgaard()[name])[f] for f in NALR_FREQS_HZ])
    fir = GainTableFIR(NALR_FREQS_HZ)
    assert fir.numtaps == 783
    taps = fir.taps(torch.tensor(gains, dtype=torch.float32))[0].double().numpy()
    reference = fir.scipy_taps(gains)
    np.testing.assert_allclose(taps, reference, atol=1e-5 * np.abs(reference).max())
    # measure through the strategy: impulse in, DFT of the (causal) impulse response at the NAL-R frequencies
    strategy = compensation.NALRStrategy(compensate_delay=False)
    impulse = torch.zeros(1, 4096)
    impulse[0, 0] = 1e-3
    theta = torch.tensor([*gains, 0.0], dtype=torch.float32).clamp(max=60.0)
    ir = strategy(impulse, theta)[0].double().numpy() / 1e-3
    measured = _response_db_at(ir, NALR_FREQS_HZ)
    assert np.abs(measured - theta[:9].numpy()).max() < 1.0
    # the volume parameter shifts the whole response
    louder = strategy(impulse, torch.cat([theta[:9], torch.tensor([-6.0])]))[0].double().numpy() / 1e-3
    np.testing.assert_allclose(_response_db_at(louder, NALR_FREQS_HZ) - measured, -6.0, atol=0.01)


def test_delay_compensation_advances_by_group_delay():
    strategy = compensation.NALRStrategy(compensate_delay=True)
    causal = compensation.NALRStrategy(compensate_delay=False)
    audio = 0.01 * torch.randn(2, 3000, generator=torch.Generator().manual_seed(0))
    theta = strategy.prescribe(_bisgaard()["N3"])
    aligned, delayed = strategy(audio, theta), causal(audio, theta)
    d = strategy.delay_samples
    assert d == 391 and aligned.shape == audio.shape
    torch.testing.assert_close(aligned[:, : 3000 - d], delayed[:, d:], atol=1e-6, rtol=1e-4)


def test_fft_convolve_equals_direct_convolution():
    rng = np.random.default_rng(1)
    x, h = rng.standard_normal((2, 300)), rng.standard_normal((2, 31))
    out = fft_convolve(torch.tensor(x), torch.tensor(h), compensate_delay=False).numpy()
    for b in range(2):
        np.testing.assert_allclose(out[b], np.convolve(x[b], h[b])[:300], atol=1e-9)


# ------------------------------------------------------------------------------------------- NAL-RP and boundaries
# The published NAL-RP profound-loss table (Byrne, Parkinson & Newall 1990; Dillon 2012, ch. 10), copied from the
# paper: H2000 (dB HL) -> corrections at 250, 500, 1000, 1500, 2000, 3000, 4000, 6000 Hz.
PUBLISHED_NALRP = {
    95: (4, 3, 0, -1, -2, -2, -2, -2),
    100: (6, 4, 0, -2, -3, -3, -3, -3),
    105: (8, 5, 0, -3, -5, -5, -5, -5),
    110: (11, 7, 0, -3, -6, -6, -6, -6),
    115: (13, 8, 0, -4, -8, -8, -8, -8),
    120: (15, 9, 0, -5, -9, -9, -9, -9),
}
TABLE_FREQS = (250, 500, 1000, 1500, 2000, 3000, 4000, 6000)
LOG_750 = math.log(1.5) / math.log(2.0)  # position of 750 Hz between 500 and 1000 Hz on log frequency: 0.585


@pytest.mark.parametrize("h2000", sorted(PUBLISHED_NALRP))
def test_nalrp_profound_correction_reproduces_every_published_row(h2000):
    row = PUBLISHED_NALRP[h2000]
    np.testing.assert_allclose(nalrp_profound_correction(h2000, TABLE_FREQS), row, atol=1e-12)
    # 750 Hz, between the 500 and 1000 Hz columns on log frequency: p500 + (p1000 - p500) * 0.585
    p750 = row[1] + (row[2] - row[1]) * LOG_750
    assert nalrp_profound_correction(h2000, [750])[0] == pytest.approx(p750, abs=1e-12)


@pytest.mark.parametrize(
    ("h2000", "expected"),
    [
        (94.99, (0,) * 8),  # below the 95 dB HL criterion: no correction
        (95.0, PUBLISHED_NALRP[95]),  # the criterion itself is included
        (97.5, (5, 3.5, 0, -1.5, -2.5, -2.5, -2.5, -2.5)),  # half-way between the 95 and 100 rows
        (112.5, (12, 7.5, 0, -3.5, -7, -7, -7, -7)),  # half-way between the 110 and 115 rows
        (130.0, PUBLISHED_NALRP[120]),  # held at the 120 row above it
    ],
)
def test_nalrp_profound_correction_around_its_boundaries(h2000, expected):
    np.testing.assert_allclose(nalrp_profound_correction(h2000, TABLE_FREQS), expected, atol=1e-12)


def test_nalrp_correction_is_keyed_on_h2000_not_h1000():
    # H1000 = 100, H2000 = 110: the 110 row (+11 at 250 Hz, -6 at 4 kHz) applies, not the 100 row (+6, -3)
    audiogram = {250: 80.0, 500: 90.0, 1000: 100.0, 2000: 110.0, 4000: 115.0, 6000: 115.0}
    gains, plain = nalr_gains(audiogram), nalr_gains(audiogram, "nal-r")
    slope = 0.2 * (300.0 / 3.0 - 60.0)  # 3FA = 100 > 60: + 8 dB everywhere
    assert gains[250] - plain[250] == pytest.approx(slope + 11.0)
    assert gains[4000] - plain[4000] == pytest.approx(slope - 6.0)
    # the full prescription from the formula: X = 0.15 * 100 + 8 = 23; 250 Hz: 23 + 0.31 * 80 - 17 + 11 = 41.8
    assert gains[250] == pytest.approx(41.8)
    assert gains[2000] == pytest.approx(23.0 + 0.31 * 110.0 - 1.0 - 6.0)  # 50.1


@pytest.mark.parametrize(
    ("audiogram", "variant"),
    [
        ({500: 90.0, 1000: 95.0, 2000: 95.0, 4000: 100.0}, "nal-rp"),  # H2000 = 95: NAL-RP
        ({500: 90.0, 1000: 95.0, 2000: 94.9, 4000: 100.0}, "nal-r"),  # H2000 just below 95
        ({500: 90.0, 1000: 100.0, 2000: 97.0, 4000: 100.0}, "nal-rp"),  # between the 95 and 100 rows
        ({500: 90.0, 1000: 100.0, 2000: 95.0, 4000: 60.0}, "nal-rp"),  # 2000 Hz measured; falling above it
        ({500: 100.0, 1000: 100.0, 4000: 60.0}, "nal-r"),  # H2000 interpolated: 80 dB HL
    ],
)
def test_auto_variant_is_nal_rp_from_h2000_95_db_hl(audiogram, variant):
    assert resolve_variant(audiogram) == variant
    assert nalr_gains(audiogram) == nalr_gains(audiogram, variant)
    assert resolve_variant(audiogram, "nal-r") == "nal-r" and resolve_variant(audiogram, "nal-rp") == "nal-rp"


def test_nalrp_steeper_slope_starts_above_3fa_60():
    flat = {500: 60.5, 1000: 60.5, 2000: 60.5}  # 3FA = 60.5: + 0.2 * 0.5 = 0.1 dB everywhere
    diff = [nalr_gains(flat, "nal-rp")[f] - nalr_gains(flat, "nal-r")[f] for f in NALR_FREQS_HZ]
    np.testing.assert_allclose(diff, 0.1, atol=1e-12)
    at_60 = {500: 60.0, 1000: 60.0, 2000: 60.0}
    assert nalr_gains(at_60, "nal-rp") == nalr_gains(at_60, "nal-r")


def test_gain_curve_is_the_prescription_interpolated_on_log_frequency():
    audiograms = _bisgaard()
    n3 = nalr_gains(audiograms["N3"])
    curve = nalr_gain_curve(audiograms["N3"], [125.0, *NALR_FREQS_HZ, 8000.0, math.sqrt(2000.0 * 3000.0)])
    np.testing.assert_allclose(curve[1:10], [n3[f] for f in NALR_FREQS_HZ], atol=1e-12)
    assert curve[0] == pytest.approx(n3[250]) and curve[10] == pytest.approx(n3[6000])  # flat outside
    assert curve[11] == pytest.approx((n3[2000] + n3[3000]) / 2)  # geometric mean frequency: the midpoint
    n7 = nalr_gain_curve(audiograms["N7"], NALR_FREQS_HZ)  # default "auto": NAL-RP for N7
    np.testing.assert_allclose(n7, EXPECTED_N7_NALRP, atol=1e-3)
    np.testing.assert_allclose(
        nalr_gain_curve(audiograms["N7"], [250.0], "nal-r"), [nalr_gains(audiograms["N7"], "nal-r")[250]]
    )


@pytest.mark.parametrize("as_freqs", [lambda f: f.astype(np.float32), lambda f: torch.tensor(f, dtype=torch.float32)])
def test_float32_frequencies_are_interpolated_in_float64(as_freqs):
    # Whole-Hz frequencies are exact in float32, so a float32 array (or tensor, e.g. a filterbank's centre
    # frequencies) must give the float64 result exactly; a log taken in float32 moves each value by about 1e-6 dB.
    audiogram = _bisgaard()["S2"]
    freqs = np.array([300.0, 700.0, 1200.0, 2500.0, 5000.0])
    for curve in (lambda f: interpolate_audiogram(audiogram, f), lambda f: nalr_gain_curve(audiogram, f)):
        reference, result = curve(freqs), curve(as_freqs(freqs))
        assert result.dtype == np.float64
        np.testing.assert_array_equal(result, reference)


@pytest.mark.parametrize(
    ("audiogram", "match"),
    [
        ({500: "loud", 1000: 40, 2000: 50}, r"500 Hz \(dB HL\) must be a number in \[-20, 140\], got 'loud'"),
        ({0: 30, 500: 30, 1000: 40, 2000: 50}, r"frequency 0 \(Hz\) must be a number in \[20, 20000\], got 0"),
        ({500: 30, 1000: 40, 2000: 140.5}, r"2000 Hz \(dB HL\) must be a number in \[-20, 140\], got 140.5"),
        ({500: -20.5, 1000: 40, 2000: 50}, r"500 Hz \(dB HL\) must be a number in \[-20, 140\], got -20.5"),
        ({500: 30, 1000: float("inf"), 2000: 50}, r"1000 Hz \(dB HL\) must be .* \[-20, 140\], got inf"),
        ({"500": 30, "500.0": 35, 1000: 40, 2000: 50}, r"frequency '500' \(Hz\) must be a number in \[20, 20000\]"),
        ({501: 30, 1000: 40, 2000: 50}, r"\[500\] Hz lie outside the measured range"),
        ({1500: 30, 2000: 40, 4000: 50}, r"\[500, 1000\] Hz lie outside"),
        ({250: 30, 500: 40, 800: 50}, r"\[1000, 2000\] Hz lie outside"),
    ],
)
def test_bad_audiograms_are_named(audiogram, match):
    with pytest.raises(HearloopInputError, match=match):
        nalr_gains(audiogram)


def test_audiogram_errors_name_the_audiogram_and_repeated_frequencies():
    with pytest.raises(
        HearloopInputError, match=r"^audiogram frequency 0 \(Hz\) must be a number in \[20, 20000\], got 0$"
    ):
        nalr_gains({0: 30, 500: 30, 1000: 40, 2000: 50})
    # 500 and a fraction a hair above it are two dict keys but one frequency once read as float Hz
    with pytest.raises(
        HearloopInputError, match=r"^audiogram has duplicate frequencies: \[500\.0, 500\.0, 1000\.0, 2000\.0\]$"
    ):
        nalr_gains({500: 30, Fraction(500 * 10**20 + 1, 10**20): 35, 1000: 40, 2000: 50})


def test_audiogram_limits_and_the_smallest_frequency_are_accepted():
    edges = {20: 140.0, 500: -20.0, 1000: 40.0, 2000: 50.0}  # 20 Hz the audible floor; -20 and 140 dB HL the limits
    np.testing.assert_allclose(interpolate_audiogram(edges, [20.0, 500.0]), [140.0, -20.0])
    assert resolve_variant(edges) == "nal-r"
