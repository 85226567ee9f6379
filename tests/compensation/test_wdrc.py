"""WDRC: exact vectorised one-pole, static I/O curve, attack/release timing, agreement with a per-sample detector."""

import warnings

import numpy as np
import pytest
import scipy.signal
import torch

from compensation import WDRC, attack_release_envelope, one_pole_smooth
from compensation.limiter import DEFAULT_MAX_OUTPUT_DB_SPL
from compensation.nalr import nalr_gain_curve
from compensation.wdrc import branching_detector, soft_knee_excess, static_gain_db
from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE
from simulator.errors import HearloopInputError

FS = SAMPLE_RATE


def _tone(freq_hz: float, levels_db: np.ndarray) -> np.ndarray:
    """Sinusoid whose RMS level follows ``levels_db`` (per sample, dB SPL)."""
    t = np.arange(len(levels_db)) / FS
    return np.sqrt(2) * REF_PRESSURE_PA * 10 ** (levels_db / 20) * np.sin(2 * np.pi * freq_hz * t)


def _theta(wdrc: WDRC, threshold=50.0, ratio=3.0, gain=10.0, attack_ms=5.0, release_ms=50.0) -> torch.Tensor:
    values = [threshold, ratio, gain, attack_ms, release_ms]
    return torch.tensor([v for v in values for _ in range(wdrc.n_bands)], dtype=torch.float32)


def test_one_pole_is_exact_iir():
    rng = np.random.default_rng(0)
    power = rng.random((3, 4000)) ** 2
    taus = np.array([0.001, 0.05, 0.5])
    out = one_pole_smooth(torch.tensor(power), torch.tensor(taus), FS).numpy()
    for i, tau in enumerate(taus):
        a = np.exp(-1 / (tau * FS))
        np.testing.assert_allclose(out[i], scipy.signal.lfilter([1 - a], [1, -a], power[i]), rtol=1e-9, atol=1e-12)
    # float32 keeps relative precision (non-negative input: no cancellation), even 100 dB below an earlier burst
    burst = np.concatenate([np.full(2000, 1e4), np.full(6000, 1e-6)])
    out32 = one_pole_smooth(torch.tensor(burst, dtype=torch.float32), torch.tensor(0.005), FS).double().numpy()
    a = np.exp(-1 / (0.005 * FS))
    np.testing.assert_allclose(out32, scipy.signal.lfilter([1 - a], [1, -a], burst), rtol=2e-5)


def test_one_pole_broadcasts_one_time_constant_over_every_channel():
    power = np.random.default_rng(1).random((2, 3, 500)) ** 2
    out = one_pole_smooth(torch.tensor(power), torch.tensor(0.002, dtype=torch.float64), FS).numpy()
    a = np.exp(-1 / (0.002 * FS))
    np.testing.assert_allclose(out, scipy.signal.lfilter([1 - a], [1, -a], power, axis=-1), rtol=1e-9, atol=1e-12)


def test_one_pole_works_in_the_power_dtype_or_float32_whatever_the_time_constant_dtype():
    power = np.random.default_rng(2).random((1, 3000)) ** 2
    tau = torch.tensor([0.0005], dtype=torch.float32)  # the shortest attack; tau of another dtype than the power
    a = np.exp(-1 / (float(tau) * FS))  # the float32 tau's own value, in float64
    ref = scipy.signal.lfilter([1 - a], [1, -a], power)
    out64 = one_pole_smooth(torch.tensor(power), tau, FS)
    assert out64.dtype == torch.float64
    np.testing.assert_allclose(out64.numpy(), ref, rtol=1e-9)  # computed in float64, not in the tau's float32
    out32 = one_pole_smooth(torch.tensor(power, dtype=torch.float32), tau, FS)
    np.testing.assert_allclose(out32.double().numpy(), ref, rtol=2e-5)  # blocks short enough for a^-L in float32
    half = one_pole_smooth(torch.tensor(power, dtype=torch.float16), tau, FS)  # computed in float32 (a^-L > 65504)
    assert half.dtype == torch.float16
    np.testing.assert_allclose(half.double().numpy(), ref, rtol=2e-3, atol=1e-4)


def test_one_pole_of_a_single_sample_is_one_minus_a_times_it():
    a = np.exp(-1 / (0.01 * FS))
    out = one_pole_smooth(torch.tensor([[2.0], [3.0]], dtype=torch.float64), torch.tensor([0.01, 0.01]), FS)
    np.testing.assert_allclose(out.numpy(), [[2.0 * (1 - a)], [3.0 * (1 - a)]], rtol=1e-6)


def test_attack_release_envelope_is_the_larger_one_pole_at_the_given_rate():
    rate = 16000.0
    power = np.concatenate([np.zeros(100), np.full(400, 1e-4), np.full(1000, 1e-6)])[None].repeat(2, 0)
    attack_s, release_s = np.array([0.001, 0.004]), np.array([0.02, 0.05])
    out = attack_release_envelope(torch.tensor(power), torch.tensor(attack_s), torch.tensor(release_s), rate).numpy()
    for c in range(2):
        poles = np.exp(-1 / (np.array([attack_s[c], release_s[c]]) * rate))
        smooth = [scipy.signal.lfilter([1 - a], [1, -a], power[c]) for a in poles]
        np.testing.assert_allclose(out[c], np.maximum(*smooth), rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize(("att", "rel"), [(0.005, 0.05), (0.01, 0.1)])
def test_vectorised_detector_matches_per_sample_reference_within_documented_tolerance(att, rel):
    t = np.arange(int(0.6 * FS)) / FS
    levels = np.where((t > 0.2) & (t < 0.4), 80.0, 50.0)
    signals = [_tone(f, levels) for f in (250.0, 1000.0, 4000.0)]
    noise = np.random.default_rng(3).standard_normal(len(t)) * REF_PRESSURE_PA * 10 ** (levels / 20)
    power = np.stack([*signals, noise]) ** 2
    vec = attack_release_envelope(torch.tensor(power), torch.tensor(att), torch.tensor(rel), FS).numpy()
    ref = branching_detector(power, att, rel)
    after = t > att
    diff_db = 10 * np.log10(ref[:, after] / vec[:, after])
    steady = (t[after] > 0.35) & (t[after] < 0.4)
    offset = np.median(diff_db[:, steady], axis=1)
    # documented in compensation/wdrc.py: tones 2.1 dB offset, <= 2.8 dB anywhere; noise 4.3 dB, <= 4.8 dB
    np.testing.assert_allclose(offset[:3], 2.11, atol=0.1)
    assert np.abs(diff_db[:3]).max() < 2.9
    assert np.abs(diff_db[:3] - offset[:3, None]).max() < 2.2
    assert 3.8 < offset[3] < 4.8 and np.abs(diff_db[3]).max() < 5.0
    # the vectorised level of a steady tone is its RMS level
    level_db = 10 * np.log10(vec[1, (t > 0.35) & (t < 0.4)] / REF_PRESSURE_PA**2)
    assert np.abs(level_db - 80.0).max() < 0.3


def test_static_io_curve_has_slope_one_below_and_one_over_ratio_above_threshold():
    wdrc = WDRC(n_bands=8)  # default 1025 taps: less cross-band leakage (which raises the output slope slightly)
    band = 4
    fc = float(wdrc.filterbank.centres_hz[band])
    in_levels = np.arange(20.0, 101.0, 10.0)
    n = int(0.3 * FS)
    audio = torch.tensor(np.stack([_tone(fc, np.full(n, lv)) for lv in in_levels]), dtype=torch.float32)
    theta = _theta(wdrc, threshold=50.0, ratio=3.0, gain=10.0)
    out = wdrc(audio, theta)[:, -int(0.1 * FS) :].double()
    out_levels = 20 * np.log10(out.pow(2).mean(1).sqrt().numpy() / REF_PRESSURE_PA)
    slope = np.diff(out_levels) / 10.0
    below, above = slope[:2], slope[-3:]  # 20->40 dB and 70->100 dB (away from the 6 dB knee)
    np.testing.assert_allclose(below, 1.0, atol=0.03)
    np.testing.assert_allclose(above, 1.0 / 3.0, atol=0.03)
    # absolute: G - (1 - 1/CR)(L - T) at 100 dB SPL input = 110 - 2/3 * 50
    assert out_levels[-1] == pytest.approx(100 + 10 - (2 / 3) * 50, abs=0.5)
    assert out_levels[0] == pytest.approx(30.0, abs=0.5)


@pytest.mark.parametrize(("attack_ms", "release_ms"), [(5.0, 50.0), (2.0, 100.0)])
def test_gain_follows_level_steps_with_configured_time_constants(attack_ms, release_ms):
    wdrc = WDRC(n_bands=8, numtaps=513)
    band = 4
    fc = float(wdrc.filterbank.centres_hz[band])
    t = np.arange(int(1.0 * FS)) / FS
    t_up, t_down = 0.2, 0.7
    audio = torch.tensor(_tone(fc, np.where((t >= t_up) & (t < t_down), 80.0, 50.0)), dtype=torch.float32)[None]
    theta = _theta(wdrc, threshold=35.0, ratio=3.0, gain=20.0, attack_ms=attack_ms, release_ms=release_ms)
    analysis = wdrc.analyse(audio, wdrc.validate_theta(theta))
    gain = analysis["gains_db"][0, band].double().numpy()
    slope = 1 - 1 / 3
    g_low, g_high = gain[(t > t_up - 0.05) & (t < t_up)].mean(), gain[(t > t_down - 0.05) & (t < t_down)].mean()
    assert g_low - g_high == pytest.approx(slope * 30, abs=0.5)  # 30 dB level step -> 20 dB gain reduction
    # attack: power reaches 63 % of its step (level within 2.0 dB of the final level) after tau_A
    reached = np.nonzero((t >= t_up) & (gain <= g_high + slope * 2.0))[0][0]
    assert (t[reached] - t_up) * 1000 == pytest.approx(attack_ms, rel=0.3, abs=0.6)
    # release: power decays to 37 % of its step (level 4.34 dB below the loud level) after tau_R
    released = np.nonzero((t >= t_down) & (gain >= g_high + slope * 10 * np.log10(np.e)))[0][0]
    assert (t[released] - t_down) * 1000 == pytest.approx(release_ms, rel=0.15)
    # the gain applied is the static curve of the detected level
    levels = analysis["levels_db"][0, band]
    expected = 20.0 - slope * torch.clamp(levels - 35.0, min=0)
    far_from_knee = (levels - 35.0).abs() > 3.0
    torch.testing.assert_close(analysis["gains_db"][0, band][far_from_knee], expected[far_from_knee])


def test_attack_and_release_times_change_the_output_and_receive_gradients():
    wdrc = WDRC(n_bands=4, numtaps=257)
    t = np.arange(4096) / FS
    audio = torch.tensor(_tone(1000.0, np.where(t > 0.05, 85.0, 45.0)), dtype=torch.float32)[None]
    fast = _theta(wdrc, attack_ms=1.0, release_ms=20.0).requires_grad_(True)
    slow = _theta(wdrc, attack_ms=20.0, release_ms=200.0)
    y_fast, y_slow = wdrc(audio, fast), wdrc(audio, slow)
    assert float((y_fast - y_slow).detach().abs().max()) > 1e-3
    y_fast.pow(2).sum().backward()
    grads = wdrc.split_theta(fast.grad.unsqueeze(0))
    assert float(grads["attack_ms"].abs().sum()) > 0 and bool(torch.isfinite(fast.grad).all())


# ---------------------------------------------------------------------------------- formulas at known values
@pytest.mark.parametrize(
    ("over_db", "expected"),
    # s(d) = 0 below -W/2, (d + W/2)^2 / (2W) inside, d above; W = 6 dB: s(-3) = 0, s(0) = 9/12, s(3) = 36/12 = 3
    [
        (-10.0, 0.0),
        (-3.0, 0.0),
        (-1.0, 4.0 / 12.0),
        (0.0, 0.75),
        (2.0, 25.0 / 12.0),
        (3.0, 3.0),
        (3.5, 3.5),
        (20.0, 20.0),
    ],
)
def test_soft_knee_excess_values(over_db, expected):
    assert float(soft_knee_excess(torch.tensor(over_db, dtype=torch.float64), 6.0)) == pytest.approx(
        expected, abs=1e-12
    )


@pytest.mark.parametrize(
    ("knee_db", "over_db", "expected"),
    # a knee narrower than 1 dB is still soft: W = 1 dB: s(0) = 0.5^2 / 2, s(0.4) = 0.9^2 / 2; W = 0.5 dB: s(0) = 1/16
    [(1.0, 0.0, 0.125), (1.0, 0.4, 0.405), (1.0, -0.5, 0.0), (1.0, 0.6, 0.6), (0.5, 0.0, 0.0625), (0.5, 0.2, 0.2025)],
)
def test_narrow_soft_knee_values(knee_db, over_db, expected):
    assert float(soft_knee_excess(torch.tensor(over_db, dtype=torch.float64), knee_db)) == pytest.approx(
        expected, abs=1e-12
    )


def test_hard_knee_and_static_gain_values():
    d = torch.tensor([-2.0, 0.0, 2.0], dtype=torch.float64)
    np.testing.assert_allclose(soft_knee_excess(d, 0.0).numpy(), [0.0, 0.0, 2.0])
    # G - (1 - 1/CR) s(L - T): L = 80, T = 50, CR = 3, G = 10 -> 10 - 2/3 * 30 = -10; at L = T: 10 - 2/3 * 0.75 = 9.5
    levels = torch.tensor([80.0, 50.0, 30.0], dtype=torch.float64)
    t64 = torch.float64
    gains = static_gain_db(
        levels, torch.tensor(50.0, dtype=t64), torch.tensor(3.0, dtype=t64), torch.tensor(10.0, dtype=t64), 6.0
    )
    np.testing.assert_allclose(gains.numpy(), [-10.0, 9.5, 10.0], atol=1e-12)


def test_prescription_follows_the_documented_rule():
    wdrc = WDRC(n_bands=8, numtaps=257)
    centres = np.asarray(wdrc.filterbank.centres_hz)
    audiogram = {250: 0.0, 500: 30.0, 4000: 90.0, 8000: 125.0}
    fields = {k: v[0].numpy().astype(float) for k, v in wdrc.split_theta(wdrc.prescribe(audiogram)[None]).items()}
    # thresholds on log frequency: 30 dB HL at 500 Hz rising 20 dB per octave to 90 at 4 kHz, then to 125 at 8 kHz
    hl = np.interp(np.log2(centres), np.log2([250, 500, 4000, 8000]), [0.0, 30.0, 90.0, 125.0])
    ratio = np.clip(1.0 / (1.0 - np.minimum(np.maximum(hl, 0.0), 119.0) / 120.0), 1.0, 4.0)  # CR = 1 / (1 - HL / 120)
    np.testing.assert_allclose(fields["ratio"], ratio, rtol=1e-6)
    assert fields["ratio"][centres >= 4000] == pytest.approx(4.0)  # 90 dB HL and above: the ceiling of 4
    # gain: NAL-R at the band centre plus the compression of the band's share of 65 dB SPL speech above T = 45 dB SPL:
    # 65 - 10 log10(8) - 45 = 10.97 dB, beyond the 3 dB half-knee, so s = 10.97
    excess = 65.0 - 10.0 * np.log10(8.0) - 45.0
    expected_gain = nalr_gain_curve(audiogram, centres) + (1.0 - 1.0 / ratio) * excess
    np.testing.assert_allclose(fields["gain_db"], np.minimum(expected_gain, 70.0), rtol=1e-5)
    assert fields["threshold_db_spl"].tolist() == [45.0] * 8
    assert fields["attack_ms"].tolist() == [5.0] * 8 and fields["release_ms"].tolist() == [50.0] * 8


def test_prescription_is_clipped_to_the_parameter_bounds_and_bounds_are_checked():
    wdrc = WDRC(n_bands=4, numtaps=129, bounds={"ratio": (1.0, 2.5), "gain_db": (0.0, 30.0)})
    fields = wdrc.split_theta(wdrc.prescribe({250: 90.0, 500: 90.0, 1000: 90.0, 2000: 90.0, 4000: 90.0})[None])
    assert fields["ratio"][0].tolist() == [2.5] * 4  # CR 4 clipped to the upper bound
    assert fields["gain_db"][0].tolist() == [30.0] * 4
    with pytest.raises(ValueError, match=r"unknown WDRC bound fields \['knee'\]"):
        WDRC(bounds={"knee": (0.0, 1.0)})


@pytest.mark.parametrize("tau", [0.0, -0.01, float("nan"), float("inf")])
def test_one_pole_rejects_bad_time_constants(tau):
    with pytest.raises(HearloopInputError, match=r"^one-pole time constants must be positive and finite$"):
        one_pole_smooth(torch.ones(1, 100), torch.tensor([tau]))


@pytest.mark.parametrize("variant", ["nal-r", "nal-rp"])
def test_prescription_uses_the_configured_nal_r_variant(variant):
    # H2000 = 100 dB HL: "auto" would pick NAL-RP; each configured variant gives its own gains
    audiogram = {250: 60.0, 500: 70.0, 1000: 85.0, 2000: 100.0, 4000: 105.0}
    wdrc = WDRC(n_bands=4, numtaps=129, variant=variant, bounds={"gain_db": (-100.0, 200.0)})
    centres = np.asarray(wdrc.filterbank.centres_hz)
    fields = {k: v[0].numpy().astype(float) for k, v in wdrc.split_theta(wdrc.prescribe(audiogram)[None]).items()}
    excess = 65.0 - 10.0 * np.log10(4.0) - 45.0  # 13.0 dB above T, beyond the half-knee
    expected = nalr_gain_curve(audiogram, centres, variant) + (1.0 - 1.0 / fields["ratio"]) * excess
    np.testing.assert_allclose(fields["gain_db"], expected, rtol=1e-5)
    other = "nal-rp" if variant == "nal-r" else "nal-r"
    assert not np.allclose(nalr_gain_curve(audiogram, centres, variant), nalr_gain_curve(audiogram, centres, other))


def test_profound_prescription_reaches_the_ratio_ceiling_without_numpy_warnings():
    wdrc = WDRC(n_bands=4, numtaps=129)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # HL at or above 120 dB must not divide by zero
        theta = wdrc.prescribe({250: 120.0, 500: 125.0, 1000: 130.0, 2000: 120.0, 4000: 140.0, 8000: 120.0})
    assert theta.dtype == torch.float32
    assert wdrc.split_theta(theta[None])["ratio"][0].tolist() == [4.0] * 4


def test_band_levels_are_the_db_spl_of_the_larger_one_pole_floored_at_minus_20_db_spl():
    # float64 bands at a rate that the strategy accepts but that is not exactly SAMPLE_RATE (within 1e-6): the
    # detector must use the strategy's own rate and the time constants in seconds (ms / 1000)
    rate = FS * (1 + 5e-7)
    wdrc = WDRC(n_bands=3, numtaps=65, sample_rate=rate)
    n = 3000
    t = np.arange(n) / rate
    on = np.where(t < 0.06, 70.0, 40.0)  # a loud start, then 30 dB quieter: attack, then release
    bands = np.stack([_tone(1000.0, on), np.zeros(n), np.full(n, REF_PRESSURE_PA * 10 ** (-10.0 / 20))])
    attack_ms, release_ms = np.array([2.0, 5.0, 5.0]), np.array([30.0, 50.0, 50.0])
    fields = {"attack_ms": torch.tensor(attack_ms)[None], "release_ms": torch.tensor(release_ms)[None]}
    levels = wdrc.band_levels_db(torch.tensor(bands)[None], fields)[0]
    assert levels.dtype == torch.float64 and levels.shape == (3, n)

    def one_pole(power, tau_ms):
        a = np.exp(-1000.0 / (tau_ms * rate))
        return scipy.signal.lfilter([1 - a], [1, -a], power)

    floor = 4e-12  # (20 uPa * 10^(-20/20))^2: -20 dB SPL
    for b in range(3):
        power = bands[b] ** 2
        envelope = np.maximum(one_pole(power, attack_ms[b]), one_pole(power, release_ms[b]))
        expected = 10 * np.log10(np.maximum(envelope, floor) / REF_PRESSURE_PA**2)
        np.testing.assert_allclose(levels[b].numpy(), expected, rtol=0, atol=1e-9)
    assert levels[1].tolist() == pytest.approx([-20.0] * n, abs=1e-12)  # silence reads the floor, never log(0)
    # a constant -10 dB SPL signal (above the floor) charges to its level with the attack time constant: at the
    # sample n + 1 = tau fs the power is 1 - 1/e of its final value
    k = round(5.0e-3 * rate) - 1
    a = np.exp(-1000.0 / (5.0 * rate))
    assert float(levels[2, k]) == pytest.approx(-10.0 + 10 * np.log10(1 - a ** (k + 1)), abs=1e-9)


def test_default_wdrc_has_eight_bands_from_125_hz_to_10_khz():
    wdrc = WDRC()
    bank = wdrc.filterbank
    assert (wdrc.n_bands, bank.n_bands, bank.numtaps, bank.sample_rate) == (8, 8, 1025, SAMPLE_RATE)
    np.testing.assert_allclose(bank.edges_hz, np.geomspace(125.0, 10000.0, 9), rtol=1e-12)
    assert (wdrc.knee_db, wdrc.compensate_delay, wdrc.variant) == (6.0, True, "auto")
    assert wdrc.limiter.max_output_db_spl == DEFAULT_MAX_OUTPUT_DB_SPL and wdrc.sample_rate == SAMPLE_RATE


def test_settings_reach_the_filterbank_the_limiter_and_the_band_split():
    rate = FS * (1 + 5e-7)  # accepted (within 1e-6 of SAMPLE_RATE) but not SAMPLE_RATE itself
    settings = {"n_bands": 3, "f_low": 200.0, "f_high": 5000.0, "numtaps": 65, "max_output_db_spl": 100.0}
    wdrc = WDRC(**settings, knee_db=2.0, compensate_delay=False, variant="nal-r", sample_rate=rate)
    bank = wdrc.filterbank
    assert (wdrc.sample_rate, bank.sample_rate, bank.n_bands, bank.numtaps) == (rate, rate, 3, 65)
    np.testing.assert_allclose(bank.edges_hz, np.geomspace(200.0, 5000.0, 4), rtol=1e-12)
    assert (wdrc.knee_db, wdrc.compensate_delay, wdrc.variant) == (2.0, False, "nal-r")
    assert wdrc.limiter.max_output_db_spl == 100.0
    # the bands of an impulse at sample 10 sum to the impulse delayed by the group delay of 32 samples, or not delayed
    impulse = torch.zeros(1, 256)
    impulse[0, 10] = 1.0
    delayed = wdrc.analyse(impulse, _theta(wdrc)[None])["bands"].sum(1)[0]
    aligned = WDRC(**settings, compensate_delay=True).analyse(impulse, _theta(wdrc)[None])["bands"].sum(1)[0]
    expected = torch.zeros(256)
    torch.testing.assert_close(delayed, expected.index_fill(0, torch.tensor([42]), 1.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(aligned, expected.index_fill(0, torch.tensor([10]), 1.0), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool, torch.complex64])
def test_band_levels_refuse_band_signals_that_are_not_floating_point(dtype):
    wdrc = WDRC(n_bands=2, numtaps=65)
    fields = {"attack_ms": torch.full((1, 2), 5.0), "release_ms": torch.full((1, 2), 50.0)}
    message = rf"^band signals must be floating-point pressures \(Pa\), got {dtype}$"
    with pytest.raises(HearloopInputError, match=message):
        wdrc.band_levels_db(torch.ones(1, 2, 100, dtype=dtype), fields)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_bands_read_their_levels_in_float32_and_return_them_in_their_dtype(dtype):
    # float16 used to overflow p / p0^2 (levels +inf) and give log(0) for silence (-inf); quiet powers underflowed
    wdrc = WDRC(n_bands=4, numtaps=65)
    n = 6000
    tones = [_tone(1000.0, np.full(n, level)) for level in (15.0, 60.0, 100.0)]
    bands = torch.tensor(np.stack([*tones, np.zeros(n)]), dtype=dtype)[None]
    fields = {"attack_ms": torch.full((1, 4), 5.0), "release_ms": torch.full((1, 4), 50.0)}
    levels = wdrc.band_levels_db(bands, fields)[0]
    assert levels.dtype == dtype and levels.shape == (4, n)
    assert levels[3].tolist() == [-20.0] * n  # silence reads the floor
    a_att, a_rel = np.exp(-1 / (5e-3 * FS)), np.exp(-1 / (50e-3 * FS))
    power = bands[0].double().numpy() ** 2  # the half-precision samples' own values
    envelope = np.maximum(*(scipy.signal.lfilter([1 - a], [1, -a], power) for a in (a_att, a_rel)))
    expected = 10 * np.log10(np.maximum(envelope, 4e-12) / REF_PRESSURE_PA**2)
    eps = torch.finfo(dtype).eps  # one ulp: float32 detector, then one rounding to the bands' dtype
    np.testing.assert_allclose(levels.double().numpy(), expected, rtol=eps, atol=1e-3)
    steady = levels[:3, -1].double().numpy()  # a steady tone of L dB SPL reads L dB SPL (within the ripple)
    np.testing.assert_allclose(steady, [15.0, 60.0, 100.0], atol=0.05 + 100 * eps)


def test_one_pole_of_an_empty_signal_is_empty_and_still_checks_its_time_constants():
    out = one_pole_smooth(torch.zeros(1, 0, dtype=torch.float64), torch.tensor([0.01, 0.02, 0.03]), FS)
    assert out.shape == (3, 0) and out.dtype == torch.float64
    env = attack_release_envelope(torch.zeros(2, 3, 0), torch.tensor(0.005), torch.tensor(0.05), FS)
    assert env.shape == (2, 3, 0) and env.dtype == torch.float32
    with pytest.raises(HearloopInputError, match=r"^one-pole time constants must be positive and finite$"):
        one_pole_smooth(torch.zeros(2, 0), torch.tensor([0.01, 0.0]))
    wdrc = WDRC(n_bands=2, numtaps=65)
    fields = {"attack_ms": torch.full((1, 2), 5.0), "release_ms": torch.full((1, 2), 50.0)}
    levels = wdrc.band_levels_db(torch.zeros(1, 2, 0, dtype=torch.float16), fields)
    assert levels.shape == (1, 2, 0) and levels.dtype == torch.float16
