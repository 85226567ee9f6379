"""Fresh animals' fitted nu against the training animals' (``runners.fresh_nu``): distances on known values, the
report's fields and its bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from compensation.ground_truth import LoopAnimal
from compensation.population import ListenerSpec
from runners.fresh_nu import FreshFit, nu_report, nu_report_markdown, write_nu_report
from simulator.errors import HearloopInputError

AUDIOGRAM = {250: 20.0, 500: 30.0, 1000: 40.0, 2000: 50.0, 4000: 60.0, 8000: 70.0}
GROUND_TRUTH = {"severity_db_hl": 45.0, "periphery": {"name": "bez2018"},
                "profile": {"shape": "flat", "shape_params": {"ohc_share": 0.6}, "ohc_loss_db": [30.0, 40.0],
                            "ihc_loss_db": [10.0, 20.0], "synaptopathy": 0.1, "central_gain": 1.5}}  # fmt: skip


def _animal(animal_id: str, nu, status: str = "HI", cohort: str = "training") -> LoopAnimal:
    return LoopAnimal(cohort, ListenerSpec(animal_id, np.asarray(nu, dtype=float), AUDIOGRAM), GROUND_TRUTH, status)


TRAINING = [
    _animal("NH01", [0.5, 0.5, 0.5], "NH"),
    _animal("NH02", [0.5, 0.6, 0.5], "NH"),
    _animal("HI01", [0.2, 0.2, 0.2]),
    _animal("HI02", [0.6, 0.2, 0.2]),
    _animal("HI03", [0.4, 0.8, 0.2]),
]


def _fresh(animal_id: str, nu, status: str = "HI", feve: float = 0.3) -> FreshFit:
    return FreshFit(_animal(animal_id, nu, status, "fresh"), feve)


def test_a_fresh_nu_on_a_training_animal_is_at_distance_zero_and_a_known_offset_at_its_length():
    fresh = [_fresh("U-HI01", [0.6, 0.2, 0.2]), _fresh("U-HI02", [0.23, 0.24, 0.2]),
             _fresh("U-HI03", [0.4, 0.8, 0.9]), _fresh("U-NH01", [0.5, 0.5, 0.8], "NH", 0.6)]  # fmt: skip
    report = nu_report(fresh, TRAINING, target=0.15)
    by_id = {e["id"]: e for e in report["fresh"]}
    same, near, far, nh = by_id["U-HI01"], by_id["U-HI02"], by_id["U-HI03"], by_id["U-NH01"]
    assert same["nearest_training"] == "HI02" and same["distance_nearest"] == pytest.approx(0.0, abs=1e-12)
    assert near["nearest_training"] == "HI01" and near["distance_nearest"] == pytest.approx(0.05)  # (0.03, 0.04)
    assert far["nearest_training"] == "HI03" and far["distance_nearest"] == pytest.approx(0.7)
    assert [same["within_target"], near["within_target"], far["within_target"]] == [True, True, False]
    assert report["n_within_target"] == 2 and report["target_distance"] == 0.15
    assert same["distance_centre"] == pytest.approx(np.hypot(0.2, 0.2))  # HI centre (0.4, 0.4, 0.2)
    np.testing.assert_allclose(far["nu_minus_nearest"], [0.0, 0.0, 0.7], atol=1e-12)
    np.testing.assert_allclose(far["outside_training_range"], [0.0, 0.0, 0.7], atol=1e-12)
    np.testing.assert_allclose(near["outside_training_range"], [0.0, 0.0, 0.0])
    assert nh["nearest_training"] == "NH01" and nh["distance_nearest"] == pytest.approx(0.3)  # NH only to NH
    np.testing.assert_allclose(report["training_centre"]["HI"], [0.4, 0.4, 0.2])
    assert same["pta_db_hl"] == pytest.approx(45.0) and same["heldout_feve"] == 0.3  # PTA of 0.5, 1, 2, 4 kHz
    assert same["generator"]["shape"] == "flat" and same["generator"]["ohc_loss_db_mean"] == pytest.approx(35.0)
    assert same["generator"]["central_gain"] == 1.5 and same["generator"]["periphery"] == "bez2018"
    assert report["median_heldout_feve"] == {"HI": pytest.approx(0.3), "NH": pytest.approx(0.6)}
    spacing = {e["id"]: e["nearest_other"] for e in report["training"]}
    assert spacing["HI01"] == {"id": "HI02", "distance": pytest.approx(0.4)}
    assert spacing["NH02"] == {"id": "NH01", "distance": pytest.approx(0.1)}


def test_the_report_is_written_and_printed(tmp_path):
    report = nu_report([_fresh("U-HI01", [0.23, 0.24, 0.2])], TRAINING)
    path = write_nu_report(report, tmp_path / "out")
    assert json.loads(path.read_text())["fresh"][0]["distance_nearest"] == pytest.approx(0.05)
    text = (tmp_path / "out" / "fresh_animals.md").read_text()
    assert text == nu_report_markdown(report)
    assert "| U-HI01 | 45.0 | flat | 1.50 | 0.300 | HI01 | 0.050 | 0.233 | +0.040 (1) |" in text  # centre (.4,.4,.2)
    assert "1 of 1 within" in text and "at their fitted nu: HI 0.300." in text


def test_bad_input_is_named():
    with pytest.raises(HearloopInputError, match="no fresh animal"):
        nu_report([], TRAINING)
    with pytest.raises(HearloopInputError, match="status 'HI'"):
        nu_report([_fresh("U-HI01", [0.2, 0.2, 0.2])], TRAINING[:2])
    with pytest.raises(HearloopInputError, match="positive"):
        nu_report([_fresh("U-HI01", [0.2, 0.2, 0.2])], TRAINING, target=0.0)
    with pytest.raises(HearloopInputError, match="same D"):
        nu_report([_fresh("U-HI01", [0.2, 0.2])], TRAINING)
