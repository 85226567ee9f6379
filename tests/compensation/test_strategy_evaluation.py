"""Strategy evaluation on a tiny model: table shape, value ranges, matched loudness, summaries and written files."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from compensation import DNNConfig, get_strategy
from compensation.population import ListenerSpec, clinical_audiogram, pta_db_hl
from compensation.strategy_evaluation import COLUMNS, evaluate_strategies, headline, summarise, write_results
from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE

LISTENERS = [
    ListenerSpec("mild", np.full(6, 0.35), {250: 15, 500: 20, 1000: 25, 2000: 30, 4000: 40, 8000: 45}),
    ListenerSpec("moderate", np.full(6, 0.8), {250: 30, 500: 35, 1000: 40, 2000: 45, 4000: 55, 8000: 60}),
]
REF_NU = np.full(6, 0.2)


@pytest.fixture(scope="module")
def table(tiny_model):
    t = torch.arange(2048) / SAMPLE_RATE
    tone = 0.05 * torch.sin(2 * torch.pi * 2000 * t)
    noise = REF_PRESSURE_PA * 10 ** (65 / 20) * torch.randn(2048, generator=torch.Generator().manual_seed(0))
    sounds = torch.stack([tone, noise, 0.3 * noise]).float()
    strategies = {
        "unaided": get_strategy("unaided"),
        "nalr": get_strategy("nalr", numtaps=257),
        "wdrc": get_strategy("wdrc", numtaps=257),
        "dnn": get_strategy("dnn", pretrained=None, config=DNNConfig(hidden=8, dilations=(1, 2), cond_hidden=8)),
    }
    return evaluate_strategies(
        tiny_model, LISTENERS, sounds, ["tone0", "noise0", "noise1"], ["tone", "noise", "noise"], strategies, REF_NU,
        batch_size=3, progress=False,
    )  # fmt: skip


def test_table_has_one_row_per_listener_sound_and_strategy(table):
    assert table.column_names == list(COLUMNS)
    assert table.num_rows == 2 * 3 * 4
    data = table.to_pydict()
    assert sorted(set(data["strategy"])) == ["dnn", "nalr", "unaided", "wdrc"]
    assert [data["stratum"][i] for i in (0, table.num_rows - 1)] == ["mild", "moderate"]


def test_values_are_finite_and_in_range(table):
    data = table.to_pydict()
    for key in ("d_unaided", "d_aided", "d_matched", "fr", "fr_matched", "loudness_db", "matched_loudness_db"):
        assert np.all(np.isfinite(data[key])), key
    assert np.all(np.array(data["d_unaided"]) > 0) and np.all(np.array(data["d_aided"]) >= 0)
    assert np.all(np.array(data["fr"]) <= 1.0) and np.all(np.array(data["fr_matched"]) <= 1.0)
    unaided = [i for i, s in enumerate(data["strategy"]) if s == "unaided"]
    np.testing.assert_allclose([data["fr"][i] for i in unaided], 0.0, atol=1e-6)
    fr = np.array(data["fr"])
    d = np.array(data["d_aided"]) / np.array(data["d_unaided"])
    np.testing.assert_allclose(fr, 1.0 - d, atol=1e-6)


def test_matched_outputs_have_nalr_loudness_and_nalr_is_amplifying(table):
    data = table.to_pydict()
    keys = zip(data["listener"], data["sound"], data["strategy"], strict=True)
    rows = {key: i for i, key in enumerate(keys)}
    for (lis, sound, strategy), i in rows.items():
        target = data["loudness_db"][rows[(lis, sound, "nalr")]]
        assert data["matched_loudness_db"][i] == pytest.approx(target, abs=0.05), (lis, sound, strategy)
        if strategy == "nalr":  # its own reference: matching changes nothing
            assert data["fr_matched"][i] == pytest.approx(data["fr"][i], abs=1e-5)
            assert data["loudness_db"][i] > data["clean_loudness_db"][i] + 3.0


def test_summaries_and_written_files(table, tmp_path):
    summary = summarise(table)
    assert len(summary) == 2 * 4 and {r["n"] for r in summary} == {3}
    out = write_results(table, tmp_path / "eval")
    assert pq.read_table(out / "results.parquet").num_rows == table.num_rows
    text = (out / "summary.md").read_text()
    assert "| moderate | wdrc | 3 |" in text and "By sound class" in text and "## Headline" in text
    assert (out / "fidelity_by_strategy.png").stat().st_size > 1000


def test_headline_compares_the_challenger_with_the_baselines_per_stratum(table):
    lines = headline(table)
    assert [line.split(" (")[0] for line in lines] == ["mild", "moderate", "all HI"]
    assert "(n=2)" in lines[-1]
    medians = {(r["stratum"], r["strategy"]): r["median_fr_matched"] for r in summarise(table)}
    for line, stratum in zip(lines[:2], ("mild", "moderate"), strict=True):
        for name in ("unaided", "nalr", "wdrc", "dnn"):
            assert f"{name} {medians[(stratum, name)]:+.3f}" in line
        dnn_wins = medians[(stratum, "dnn")] > medians[(stratum, "nalr")]
        assert f"dnn > nalr: {'yes' if dnn_wins else 'NO'}" in line
        nalr_wins = medians[(stratum, "nalr")] > medians[(stratum, "unaided")]
        assert f"NAL-R > flat gain at its level: {'yes' if nalr_wins else 'NO'}" in line
        as_prescribed = {r["strategy"]: r["median_fr"] for r in summarise(table) if r["stratum"] == stratum}
        assert as_prescribed["unaided"] == 0.0
        won, fr = as_prescribed["nalr"] > 0.0, as_prescribed["nalr"]
        assert f"NAL-R as prescribed > unaided: {'yes' if won else 'NO'} ({fr:+.3f} vs +0.000)" in line


def test_strata_follow_the_pta_bands():
    assert pta_db_hl({500: 10, 1000: 20, 2000: 30, 4000: 40}) == pytest.approx(25.0)
    assert [lis.stratum for lis in LISTENERS] == ["mild", "moderate"]  # PTA 28.75 and 43.75 dB HL
    # the scale of simulator.severity, the one listeners sample cohorts by (WHO 2021 bands, NH limit 10 dB HL)
    flat = {f: 5.0 for f in (250, 500, 1000, 2000, 4000, 8000)}
    assert ListenerSpec("a", np.full(6, 0.1), flat).stratum == "NH"
    assert ListenerSpec("b", np.full(6, 0.1), {**flat, 8000: 30.0}).stratum == "slight"  # PTA 5, one 30 dB HL
    for level, expected in [(34.9, "mild"), (35.0, "moderate"), (50.0, "severe")]:
        assert ListenerSpec("c", np.full(6, 0.1), dict.fromkeys(flat, level)).stratum == expected


def test_prescriptions_use_the_audiogram_clipped_to_the_audiometer_range():
    raw = {250: -21.2, 500: 0.0, 1000: 10.0, 2000: 30.0, 4000: 131.0}
    assert clinical_audiogram(raw) == {250: -10.0, 500: 0.0, 1000: 10.0, 2000: 30.0, 4000: 120.0}
    with pytest.raises(ValueError, match="250 Hz"):
        get_strategy("wdrc").prescribe(raw)  # the formulas reject what no audiometer reports ...
    wdrc = get_strategy("wdrc")
    theta = wdrc.prescribe(clinical_audiogram(raw))  # ... so prescriptions see the clipped values
    assert torch.equal(theta, wdrc.prescribe({250: -10.0, 500: 0.0, 1000: 10.0, 2000: 30.0, 4000: 120.0}))
    fields = {k: v[0].tolist() for k, v in wdrc.split_theta(theta[None]).items()}
    for fc, ratio in zip(wdrc.filterbank.centres_hz, fields["ratio"], strict=True):
        if fc >= 4000:  # 120 dB HL, clipped to 119 in the rule: 1 / (1 - 119 / 120) = 120 -> the maximum CR of 4
            assert ratio == pytest.approx(4.0), fc
        elif fc <= 500:  # thresholds <= 0 dB HL: no compression, CR = 1 / (1 - 0) = 1
            assert ratio == pytest.approx(1.0), fc
    assert fields["threshold_db_spl"] == [45.0] * wdrc.n_bands
    assert fields["attack_ms"] == [5.0] * wdrc.n_bands and fields["release_ms"] == [50.0] * wdrc.n_bands
