"""Tests of the BEZ2018 periphery of the virtual IC (bez2018, bez_tuning, bez_loss, peripheries)."""

from __future__ import annotations

import json

import brucezilany as bz
import numpy as np
import pytest

from simulator.constants import SAMPLE_RATE
from simulator.data.corpus import tone
from simulator.virtual_ic import bez2018, peripheries
from simulator.virtual_ic.animal import AnimalParams, expected_response, true_loss_db_hl, true_threshold_db_spl
from simulator.virtual_ic.bez2018 import BezConfig, PeripheryError, an_rates
from simulator.virtual_ic.bez_loss import load_loss_table
from simulator.virtual_ic.bez_rate import HSR, expected_rate
from simulator.virtual_ic.bez_tuning import TABLE_CF_HZ, q10, tone_threshold_db_spl
from simulator.virtual_ic.cohort import generate_cohort, make_animal
from simulator.virtual_ic.hearing_profile import HearingProfile
from simulator.virtual_ic.midbrain import sample_channel_template
from simulator.virtual_ic.peripheries import BezPeriphery, GammatonePeriphery, make_periphery, simulated_rows
from simulator.virtual_ic.periphery import CF_GRID_HZ, N_CF

CAT = BezConfig()
RAW = BezConfig(level_offset_db=0.0, notch_fill=None)  # the model's own input levels, as the loss table has them
TINY_BEZ = {"n_channels": 4, "train_seconds": 0.6, "sound_duration_s": 0.2, "test_duration_s": 0.2,
            "n_test_per_class": 1, "progress": False}  # fmt: skip


@pytest.fixture(scope="module")
def cat_tuning() -> dict[float, dict[str, float]]:
    return {c: q10(2000.0, c, 1.0, CAT) for c in (1.0, 0.3, 0.0)}


def test_cat_hsr_fibre_reproduces_the_dependency_facts(cat_tuning):
    """HSR fibre at CF 2 kHz, 50 ms tones, threshold at spontaneous + 15 spikes/s: Q10 ~3.6 / 1.8 / 0.9 and tips
    ~20 and ~50 dB above normal for cohc = 1 / 0.3 / 0 (the dependency's published facts; the measured values are in
    the README, from benchmarks/bench_periphery.py)."""
    q = {c: t["q10"] for c, t in cat_tuning.items()}
    tip = {c: t["threshold_db_spl"] for c, t in cat_tuning.items()}
    assert 3.3 < q[1.0] < 4.8 and 1.5 < q[0.3] < 2.2 and 0.6 < q[0.0] < 1.1, q
    assert q[1.0] / q[0.3] > 1.8 and q[0.3] / q[0.0] > 1.8
    assert 17.0 < tip[0.3] - tip[1.0] < 27.0 and 45.0 < tip[0.0] - tip[1.0] < 56.0, tip
    assert 0.0 < tip[1.0] < 20.0


def test_human_species_tune_otherwise():
    """The species is a real choice: the human (Shera) cochlea is twice as sharp at CF 2 kHz."""
    assert q10(2000.0, 1.0, 1.0, BezConfig(species="human_shera"))["q10"] > 6.0


def test_loss_table_entries_recompute():
    """A few entries of the shipped table, recomputed by simulation."""
    table = load_loss_table(CAT)
    k = int(np.argmin(np.abs(table.cf_hz - 2000.0)))
    cf = float(table.cf_hz[k])
    nh = tone_threshold_db_spl(cf, cf, 1.0, 1.0, RAW)
    assert nh == pytest.approx(table.nh_threshold_db_spl[k], abs=0.3)
    j = int(np.flatnonzero(table.cohc == 0.3)[0])
    assert tone_threshold_db_spl(cf, cf, 0.3, 1.0, RAW) - nh == pytest.approx(table.ohc_shift_db[k, j], abs=0.5)
    j = int(np.flatnonzero(table.cihc == 0.1)[0])
    assert tone_threshold_db_spl(cf, cf, 1.0, 0.1, RAW) - nh == pytest.approx(table.ihc_shift_db[k, j], abs=0.5)
    # with the level mapping, thresholds move by exactly its gain at the tone frequency
    mapped = tone_threshold_db_spl(4250.0, 4250.0, 1.0, 1.0, CAT) - tone_threshold_db_spl(4250.0, 4250.0, 1.0, 1.0, RAW)
    assert mapped == pytest.approx(-float(CAT.input_gain_db(4250.0)[0]), abs=0.4)
    np.testing.assert_allclose(table.cf_hz, TABLE_CF_HZ, rtol=1e-5)


def test_shift_inversion_and_additivity():
    """cohc/cihc found for a shift give that shift back; OHC and IHC shifts add (within 3 dB, simulated)."""
    table = load_loss_table(CAT)
    cf = np.array([500.0, 2000.0, 6000.0])
    shift = np.array([10.0, 30.0, 40.0])
    np.testing.assert_allclose(table.shift_for_cohc(table.cohc_for_shift(shift, cf), cf), shift, atol=1e-6)
    assert np.all(table.max_ohc_shift_db(cf) > [10.0, 45.0, 50.0])
    cohc = float(table.cohc_for_shift(np.array([20.0]), np.array([2000.0]))[0])
    cihc = float(table.cihc_for_shift(np.array([15.0]), np.array([2000.0]))[0])
    both = tone_threshold_db_spl(2000.0, 2000.0, cohc, cihc, RAW)
    assert both - float(table.nh_thresholds_db_spl(2000.0)[0]) == pytest.approx(35.0, abs=3.0)


def test_rates_are_causal():
    """Perturbing audio from bin 100 on changes no bin before it (it would without the look-ahead shift)."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 0.05, 6000)
    y = x.copy()
    y[100 * 32 :] += rng.normal(0.0, 0.5, x.size - 100 * 32)
    cf = np.array([250.0, 2000.0, 10000.0])
    a, b = (an_rates(v, cf, np.ones(3), np.ones(3), CAT) for v in (x, y))
    diff = np.abs(a - b).max(axis=(0, 1))
    assert np.all(diff[:100] == 0.0) and diff[100:110].max() > 1e-3
    assert bez2018.lookahead_s(10000.0, CAT) > 0.5e-3  # the shift the compensation needs at high CFs


def test_expected_rate_follows_the_packages_spikes():
    """Onset and sustained rate of the deterministic estimate vs the package's PSTH over 40 seeds (2 kHz, 60 dB)."""
    fs = CAT.sample_rate_hz
    x = bez2018.to_model_rate(np.concatenate([tone(2000.0, 60.0, 0.25), np.zeros(1000)]), CAT)
    drive_in = np.concatenate([np.zeros(round(bez2018.WARMUP_S * fs)), bez2018.ihc_potential(x, 2000.0, 1, 1, CAT)])
    mapped = bz.map_to_synapse(drive_in, HSR.spont, 2000.0, 1 / fs, bz.SynapseMapping.SOFTPLUS)
    psth = np.zeros(drive_in.size)
    for seed in range(40):
        out = bz.synapse(mapped, 2000.0, 1, drive_in.size, 1 / fs, bz.NoiseType.ONES, bz.PowerLaw.APPROXIMATED,
                         HSR.spont, HSR.tabs_s, HSR.trel_s, False, bz.RandomGenerator(seed + 1))  # fmt: skip
        psth += np.asarray(out.psth)[: drive_in.size] * fs / 40
    ours = expected_rate(np.asarray(out.synaptic_output)[None, : drive_in.size], [HSR], fs)[0]
    w0 = round(bez2018.WARMUP_S * fs)
    for lo, hi, tol in ((0.0, 0.03, 0.1), (0.1, 0.25, 0.05)):
        seg = slice(w0 + int(lo * fs), w0 + int(hi * fs))
        assert ours[seg].mean() == pytest.approx(psth[seg].mean(), rel=tol)
    assert ours[:w0].mean() == pytest.approx(psth[:w0].mean(), rel=0.06)  # spontaneous, through the warm-up


def test_bad_requests_are_named_errors(tmp_path, monkeypatch):
    from runners.cli import main

    with pytest.raises(PeripheryError, match="outside the cat model's range"):
        an_rates(np.zeros(640), np.array([60.0]), np.ones(1), np.ones(1), CAT)
    with pytest.raises(PeripheryError, match="sample rate"):
        BezConfig(sample_rate_hz=44_100).validate()
    with pytest.raises(PeripheryError, match="species"):
        BezConfig(species="gerbil").validate()
    with pytest.raises(PeripheryError, match="sample rate"):
        generate_cohort(n_nh=1, n_hi=0, periphery_options={"sample_rate_hz": 96_000}, **TINY_BEZ)
    with pytest.raises(PeripheryError, match="unknown periphery"):
        generate_cohort(n_nh=1, n_hi=0, periphery="zilany2014", **TINY_BEZ)
    # a species whose CF range does not cover the cohort's CF grid (125 Hz - 10 kHz): refused before any simulation
    monkeypatch.setitem(bez2018.SPECIES, "narrow", (bz.Species.CAT, 200.0, 8000.0))
    monkeypatch.setattr(peripheries, "an_rates", None)  # any simulation would fail with a TypeError instead
    with pytest.raises(PeripheryError, match=r"CF \[125.0.*outside the narrow model's range"):
        generate_cohort(n_nh=1, n_hi=0, periphery_options={"species": "narrow"}, **TINY_BEZ)
    # a 95 dB loss at 125 Hz is beyond cohc = 0 plus cihc = 0 there
    profile = HearingProfile("HI", "flat", {}, np.full(N_CF, 4.0), np.full(N_CF, 88.0), 0.0, 0.0)
    with pytest.raises(PeripheryError, match="beyond what the BEZ2018 model's cihc can express"):
        make_periphery("bez2018", profile, "HI01")
    out = tmp_path / "c"
    args = ["synth", "--out", str(out), "--n-nh", "0", "--n-hi", "1", "--hi-pta-range", "95", "95", "--quiet"]
    assert main([*args, "--train-seconds", "1", "--sound-seconds", "0.2", "--test-seconds", "0.2"]) == 2
    assert not out.exists()  # nothing written
    with pytest.raises(SystemExit) as exited:  # refused while the command line is parsed
        main(["synth", "--out", str(out), "--bez-sample-rate", "48000", "--quiet"])
    assert exited.value.code == 2
    assert not out.exists()


def test_simulated_rows_cover_the_channels_integration():
    cf_pos = np.array([10.3, 30.0, 30.5, 59.9])
    needed, sim = simulated_rows(cf_pos)
    assert needed.min() >= 5 and needed.max() <= N_CF - 1 and 45 not in needed  # gap between 30.5 and 59.9
    assert np.all(sim % 2 == 0) | np.all(np.isin(sim[sim % 2 == 1], [N_CF - 1]))
    assert sim.size < 0.7 * N_CF


def _bez_nh_animal() -> AnimalParams:
    template = sample_channel_template(np.random.default_rng(1), 6)
    params = make_animal(3, 0, "NH01", None, template, False, "bez2018")
    params.degradation.gain_loss = 0.0
    params.degradation.drift_db = 0.0
    return params


def test_bez_animal_ground_truth_round_trips_and_dispatches():
    params = _bez_nh_animal()
    gt = json.loads(json.dumps(params.to_dict()))
    assert gt["periphery"]["name"] == "bez2018" and gt["periphery"]["config"]["species"] == "cat"
    assert len(gt["periphery"]["cohc"]) == N_CF and max(gt["periphery"]["cihc"]) == 1.0
    again = AnimalParams.from_dict(gt)
    assert isinstance(again.periphery, BezPeriphery)
    audio = tone(2000.0, 60.0, 0.15)
    np.testing.assert_array_equal(expected_response(params, audio), expected_response(gt, audio))
    # thresholds and loss come from the BEZ table, in dB HL re the same periphery's normal cochlea
    thr = true_threshold_db_spl(gt, [1000.0, 4000.0])
    assert np.all(np.abs(true_loss_db_hl(gt, [1000.0, 4000.0])) < 5.0)
    legacy = {k: v for k, v in gt.items() if k != "periphery"}
    assert isinstance(AnimalParams.from_dict(legacy).periphery, GammatonePeriphery)
    assert not np.allclose(true_threshold_db_spl(legacy, [1000.0, 4000.0]), thr)


def test_bez_ohc_loss_raises_threshold_and_ihc_dominant_animals():
    """A 40 dB flat HI animal: OHC share capped per CF (cohc 0 at most), the rest IHC; IHC-dominant animals differ."""
    template = sample_channel_template(np.random.default_rng(1), 6)
    hi = make_animal(3, 1, "HI01", (40.0, "flat"), template, False, "bez2018")
    dom = make_animal(3, 1, "HI01", (40.0, "flat"), template, False, "bez2018", ihc_dominant=True)
    table = load_loss_table()
    for p in (hi, dom):
        assert np.all(p.profile.ohc_loss_db <= table.max_ohc_shift_db(CF_GRID_HZ) + 1e-9)
        np.testing.assert_allclose(p.periphery.shift_db(), p.profile.total_loss_db, atol=0.05)
    assert hi.profile.shape_params["ohc_share"] > 0.65 and dom.profile.shape_params["ohc_share"] < 0.35
    assert hi.periphery.cohc.mean() < dom.periphery.cohc.mean() and hi.periphery.cihc.mean() > dom.periphery.cihc.mean()
    np.testing.assert_allclose(hi.profile.total_loss_db, dom.profile.total_loss_db)  # same draws, other split


def test_bez_cohort_is_bit_identical_for_any_number_of_workers():
    serial = generate_cohort(n_nh=1, n_hi=1, seed=2, workers=1, **TINY_BEZ)
    parallel = generate_cohort(n_nh=1, n_hi=1, seed=2, workers=2, **TINY_BEZ)
    for a, b in zip(serial, parallel, strict=True):
        assert a.ground_truth == b.ground_truth and a.abr_thresholds_db == b.abr_thresholds_db
        for s, t in zip(a.sounds, b.sounds, strict=True):
            assert s.counts.tobytes() == t.counts.tobytes()
    hi = serial[1]
    assert hi.ground_truth["periphery"]["name"] == "bez2018" and min(hi.ground_truth["periphery"]["cohc"]) < 0.9
    assert hi.sounds[0].counts.shape[-1] == hi.sounds[0].audio.size // 32
    assert 0 < np.mean([s.counts.mean() for s in hi.sounds]) < 4


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers"):
        generate_cohort(n_nh=1, n_hi=0, workers=0, periphery="gammatone", **TINY_BEZ)


def test_model_input_is_resampled_exactly():
    x = np.sin(2 * np.pi * 1000.0 * np.arange(2441) / SAMPLE_RATE)
    y = bez2018.to_model_rate(x, CAT)
    assert y.size == int(np.ceil(2441 * 512 / 125)) + round(bez2018.TAIL_S * CAT.sample_rate_hz)
    assert bez2018.resample_lookahead_s(CAT) == pytest.approx(10 / SAMPLE_RATE)


def test_ihc_dominant_animals_change_only_the_split():
    kw = {"n_nh": 1, "n_hi": 4, "seed": 6, "n_channels": 4, "train_seconds": 0.4, "sound_duration_s": 0.2,
          "test_duration_s": 0.2, "n_test_per_class": 1, "progress": False, "periphery": "gammatone"}  # fmt: skip
    base, dom = generate_cohort(**kw), generate_cohort(**kw, ihc_dominant=2)
    shares = []
    for a, b in zip(base, dom, strict=True):
        pa, pb = a.ground_truth["profile"], b.ground_truth["profile"]
        total_a = np.add(pa["ohc_loss_db"], pa["ihc_loss_db"])
        np.testing.assert_allclose(total_a, np.add(pb["ohc_loss_db"], pb["ihc_loss_db"]))
        assert a.ground_truth["electrodes"] == b.ground_truth["electrodes"]
        shares.append((pa["shape_params"].get("ohc_share"), pb["shape_params"].get("ohc_share")))
    changed = [i for i, (x, y) in enumerate(shares) if x != y]
    assert len(changed) == 2 and all(shares[i][1] < 0.35 < 0.65 < shares[i][0] for i in changed)
    with pytest.raises(ValueError, match="ihc_dominant"):
        generate_cohort(**kw, ihc_dominant=5)


def test_fresh_animals_follow_the_training_cohorts_periphery():
    """listeners.unseen regenerates animals on the cohort's periphery; cohorts recorded without one are gammatone."""
    from types import SimpleNamespace

    from listeners.unseen import _fresh_animals, cohort_kwargs, reference_animal_params

    meta = {"cohort": {"generator": "simulator.virtual_ic.generate_cohort", "kwargs": {"n_channels": 4}}}
    old = cohort_kwargs(SimpleNamespace(metadata=meta))
    assert old["periphery"] == "gammatone" and old["ihc_dominant"] == 0
    assert isinstance(reference_animal_params(old, "NH01").periphery, GammatonePeriphery)
    meta["cohort"]["kwargs"] |= {"periphery": "bez2018", "train_seconds": 0.4, "sound_duration_s": 0.2,
                                 "test_duration_s": 0.2, "n_test_per_class": 1}  # fmt: skip
    new = cohort_kwargs(SimpleNamespace(metadata=meta))
    assert isinstance(reference_animal_params(new, "NH01").periphery, BezPeriphery)
    animals, _, _ = _fresh_animals(new, 0, 1, 1000, True, 2.0)
    assert animals[0].ground_truth["periphery"]["name"] == "bez2018"
