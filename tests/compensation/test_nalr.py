"""NAL-R / NAL-RP prescription (Byrne & Dillon 1986; Byrne, Parkinson & Newall 1990) and the linear-phase FIR design."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import compensation
from compensation.fir import GainTableFIR, fft_convolve
from compensation.nalr import NALR_FREQS_HZ, nalr_gains
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
