"""Evaluation of trained models (Table 1, FEVE/KL medians, nu-severity Spearman) on a tiny synthetic cohort."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from simulator.errors import HearloopInputError
from simulator.evaluation.evaluate import (
    SoundScore,
    aggregate,
    evaluate_model,
    nu_distance_from_nh,
    nu_distances,
    severity_spearman,
)
from simulator.evaluation.report import evaluate_run, must_show
from simulator.evaluation.table import TABLE1_MODELS
from simulator.training.cohort import prepare_cohort
from simulator.training.loop import TrainConfig
from simulator.training.stages import StageOptions, run_stages
from simulator.virtual_ic.animal import expected_response

COHORT_KW = dict(n_nh=2, n_hi=2, seed=11, n_channels=6, train_seconds=6.0, sound_duration_s=1.0,
                 n_test_per_class=1, test_duration_s=1.0, periphery="gammatone")  # fmt: skip


@pytest.fixture(scope="module")
def cohort(synthetic_cohort):
    return synthetic_cohort(**COHORT_KW)


class _RateModel(nn.Module):
    """A stand-in nu-ICNet whose "nu" is (animal index, hours) and whose prediction is Binomial(4, rate / 4).

    ``rate`` maps (animal index, audio, hours) to ``channels x bins`` expected counts.
    """

    def __init__(self, rate) -> None:
        super().__init__()
        self.rate = rate
        self.dummy = nn.Parameter(torch.zeros(1))

    def animal_nu(self, idx, hours=None, sample=False):
        return torch.stack([idx.float(), hours.float()], dim=1)

    def predict(self, audio, nu, grad=None):
        k, h = int(nu[0, 0]), float(nu[0, 1])
        p = np.clip(self.rate(k, audio[0].numpy().astype(np.float64), h) / 4.0, 0.0, 1.0)
        pmf = stats.binom.pmf(np.arange(5), 4, p[..., None])
        return torch.as_tensor(pmf, dtype=torch.float32).unsqueeze(0)


def test_feve_of_noise_free_rate_is_high_and_of_mean_rate_is_low(cohort):
    _, animals = cohort
    truth = _RateModel(lambda k, x, h: expected_response(animals[k].ground_truth, x, h))
    scores = evaluate_model(truth, "truth", animals)
    n_test = sum(s.split == "test" for s in animals[0].sounds)
    assert len(scores) == len(animals) * n_test
    groups = aggregate(scores, "group")
    assert groups[("truth", "NH")]["feve"] > 0.9 and groups[("truth", "HI")]["feve"] > 0.9
    # KL of the true count distribution is small (finite-sample histogram noise only)
    assert groups[("truth", "NH")]["kl"] < 0.05

    # a prediction that knows each channel's mean rate over the sound but nothing of its time course explains ~nothing
    def flat(k, x, h):
        y = expected_response(animals[k].ground_truth, x, h)
        return np.broadcast_to(y.mean(axis=1, keepdims=True), y.shape)

    flat_groups = aggregate(evaluate_model(_RateModel(flat), "flat", animals), "group")
    for status in ("NH", "HI"):
        assert abs(flat_groups[("flat", status)]["feve"]) < 0.15


def test_aggregate_medians_by_group_animal_and_class():
    def s(animal, status, cls, f, kl=0.1):
        return SoundScore("m", animal, status, f"{cls}_{f}", cls, f, kl)

    scores = [s("A", "NH", "speech", 0.9), s("A", "NH", "tone", 0.5), s("B", "NH", "speech", 0.7),
              s("C", "HI", "speech", 0.2), s("C", "HI", "tone", float("nan"))]  # fmt: skip
    g = aggregate(scores, "group")
    assert g[("m", "NH")]["feve"] == pytest.approx(0.7) and g[("m", "NH")]["n"] == 3
    assert g[("m", "HI")]["feve"] == pytest.approx(0.2) and g[("m", "HI")]["n"] == 1  # NaN skipped
    a = aggregate(scores, "animal")
    assert a[("m", "A")]["feve"] == pytest.approx(0.7)
    c = aggregate(scores, "class")
    assert c[("m", "NH", "speech")]["feve"] == pytest.approx(0.8)
    assert np.isnan(c[("m", "HI", "tone")]["feve"])
    with pytest.raises(HearloopInputError, match="by must be"):
        aggregate(scores, "sound")


def test_spearman_and_nu_distance_on_known_data():
    # textbook example: rank differences (-1, 1, -1, 1, 0) -> rho = 1 - 6 * 4 / (5 * 24) = 0.8
    assert severity_spearman(np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 1, 4, 3, 5])) == pytest.approx(0.8)
    assert severity_spearman(np.array([3.0, 1, 2]), np.array([30.0, 10, 20])) == pytest.approx(1.0)
    assert severity_spearman(np.array([3.0, 1, 2]), np.array([10.0, 30, 20])) == pytest.approx(-1.0)
    assert np.isnan(severity_spearman(np.ones(4), np.arange(4.0)))
    with pytest.raises(HearloopInputError):
        severity_spearman(np.arange(2.0), np.arange(2.0))
    nu = np.array([[0.4, 0.5], [0.6, 0.5], [0.5, 0.9], [0.5, 0.1]])
    d = nu_distance_from_nh(nu, ["NH", "NH", "HI", "HI"])
    np.testing.assert_allclose(d, [0.1, 0.1, 0.4, 0.4])
    with pytest.raises(HearloopInputError, match="no NH"):
        nu_distance_from_nh(nu, ["HI"] * 4)


def test_nu_distances_to_a_group_on_known_values():
    group = np.array([[0.2, 0.2, 0.2], [0.6, 0.2, 0.2], [0.4, 0.8, 0.2]])  # centre (0.4, 0.4, 0.2)
    nu = np.array([[0.6, 0.2, 0.2], [0.23, 0.24, 0.2], [0.35, 0.4, 0.2], [0.4, 0.8, 0.5]])
    d = nu_distances(nu, group)
    np.testing.assert_allclose(d.nearest, [0.0, 0.05, 0.25, 0.3], atol=1e-12)  # a member; 3-4-5; ...
    assert d.nearest_index.tolist() == [1, 0, 0, 2]
    np.testing.assert_allclose(d.centre, [np.hypot(0.2, 0.2), np.hypot(0.17, 0.16), 0.05, np.hypot(0.4, 0.3)])
    for bad, match in (((nu[:, :2], group), "same D"), ((nu, group[:0]), "empty"), ((nu[0], group), "N x D"),
                       ((np.full((1, 3), np.nan), group), "finite")):  # fmt: skip
        with pytest.raises(HearloopInputError, match=match):
            nu_distances(*bad)


def test_must_show_flags():
    groups = {("nu-ICNet-6", "NH"): {"feve": 0.65}, ("nu-ICNet-6", "HI"): {"feve": 0.55},
              ("ICNet", "NH"): {"feve": 0.68}, ("ICNet", "HI"): {"feve": 0.70}}  # fmt: skip
    m = must_show(groups, 0.75)
    assert m["nuicnet6_feve_NH_pass"] and not m["nuicnet6_feve_HI_pass"]
    assert m["gap_to_icnet_NH_pass"] and not m["gap_to_icnet_HI_pass"]
    assert m["gap_to_icnet_HI"] == pytest.approx(0.15)
    assert m["spearman_rho_pass"] and not must_show(groups, 0.5)["spearman_rho_pass"]
    # a stage the run does not have is "not trained", a number that cannot be computed "not available": never NaN
    assert m["abrnet_feve_NH"] is None and m["missing"]["abrnet_feve_NH"] == "not trained"
    no_rho = must_show(groups, None)
    assert no_rho["spearman_rho"] is None and no_rho["spearman_rho_pass"] is None
    assert no_rho["missing"]["spearman_rho"].startswith("not available")
    partial = must_show({("nu-ICNet-6", "NH"): {"feve": 0.6}, ("nu-ICNet-6", "HI"): {"feve": float("nan")}}, 0.8,
                        trained={"nu-ICNet-6"})  # fmt: skip
    assert partial["nuicnet6_feve_HI"] is None and "not available" in partial["missing"]["nuicnet6_feve_HI"]
    assert partial["gap_to_icnet_NH"] is None and partial["missing"]["gap_to_icnet_NH"] == "not trained"
    assert not any(isinstance(v, float) and np.isnan(v) for v in partial.values())


def test_evaluate_run_writes_table1(cohort, tmp_path):
    root, animals = cohort
    prepared = prepare_cohort(root)
    options = StageOptions(preset="tiny", train=TrainConfig(max_epochs=1, batch_size=8), progress=False)
    run_stages(prepared, tmp_path / "run", ("nuicnet6", "abrnet", "icnet"), options)
    doc = evaluate_run(tmp_path / "run", root, tmp_path / "eval", progress=False)
    text = (tmp_path / "eval" / "table1.md").read_text().splitlines()
    head = text.index("| Model | NH FEVE ↑ | NH KL ↓ | HI FEVE ↑ | HI KL ↓ |")
    rows = text[head + 2 : head + 2 + len(TABLE1_MODELS)]
    assert [r.split("|")[1].strip() for r in rows] == list(TABLE1_MODELS)
    nu3 = rows[TABLE1_MODELS.index("nu-ICNet-3")]
    assert nu3.startswith("| nu-ICNet-3 | not trained |")  # not trained in this run
    nu6 = rows[TABLE1_MODELS.index("nu-ICNet-6")].split("|")[2:6]
    assert float(nu6[0]) == pytest.approx(doc["must_show"]["nuicnet6_feve_NH"], abs=5e-4)
    assert all(c.strip() != "–" for c in rows[TABLE1_MODELS.index("ICNet")].split("|")[2:6])
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert set(summary["must_show"]) >= {"nuicnet6_feve_NH", "nuicnet6_feve_HI", "spearman_rho", "abrnet_feve_HI"}
    assert len(summary["nu_separation"]["nu-ICNet-6"]["distance"]) == len(animals)
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "eval" / "scores.parquet")
    n_test = sum(s.split == "test" for s in animals[0].sounds)
    assert table.num_rows == 3 * len(animals) * n_test  # nu-ICNet-6, ABRNet, ICNet
    assert (tmp_path / "eval" / "neurograms.png").stat().st_size > 1000


def test_a_test_sound_heard_at_two_times_is_predicted_at_both():
    """nu drifts over a session (eq. 1), so the two trials of a test sound presented hours apart are predicted at
    their own times and averaged."""
    from simulator.evaluation.evaluate import predict_sound
    from tests.conftest import build_tiny_model

    tiny_model = build_tiny_model()
    audio = np.random.default_rng(0).normal(0.0, 0.05, 4096).astype(np.float32)
    with torch.no_grad():  # a visible drift: onset 30 min, full amplitude
        tiny_model.conditioning.raw_a.fill_(5.0)
    early, late = predict_sound(tiny_model, audio, 1, 0.1), predict_sound(tiny_model, audio, 1, 9.0)
    both = predict_sound(tiny_model, audio, 1, (0.1, 9.0))
    assert not torch.allclose(early, late, atol=1e-4)
    torch.testing.assert_close(both, 0.5 * (early + late))
    torch.testing.assert_close(predict_sound(tiny_model, audio, 1, (0.1, 0.1)), early)
