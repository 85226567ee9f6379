"""The ground-truth loop: training and fresh animals, the strategy grid through the model and on the generator,
agreement figures, the ``hearloop ground-truth`` command, and the bundled model's agreement with thresholds."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from compensation.ground_truth import FLAT_GAINS_DB, ground_truth_loop
from compensation.ground_truth_agreement import agreement, write_loop_results
from compensation.registry import get_strategy
from runners.ground_truth import TOKEN_CORPUS, fresh_loop_animals, load_hitl_settings, training_loop_animals
from simulator.errors import HearloopInputError

COHORT_KW = dict(n_nh=2, n_hi=2, seed=11, n_channels=6, train_seconds=6.0, sound_duration_s=1.0,
                 n_test_per_class=1, test_duration_s=1.0)  # fmt: skip
GRID = ("unaided", "nalr", "multiband", "wdrc")


def _speech(seconds: float = 0.5):
    from compensation.dnn_training import corpus_audio

    return corpus_audio(9001, 1, seconds, (60.0, 75.0), classes=("speech",))


@pytest.fixture(scope="module")
def tiny_cohort_model():
    """The tiny nu-ICNet with metadata naming COHORT_KW's cohort as its training cohort (untrained weights)."""
    from simulator import build_model

    model = build_model("tiny", n_params=6, n_animals=4, seed=0).eval()
    model.metadata = {
        "cohort": {"generator": "simulator.virtual_ic.generate_cohort", "kwargs": dict(COHORT_KW)},
        "reference_animal": "NH01",
        "animals": [{"id": i, "status": i[:2]} for i in ("NH01", "NH02", "HI01", "HI02")],
    }
    return model


def test_the_token_corpus_regenerates_the_same_animals(synthetic_cohort):
    from simulator.virtual_ic import generate_cohort

    _, full = synthetic_cohort(**COHORT_KW)
    token = generate_cohort(**{**COHORT_KW, **TOKEN_CORPUS}, progress=False)
    assert [a.ground_truth for a in token] == [a.ground_truth for a in full]
    assert sum(s.audio.size for s in token[0].sounds) < sum(s.audio.size for s in full[0].sounds) / 5


def test_training_and_fresh_animals_through_the_loop(tiny_cohort_model, tmp_path, capsys):
    model = tiny_cohort_model
    training = training_loop_animals(model)
    assert [a.listener.id for a in training] == ["HI01", "HI02"] and all(a.cohort == "training" for a in training)
    fresh = fresh_loop_animals(model, n_nh=0, n_hi=1, seed=1000, fit_evals=8, progress=True)
    bars = capsys.readouterr().err  # every long phase of the fresh animals shows its bar, generation included
    for label in ("fresh animals: sounds", "reference animal: sounds", "aligning to the reference", "fit fresh"):
        assert label in bars
    assert [a.listener.id for a in fresh] == ["U-HI01"] and fresh[0].cohort == "fresh"
    assert fresh[0].listener.pta > 5.0 and np.all((fresh[0].listener.nu >= 0) & (fresh[0].listener.nu <= 1))
    strategies = {n: get_strategy(n) for n in GRID}
    theta = strategies["wdrc"].prescribe_for(training[0].listener.audiogram, training[0].listener.nu)
    training[0].hitl = (strategies["wdrc"], theta)
    audio, names, classes = _speech(0.25)
    table = ground_truth_loop(model, [*training, *fresh], audio, names, classes, strategies, np.full(6, 0.5),
                              progress=False)  # fmt: skip
    n_conditions = 1 + len(FLAT_GAINS_DB) + 3
    assert table.num_rows == 3 * n_conditions + 1  # the hitl setting of HI01 is one more condition
    data = table.to_pydict()
    unaided = [i for i, c in enumerate(data["condition"]) if c == "unaided"]
    assert all(data["fr_model"][i] == 0.0 and data["fr_generator"][i] == 0.0 for i in unaided)
    hitl = data["condition"].index("hitl")
    pairs = list(zip(data["animal"], data["condition"], strict=True))
    wdrc = pairs.index(("HI01", "wdrc"))
    assert data["fr_generator"][hitl] == pytest.approx(data["fr_generator"][wdrc])
    flat = {c: data["level_re_nalr_db"][i] for i, c in enumerate(data["condition"]) if data["animal"][i] == "HI02"}
    assert flat["flat-10"] == pytest.approx(-10.0, abs=0.05) and flat["flat+10"] == pytest.approx(10.0, abs=0.05)
    out = write_loop_results(table, tmp_path / "gt", plots=True, config={"test": True})
    saved = json.loads((out / "agreement.json").read_text())
    assert set(saved["agreement"]) == {"training/HI", "fresh/HI"}
    assert saved["agreement"]["training/HI"]["n_conditions"] == n_conditions  # hitl: not every animal has one
    assert (out / "ground_truth.png").stat().st_size > 0 and (out / "summary.md").read_text().startswith("# ")


def _table(model_fr: np.ndarray, gen_fr: np.ndarray) -> pa.Table:
    animals, conditions = model_fr.shape
    rows = {"cohort": [], "status": [], "animal": [], "condition": [], "fr_model": [], "fr_generator": [],
            "level_re_nalr_db": []}  # fmt: skip
    for a in range(animals):
        for c in range(conditions):
            for key, v in (
                ("cohort", "training"),
                ("status", "HI"),
                ("animal", f"HI{a}"),
                ("condition", f"c{c}"),
                ("fr_model", model_fr[a, c]),
                ("fr_generator", gen_fr[a, c]),
                ("level_re_nalr_db", 0.0),
            ):
                rows[key].append(v)  # fmt: skip
    return pa.table(rows)


def test_agreement_figures_can_fail():
    gen = np.random.default_rng(0).uniform(-0.2, 0.8, (4, 6))
    same = agreement(_table(gen, gen))["training/HI"]
    assert same["pearson_r"] == pytest.approx(1.0) and same["median_spearman_per_animal"] == pytest.approx(1.0)
    assert same["best_agreement"] == 1.0 and same["median_regret"] == 0.0
    flipped = agreement(_table(-gen, gen))["training/HI"]
    assert flipped["pearson_r"] == pytest.approx(-1.0) and flipped["median_spearman_per_animal"] == pytest.approx(-1.0)
    assert flipped["best_agreement"] == 0.0 and flipped["median_regret"] > 0.3


def test_bundled_model_agrees_with_the_generator_on_training_animals():
    """CI thresholds of the ground-truth loop: bundled model, 2 training HI animals, one speech sound, full grid."""
    from simulator import load_model
    from simulator.model.animals import nh_reference_nu

    model = load_model()
    animals = training_loop_animals(model, animal_ids=["HI02", "HI05"])
    strategies = {n: get_strategy(n) for n in (*GRID, "dnn")}
    audio, names, classes = _speech(0.5)
    table = ground_truth_loop(model, animals, audio, names, classes, strategies, nh_reference_nu(model),
                              progress=False)  # fmt: skip
    result = agreement(table)["training/HI"]
    assert result["n_conditions"] == 18
    assert result["pearson_r"] >= 0.85
    assert result["median_spearman_per_animal"] >= 0.8
    assert result["median_regret"] <= 0.05  # the model's best strategy is (nearly) as good on the generator


def test_bad_input_is_named(tmp_path, tiny_cohort_model):
    from runners.cli import main

    assert main(["ground-truth", "--out", str(tmp_path / "x"), "--training", "none", "--fresh-hi", "0"]) == 2
    assert not (tmp_path / "x").exists()
    bad = tmp_path / "hitl.json"
    bad.write_text(json.dumps({"strategy": "wdrc"}))
    with pytest.raises(HearloopInputError, match="HITL settings"):
        load_hitl_settings(bad)
    with pytest.raises(HearloopInputError, match="not training animals"):
        training_loop_animals(tiny_cohort_model, animal_ids=["HI09"])
    with pytest.raises(HearloopInputError, match="fit_evals"):
        fresh_loop_animals(tiny_cohort_model, fit_evals=4)
    with pytest.raises(HearloopInputError, match="needs 'nalr'"):
        ground_truth_loop(tiny_cohort_model, training_loop_animals(tiny_cohort_model), *_speech(0.25),
                          {"unaided": get_strategy("unaided")}, np.full(6, 0.5), progress=False)  # fmt: skip


def test_the_command_writes_the_fresh_animals_nu_and_fit_only_gives_the_same_nu(tiny_cohort_model, tmp_path, capsys):
    """``fresh_animals.json`` (fitted nu, PTA, generator parameters, distances) from the full loop and from --fit-only
    with the same seeds: the same nu; --fit-only scores no grid."""
    from runners.cli import main
    from simulator.evaluation.evaluate import nu_distances
    from simulator.model.animals import animal_nus
    from simulator.model.checkpoint import save_model

    model_dir = save_model(tiny_cohort_model, tmp_path / "model", metadata=tiny_cohort_model.metadata)
    common = ["--model", str(model_dir), "--fresh-hi", "1", "--fresh-seed", "1000", "--fit-evals", "8", "--quiet"]
    full = ["ground-truth", "--out", str(tmp_path / "full"), *common, "--training", "none",
            "--strategies", "unaided,nalr", "--per-class", "1", "--duration", "0.1", "--no-plots"]  # fmt: skip
    assert main(full) == 0
    assert "fitted nu against the training animals" in capsys.readouterr().out
    assert main(["ground-truth", "--out", str(tmp_path / "fit"), *common, "--fit-only"]) == 0
    assert not (tmp_path / "fit" / "results.parquet").exists() and (tmp_path / "full" / "results.parquet").exists()
    reports = [json.loads((tmp_path / d / "fresh_animals.json").read_text()) for d in ("full", "fit")]
    entries = [r["fresh"][0] for r in reports]
    assert entries[0]["nu"] == entries[1]["nu"] and entries[0]["id"] == "U-HI01"
    assert reports[1]["config"]["fit_only"] and reports[1]["config"]["fresh_seed"] == 1000
    training_hi = animal_nus(tiny_cohort_model)[2:]  # HI01, HI02 at their learned nu
    expected = nu_distances(np.asarray([entries[1]["nu"]]), training_hi)
    assert entries[1]["distance_nearest"] == pytest.approx(float(expected.nearest[0]))
    assert entries[1]["distance_centre"] == pytest.approx(float(expected.centre[0]))
    assert entries[1]["generator"]["severity_db_hl"] > 5.0 and np.isfinite(entries[1]["heldout_feve"])
    assert entries[0]["pta_db_hl"] == entries[1]["pta_db_hl"] > 5.0
    assert main(["ground-truth", "--out", str(tmp_path / "none"), "--fit-only", "--fresh-hi", "0"]) == 2
    assert not (tmp_path / "none").exists()
