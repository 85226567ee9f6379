"""Bruce, Erfani & Zilany (2018) auditory-nerve periphery of the virtual IC, through the ``brucezilany`` package.

The phenomenological AN model of the Carney, Bruce and Zilany labs [BEZ2018]_ in its C++ port [brucezilany]_: middle
ear, a level-dependent chirping C1 filter whose gain and bandwidth are set by outer-hair-cell (OHC) control, a wide
C2 filter, IHC transduction, and a synapse with power-law adaptation and a limited number of release sites. Unlike the
gammatone periphery (:mod:`.periphery`), OHC loss (``cohc < 1``) here broadens tuning and removes compression and
two-tone suppression, so amplification restores sensitivity but not selectivity; IHC loss (``cihc < 1``) scales the
C1 path's drive at every level.

What this module adds around the package (all of it causal, deterministic and vectorised where the package is not):

1. **Level mapping and sampling** (:func:`to_model_rate`): hearloop audio (Pa at ``SAMPLE_RATE`` = 24414.0625 Hz)
   is scaled by :data:`LEVEL_OFFSET_DB` and passed through a fixed causal peaking filter that fills the cat middle
   ear's notch near 4.2 kHz (:data:`NOTCH_FILL`), so that normal thresholds match the gammatone periphery's
   (gerbil-like, flat 0.5-8 kHz) within about 2 dB at the ABR frequencies (``benchmarks/bench_periphery.py``); then
   it is resampled to the model rate (an integer 100, 200 or 500 kHz) by ``scipy.signal.resample_poly`` (100 kHz: up
   512, down 125) and zero-padded by :data:`TAIL_S` at the end so that the package's end effects fall outside it.
2. **IHC** per CF (``brucezilany.inner_hair_cell``) with the animal's ``cohc``/``cihc`` at that CF. The IHC output of
   silence is exactly zero, so a silent warm-up (below) costs nothing at this, the expensive, stage.
3. **Synapse** per CF and fibre type (``map_to_synapse`` + ``synapse`` with ``NoiseType.ONES``, so the synaptic drive
   is deterministic; power law ``APPROXIMATED`` by default, ``ACTUAL`` is ~12x slower). :data:`WARMUP_S` of silence is
   prepended to the IHC output so that the power-law adaptation starts from a state adapted to silence rather than
   from the package's cold start (a spontaneous-rate transient of ~1 s otherwise).
4. **Expected rate** (:mod:`.bez_rate`): the package's spike generator followed in expectation (release sites,
   redocking, refractoriness), deterministic and causal, instead of its seed-dependent ``mean_firing_rate``.
5. **Bins** (:func:`rate_to_bins`): the rate is integrated exactly onto hearloop's 1.31 ms bins (``BIN_RATE``), whose
   edges fall at fractional model samples (131.072 at 100 kHz), by linear interpolation of its cumulative sum.

**Causality.** ``resample_poly`` is a centred FIR (look-ahead 10 input samples = 0.41 ms); the package's synapse
down-samples its drive to 10 kHz with a centred 201-tap FIR and up-samples linearly (look-ahead 1.1 ms); against that,
the package delays the IHC output by its basilar-membrane/synapse delay (``delay_cat``: 2.7 ms at 125 Hz, 0.8 ms at
10 kHz). Each CF's rate is therefore shifted later by ``max(0, 0.41 + 1.1 - delay(cf))`` ms (:func:`lookahead_s`,
up to 0.7 ms at the highest CFs), after which neural bin ``t`` depends only on audio up to the end of bin ``t``
(tested by perturbing audio after a bin).

References:
    .. [BEZ2018] I. C. Bruce, Y. Erfani, M. S. A. Zilany, "A phenomenological model of the synapse between the inner
       hair cell and auditory nerve: implications of limited neurotransmitter release sites", Hearing Research 360,
       40-54, 2018.
    .. [brucezilany] J. de Nobel, "brucezilany: Python/C++ interface to the Bruce-Zilany-Carney auditory nerve model",
       PyPI, 2024 (version 0.0.4 here).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

import brucezilany as bz
import numpy as np
from scipy import signal

from simulator.constants import DOWNSAMPLE, SAMPLE_RATE
from simulator.errors import HearloopInputError
from simulator.virtual_ic.bez_rate import HSR, LSR, Fibre, expected_rate, rate_to_bins

MODEL_NAME: str = "bez2018"
PACKAGE_VERSION: str = importlib.metadata.version("brucezilany")
SUPPORTED_SAMPLE_RATES_HZ: tuple[int, ...] = (100_000, 200_000, 500_000)
"""Model sampling rates the package's synapse supports (its 10 kHz power-law stage needs an integer factor)."""
SPECIES: dict[str, tuple[Any, float, float]] = {
    "cat": (bz.Species.CAT, 124.9, 40.1e3),
    "human_shera": (bz.Species.HUMAN_SHERA, 124.9, 20.1e3),
    "human_glasberg_moore": (bz.Species.HUMAN_GLASSBERG_MOORE, 124.9, 20.1e3),
}
"""Species name -> (package enum, lowest CF Hz, highest CF Hz) as the package validates them."""
POWER_LAWS: dict[str, Any] = {"approximated": bz.PowerLaw.APPROXIMATED, "actual": bz.PowerLaw.ACTUAL}
LEVEL_OFFSET_DB: float = -5.0
"""Gain (dB) from hearloop pressure to the model's input: the cat model's HSR fibres are ~7 dB more sensitive at
0.5-2 kHz than the gammatone periphery's normal cochlea; -5 dB centres the NH thresholds of the two."""
NOTCH_FILL: tuple[float, float, float] = (4250.0, 19.0, 9.0)
"""(centre Hz, gain dB, Q) of a peaking filter (RBJ biquad) cancelling the cat middle ear's notch: the model's normal
HSR thresholds rise 14 dB above their trend between 3.6 and 4.6 kHz (fitted to thresholds every 1/16 octave from
2.8 to 6.1 kHz; residual within 3.2 dB)."""
WARMUP_S: float = 0.5
"""Silence before every sound, so that the synapse's power-law adaptation starts adapted to silence."""
TAIL_S: float = 0.01
"""Silence after every sound, beyond the package's end effects (its synapse pads the end with a ramp)."""
RESAMPLE_HALF_TAPS: int = 10
"""``resample_poly``'s default half filter length in units of ``max(up, down)`` (its look-ahead)."""
SYNAPSE_LOOKAHEAD_S: float = 1.1e-3
"""Look-ahead of the package's synapse: centred 201-tap FIR to 10 kHz (1 ms) + linear up-sampling (0.1 ms)."""


class PeripheryError(HearloopInputError):
    """A periphery request the model cannot serve: unknown species or power law, unsupported sample rate, a CF
    outside the species' range, or a hearing loss beyond what ``cohc``/``cihc`` can express."""


@dataclass(frozen=True)
class BezConfig:
    """Settings of the BEZ2018 periphery that every animal of a cohort shares.

    Attributes:
        species: key of :data:`SPECIES` (``"cat"`` reproduces the tuning facts checked in the tests).
        sample_rate_hz: model sampling rate, one of :data:`SUPPORTED_SAMPLE_RATES_HZ`.
        power_law: ``"approximated"`` (default) or ``"actual"`` power-law adaptation.
        fibres: fibre types simulated at every CF, in :func:`an_rates` row order (HSR, LSR).
        level_offset_db: gain (dB) applied to hearloop's pressure before the model (the overall level mapping).
        notch_fill: (centre Hz, gain dB, Q) of the peaking filter before the model, or None for none.
    """

    species: str = "cat"
    sample_rate_hz: int = 100_000
    power_law: str = "approximated"
    fibres: tuple[Fibre, ...] = field(default=(HSR, LSR))
    level_offset_db: float = LEVEL_OFFSET_DB
    notch_fill: tuple[float, float, float] | None = NOTCH_FILL

    def validate(self) -> BezConfig:
        """Raise :class:`PeripheryError` for anything the package cannot simulate; return self."""
        if self.species not in SPECIES:
            raise PeripheryError(f"unknown species {self.species!r}; the BEZ2018 model knows {sorted(SPECIES)}")
        if self.sample_rate_hz not in SUPPORTED_SAMPLE_RATES_HZ:
            raise PeripheryError(
                f"model sample rate {self.sample_rate_hz!r} Hz is not supported; use one of {SUPPORTED_SAMPLE_RATES_HZ}"
            )
        if self.power_law not in POWER_LAWS:
            raise PeripheryError(f"unknown power law {self.power_law!r}; expected one of {sorted(POWER_LAWS)}")
        for fib in self.fibres:
            if not (1e-4 <= fib.spont <= 180.0 and 0 <= fib.tabs_s <= 20e-3 and 0 <= fib.trel_s <= 20e-3):
                raise PeripheryError(f"fibre {fib} outside the model's ranges (spont 1e-4..180, refractory 0..20 ms)")
        if not np.isfinite(self.level_offset_db):
            raise PeripheryError(f"level_offset_db must be finite, got {self.level_offset_db}")
        if self.notch_fill is not None:
            f0, gain, q = self.notch_fill
            if not (0 < f0 < SAMPLE_RATE / 2 and np.isfinite(gain) and q > 0):
                raise PeripheryError(f"notch_fill must be (0 < Hz < Nyquist, finite dB, Q > 0), got {self.notch_fill}")
        return self

    def input_gain_db(self, freq_hz: np.ndarray | float) -> np.ndarray:
        """Gain (dB) of the level mapping (offset and notch fill) at ``freq_hz``."""
        f = np.atleast_1d(np.asarray(freq_hz, dtype=np.float64))
        if self.notch_fill is None:
            return np.full(f.shape, self.level_offset_db)
        _, h = signal.freqz(*peaking_biquad(*self.notch_fill), worN=f, fs=SAMPLE_RATE)
        return self.level_offset_db + 20.0 * np.log10(np.abs(h))

    def check_cf(self, cf_hz: np.ndarray | float) -> np.ndarray:
        """CFs as a float array, or :class:`PeripheryError` if any lies outside the species' range."""
        cf = np.atleast_1d(np.asarray(cf_hz, dtype=np.float64))
        _, lo, hi = SPECIES[self.species]
        bad = cf[~((cf >= lo) & (cf <= hi))]
        if bad.size:
            raise PeripheryError(f"CF {bad.tolist()} Hz outside the {self.species} model's range {lo:g}-{hi:g} Hz")
        return cf

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fibres"] = [asdict(f) for f in self.fibres]
        d["notch_fill"] = None if self.notch_fill is None else list(self.notch_fill)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BezConfig:
        kw = dict(d)
        if "fibres" in kw:
            kw["fibres"] = tuple(Fibre(**f) for f in kw["fibres"])
        if kw.get("notch_fill") is not None:
            kw["notch_fill"] = tuple(float(v) for v in kw["notch_fill"])
        return cls(**kw).validate()


def peaking_biquad(f0_hz: float, gain_db: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of a peaking equaliser at SAMPLE_RATE (Bristow-Johnson's audio-EQ cookbook): ``gain_db`` at ``f0_hz``,
    0 dB far from it, bandwidth set by ``q``."""
    amp, w0 = 10.0 ** (gain_db / 40.0), 2.0 * np.pi * f0_hz / SAMPLE_RATE
    alpha, c = np.sin(w0) / (2.0 * q), np.cos(w0)
    return np.array([1 + alpha * amp, -2 * c, 1 - alpha * amp]), np.array([1 + alpha / amp, -2 * c, 1 - alpha / amp])


def resample_ratio(sample_rate_hz: int) -> Fraction:
    """``model rate / SAMPLE_RATE`` as an exact fraction (512/125 at 100 kHz)."""
    return Fraction(int(sample_rate_hz)) / Fraction(SAMPLE_RATE)


def to_model_rate(audio: np.ndarray, config: BezConfig) -> np.ndarray:
    """``samples`` Pa at SAMPLE_RATE through the level mapping (offset, causal notch fill) and resampled to the model
    rate, with :data:`TAIL_S` of silence appended: ``ceil(samples * ratio) + tail`` float64 samples (non-causal by
    :func:`resample_lookahead_s`, compensated in :func:`rate_to_bins`)."""
    r = resample_ratio(config.sample_rate_hz)
    x = np.asarray(audio, dtype=np.float64) * 10.0 ** (config.level_offset_db / 20.0)
    if config.notch_fill is not None:
        x = signal.lfilter(*peaking_biquad(*config.notch_fill), x)
    y = signal.resample_poly(x, r.numerator, r.denominator)
    return np.concatenate([y, np.zeros(round(TAIL_S * config.sample_rate_hz))])


def resample_lookahead_s(config: BezConfig) -> float:
    """Look-ahead (s) of ``resample_poly``'s centred anti-aliasing filter: ``10 max(up, down) / up`` input samples."""
    r = resample_ratio(config.sample_rate_hz)
    return RESAMPLE_HALF_TAPS * max(r.numerator, r.denominator) / r.numerator / SAMPLE_RATE


def ihc_delay_s(cf_hz: np.ndarray | float) -> np.ndarray:
    """The package's delay of the IHC output (s) at CF (``delay_cat``, used for every species)."""
    x = 11.9 * np.log10(0.80 + np.asarray(cf_hz, dtype=np.float64) / 456.0)
    return 3.0 * np.exp(-x / 12.5) * 1e-3


def lookahead_s(cf_hz: np.ndarray | float, config: BezConfig) -> np.ndarray:
    """Net look-ahead (s, >= 0) of the rate at CF on the audio: the shift that makes it causal (module docstring)."""
    return np.maximum(0.0, resample_lookahead_s(config) + SYNAPSE_LOOKAHEAD_S - ihc_delay_s(cf_hz))


def _stimulus(x: np.ndarray, fs: int):
    """A package stimulus of exactly ``x`` (the package may add one trailing zero sample to the simulation)."""
    return bz.stimulus.Stimulus(x.tolist(), fs, x.size * (1.0 / fs))


def ihc_potential(
    x_model: np.ndarray, cf_hz: float, cohc: float, cihc: float, config: BezConfig, stimulus: Any = None
) -> np.ndarray:
    """IHC relative transmembrane potential (V) at the model rate, ``len(x_model)`` samples, for one CF
    (``stimulus``: the package's stimulus of ``x_model`` if already built, shared across CFs)."""
    if not (0.0 <= cohc <= 1.0 and 0.0 <= cihc <= 1.0):
        raise PeripheryError(f"cohc and cihc must lie in [0, 1], got {cohc}, {cihc}")
    stim = _stimulus(x_model, config.sample_rate_hz) if stimulus is None else stimulus
    out = bz.inner_hair_cell(stim, float(cf_hz), 1, float(cohc), float(cihc), SPECIES[config.species][0])
    return np.asarray(out, dtype=np.float64)[: x_model.size]


def synaptic_drive(ihc: np.ndarray, cf_hz: float, fibre: Fibre, config: BezConfig) -> np.ndarray:
    """Deterministic synaptic release rate ``s`` (/s) after power-law adaptation.

    :data:`WARMUP_S` of silence (IHC output exactly 0) is prepended, and kept in the output: ``n_warm + len(ihc)``
    samples, ``n_warm = round(WARMUP_S * sample_rate_hz)``.
    """
    fs = config.sample_rate_hz
    drive = np.concatenate([np.zeros(round(WARMUP_S * fs)), ihc])
    mapped = bz.map_to_synapse(drive, fibre.spont, float(cf_hz), 1.0 / fs, bz.SynapseMapping.SOFTPLUS)
    out = bz.synapse(
        mapped, float(cf_hz), 1, drive.size, 1.0 / fs, bz.NoiseType.ONES, POWER_LAWS[config.power_law],
        fibre.spont, fibre.tabs_s, fibre.trel_s, False,
    )  # fmt: skip
    return np.asarray(out.synaptic_output, dtype=np.float64)[: drive.size]


def bin_edges_model(n_bins: int, lookahead: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """``rows x (n_bins + 1)`` edges of hearloop's bins in samples of a warm-up + sound model-rate signal.

    Bin ``b`` of row ``i`` integrates the rate over model time ``[e_b - L_i, e_(b+1) - L_i]`` (``L_i`` its
    ``lookahead`` in s), whose value depends on audio up to ``e_(b+1)`` only.
    """
    per_bin = float(DOWNSAMPLE * resample_ratio(sample_rate_hz))
    edges = np.arange(n_bins + 1, dtype=np.float64) * per_bin + round(WARMUP_S * sample_rate_hz)
    return edges[None, :] - np.asarray(lookahead, dtype=np.float64)[:, None] * sample_rate_hz


@lru_cache(maxsize=8)
def spontaneous_rates(config: BezConfig) -> np.ndarray:
    """``fibres`` expected rate (spikes/s) to 3 s of silence after the warm-up, averaged (CF-independent)."""
    fs = config.sample_rate_hz
    ihc = np.zeros(3 * fs)
    drive = np.stack([synaptic_drive(ihc, 1000.0, f, config) for f in config.fibres])
    return expected_rate(drive, list(config.fibres), fs)[:, -ihc.size :].mean(axis=1)


def an_rates(
    audio: np.ndarray | None,
    cf_hz: np.ndarray,
    cohc: np.ndarray,
    cihc: np.ndarray,
    config: BezConfig,
    x_model: np.ndarray | None = None,
    n_bins: int | None = None,
) -> np.ndarray:
    """Expected AN discharge rates of every fibre type at every CF, on hearloop's bins.

    Args:
        audio: ``samples`` pressure (Pa) at SAMPLE_RATE (or None when ``x_model`` and ``n_bins`` are given).
        cf_hz: ``n`` characteristic frequencies (Hz), inside the species' range.
        cohc, cihc: ``n`` OHC and IHC function (1 = normal, 0 = none) at each CF.
        config: shared model settings.
        x_model: the sound already resampled by :func:`to_model_rate` (shared across animals).
        n_bins: number of bins (``samples // 32``) when ``x_model`` is given.

    Returns:
        ``fibres x n x n_bins`` float64 mean rate (spikes/s) in each 1.31 ms bin.
    """
    cf = config.check_cf(cf_hz)
    if x_model is None:
        audio = np.asarray(audio, dtype=np.float64)
        x_model, n_bins = to_model_rate(audio, config), audio.size // DOWNSAMPLE
    fibres = list(config.fibres)
    stimulus = _stimulus(x_model, config.sample_rate_hz)
    rows = []
    for k, f in enumerate(cf):
        ihc = ihc_potential(x_model, f, float(cohc[k]), float(cihc[k]), config, stimulus)
        rows.extend(synaptic_drive(ihc, f, fib, config) for fib in fibres)
    row_fibres = fibres * cf.size
    rate = expected_rate(np.stack(rows), row_fibres, config.sample_rate_hz)
    shifts = np.repeat(lookahead_s(cf, config), len(fibres))
    binned = rate_to_bins(rate, bin_edges_model(int(n_bins), shifts, config.sample_rate_hz))
    return binned.reshape(cf.size, len(fibres), -1).transpose(1, 0, 2)
