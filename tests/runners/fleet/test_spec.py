"""Fleet spec validation (runners.fleet.spec): every rule rejects what it should with a SpecError naming the key, and
accepts the values at its boundary."""

from __future__ import annotations

import hashlib
import json

import pytest

from runners.fleet.spec import PIPELINE_STEPS, key_constraint, load_spec, parse_spec, spec_from_toml
from runners.fleet.spec_checks import RESPONSE_RATE, SEED
from runners.fleet.spec_docs import describe_fields
from simulator.errors import MissingFileError, SpecError
from simulator.validated_config import Interval

STEPS = "[pipeline]\nsteps = {}\n"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            STEPS.format("['audiometry', 'prescription', 'prescription']"),
            "spec.pipeline.steps: duplicate steps in ['audiometry', 'prescription', 'prescription']",
        ),
        (
            STEPS.format("['audiometry', 'fitting']"),
            "spec.pipeline.steps[1]: unknown step 'fitting'; expected a subset of "
            "('audiometry', 'prescription', 'hitl', 'evaluation')",
        ),
        (STEPS.format("['audiometry', 'hitl']"), "spec.pipeline.steps: 'hitl' needs the 'prescription' step"),
        (
            STEPS.format("['audiometry', 'evaluation']"),
            "spec.pipeline.steps: 'evaluation' needs the 'prescription' step",
        ),
        (
            STEPS.format("['prescription']"),
            "spec.pipeline.prescribe_from: 'estimate' needs the 'audiometry' step (or use 'truth')",
        ),
        (
            "[pipeline]\nprescribe_from = 'guess'\n",
            "spec.pipeline.prescribe_from: expected one of 'estimate', 'truth', got 'guess'",
        ),
        ("[cohort]\nlapse_rate = 1.5\n", "spec.cohort.lapse_rate: must be a number in [0, 0.5), got 1.5"),
        ("[cohort]\nlapse_rate = -0.01\n", "spec.cohort.lapse_rate: must be a number in [0, 0.5), got -0.01"),
        ("[cohort]\nfalse_alarm_rate = 2\n", "spec.cohort.false_alarm_rate: must be a number in [0, 0.5), got 2.0"),
        ("[cohort]\nn = true\n", "spec.cohort.n: expected int, got bool"),
        ("[cohort]\nn = 2.0\n", "spec.cohort.n: expected int, got float"),
        ("[cohort]\nn = 0\n", "spec.cohort.n: must be an integer in [1, inf), got 0"),
        ("[cohort]\nsigma_db = '5'\n", "spec.cohort.sigma_db: expected float, got str"),
        ("[cohort]\nsigma_db = true\n", "spec.cohort.sigma_db: expected float, got bool"),
        ("[report]\nenabled = 1\n", "spec.report.enabled: expected bool, got int"),
        ("[hitl]\nstrategy = 'dnn'\n", "spec.hitl.strategy: expected one of 'nalr', 'multiband', 'wdrc', got 'dnn'"),
        ("[hitl]\nn_sounds = 0\n", "spec.hitl.n_sounds: must be an integer in [1, 1000], got 0"),
        (
            "[hitl]\nsound_seed = 0\n",
            "spec.hitl.sound_seed: must differ from spec.sounds.seed (tuning sounds are never evaluated)",
        ),
        (
            "[sounds]\nseed = 1\n",
            "spec.hitl.sound_seed: must differ from spec.sounds.seed (tuning sounds are never evaluated)",
        ),
        ("[strategies]\nnames = ['nalr', 'nalr']\n", "spec.strategies.names: duplicate strategies"),
        ("[strategies]\nnames = 'nalr'\n", "spec.strategies.names: expected array, got str"),
        (
            "[evaluation]\nextra_distances = ['cosine']\n",
            "spec.evaluation.extra_distances[0]: 'cosine' is not one of ('l1', 'l2', 'kl') "
            "other than spec.evaluation.distance",
        ),
        (
            "[sounds]\nclasses = ['silence']\n",
            "spec.sounds.classes[0]: unknown sound class 'silence'; "
            "known: ('speech', 'speech_in_noise', 'music', 'ripple', 'tone')",
        ),
        ("[sounds]\nclasses = []\n", "spec.sounds.classes: needs at least one class"),
        ("[sounds]\nduration_s = 0.04\n", "spec.sounds.duration_s: must be a number in [0.05, 60], got 0.04"),
        (
            "[audiometry]\nfreqs_hz = [100.0]\n",
            "spec.audiometry.freqs_hz[0]: must be a number in [125, 12000], got 100.0",
        ),
        (
            "[audiometry]\nfreqs_hz = [500.0, 12001.0]\n",
            "spec.audiometry.freqs_hz[1]: must be a number in [125, 12000], got 12001.0",
        ),
        ("[audiometry]\nfreqs_hz = []\n", "spec.audiometry.freqs_hz: needs at least one frequency"),
        (
            "[cohort]\nstrata = { deaf = 2 }\n",
            "spec.cohort.strata.deaf: unknown stratum (NH, slight, mild, moderate, severe)",
        ),
        ("[cohort]\nstrata = { mild = -1 }\n", "spec.cohort.strata.mild: must be >= 0, got -1"),
        ("[cohort]\nn = 3\nstrata = { mild = 2 }\n", "spec.cohort.strata: counts sum to 2 but spec.cohort.n = 3"),
        ("[cohort]\nfile = 'c.toml'\nn = 3\n", "spec.cohort.n: cannot be combined with spec.cohort.file"),
        (
            "[model]\npath = 'nowhere'\n",
            "spec.model.path: '<tmp>/nowhere' is not a checkpoint directory (no config.json)",
        ),
        ("[model]\nthreads = 0\n", "spec.model.threads: must be an integer in [1, 256], got 0"),
        (
            "[regress]\ntolerances = { fr = { abs = 0.1, ppm = 2.0 } }\n",
            "spec.regress.tolerances.fr.ppm: unknown key (known: abs, rel)",
        ),
        ("[engine]\nkind = 'slurm'\n", "spec.engine.kind: expected one of 'local', 'ray', got 'slurm'"),
        ("cohort = 3\n", "spec.cohort: expected table, got int"),
        ("[run\n", "spec: not valid TOML"),
    ],
)
def test_spec_errors_name_the_key(toml, message, tmp_path):
    with pytest.raises(SpecError) as err:
        spec_from_toml(toml, base_dir=tmp_path)
    text = str(err.value).replace(str(tmp_path), "<tmp>")
    assert text == message or (message == "spec: not valid TOML" and text.startswith("spec: not valid TOML: "))


def test_values_at_the_boundaries_are_accepted(tmp_path):
    spec = spec_from_toml(
        "[cohort]\nlapse_rate = 0\nfalse_alarm_rate = 0.499\nsigma_db = 5\nn = 1\n"
        "[audiometry]\nfreqs_hz = [125.0, 12000.0]\n[sounds]\nduration_s = 0.05\n"
        "[hitl]\nn_sounds = 2\nstrategy = 'nalr'\ntune = 'gains'\n",
        base_dir=tmp_path,
    )
    # rates in [0, 0.5): what a VirtualListener takes
    assert (spec.cohort.lapse_rate, spec.cohort.false_alarm_rate) == (0.0, 0.499)
    assert isinstance(spec.cohort.sigma_db, float) and spec.cohort.sigma_db == 5.0  # ints are floats where floats go
    assert spec.audiometry.freqs_hz == [125.0, 12000.0] and spec.hitl.n_sounds == 2
    # hitl/evaluation are optional; 'truth' needs no audiometry
    spec = spec_from_toml(STEPS.format("['prescription']") + "prescribe_from = 'truth'\n", base_dir=tmp_path)
    assert spec.pipeline.steps == ["prescription"] and not spec.hitl_enabled
    # the tuning sounds need their own seed only when HITL runs
    spec = spec_from_toml(
        STEPS.format("['audiometry', 'prescription']") + "[hitl]\nsound_seed = 0\n", base_dir=tmp_path
    )
    assert spec.hitl.sound_seed == spec.sounds.seed == 0
    # strata without n set the cohort size
    spec = spec_from_toml("[cohort]\nstrata = { NH = 1, mild = 2, severe = 0 }\n", base_dir=tmp_path)
    assert spec.cohort.n == 3 and spec.cohort.strata == {"NH": 1, "mild": 2, "severe": 0}


def test_cohort_and_model_paths_resolve_against_the_spec_directory(tmp_path, tiny_model_dir):
    (tmp_path / "c.toml").write_text("")
    spec = spec_from_toml("[cohort]\nfile = 'c.toml'\n", base_dir=tmp_path)
    assert spec.cohort.file == str((tmp_path / "c.toml").resolve())
    with pytest.raises(SpecError, match=r"spec\.cohort\.file: cohort file .*missing\.toml' does not exist"):
        spec_from_toml("[cohort]\nfile = 'missing.toml'\n", base_dir=tmp_path)
    spec = spec_from_toml(f"[model]\npath = '{tiny_model_dir}'\n", base_dir=tmp_path)
    assert spec.model.path == str(tiny_model_dir.resolve())


def test_spec_files_and_tables(tmp_path):
    with pytest.raises(SpecError, match="spec: expected table, got array"):
        parse_spec([1, 2])  # type: ignore[arg-type]
    bad = tmp_path / "bad.toml"
    bad.write_text("[cohort\n")
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_spec(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_spec(tmp_path / "none.toml")
    text = describe_fields()
    assert "[cohort]" in text and "  lapse_rate (float, default 0.02): " in text


def test_digest_covers_what_the_results_depend_on(tmp_path):
    base = spec_from_toml("", base_dir=tmp_path)
    d = base.to_dict()
    del d["run"]["out_dir"], d["engine"], d["report"], d["regress"]
    assert base.digest() == hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
    placement = (
        "[run]\nout_dir = 'elsewhere'\n[engine]\nkind = 'ray'\nworkers = 4\n[report]\nenabled = false\n"
        "[regress]\ntolerances = { fr = { abs = 0.5 } }\n"
    )
    assert spec_from_toml(placement, base_dir=tmp_path).digest() == base.digest()
    for changed in ("[cohort]\nn = 3\n", "[run]\nseed = 1\n", "[hitl]\nsound_seed = 2\n"):
        assert spec_from_toml(changed, base_dir=tmp_path).digest() != base.digest()
    assert spec_from_toml(base.to_toml(), base_dir=tmp_path) == base  # the TOML form reads back to the same spec


def test_hitl_tune_is_checked_against_the_strategy_only_when_hitl_runs(tmp_path):
    with pytest.raises(SpecError) as err:
        spec_from_toml("[hitl]\ntune = 'bands:9'\n", base_dir=tmp_path)
    assert str(err.value) == "spec.hitl.tune: n_groups must be in 1..8 (parameters starting 'gain_db'); got 9"
    spec = spec_from_toml(
        STEPS.format("['audiometry', 'prescription']") + "[hitl]\ntune = 'bands:9'\n", base_dir=tmp_path
    )
    assert not spec.hitl_enabled and spec.hitl.tune == "bands:9"
    assert spec_from_toml("", base_dir=tmp_path).hitl_enabled  # the default pipeline runs HITL


@pytest.mark.parametrize("key", ["n = 3", "strata = { mild = 1 }", "seed = 4"])
def test_a_cohort_file_excludes_drawing_keys(tmp_path, key):
    (tmp_path / "c.toml").write_text("")
    with pytest.raises(SpecError) as err:
        spec_from_toml(f"[cohort]\nfile = 'c.toml'\n{key}\n", base_dir=tmp_path)
    assert str(err.value) == f"spec.cohort.{key.split(' ')[0]}: cannot be combined with spec.cohort.file"


def test_load_spec_reads_files_relative_to_their_folder_and_none_is_the_default(tmp_path):
    default = load_spec(None)
    assert default == spec_from_toml("") and default.cohort.n == 8 and default.pipeline.steps == list(PIPELINE_STEPS)
    (tmp_path / "c.toml").write_text("")
    (tmp_path / "run.toml").write_text("[cohort]\nfile = 'c.toml'\n[hitl]\nbudget = 7\n")
    spec = load_spec(str(tmp_path / "run.toml"))
    assert spec.cohort.file == str((tmp_path / "c.toml").resolve()) and spec.hitl.budget == 7
    with pytest.raises(MissingFileError) as err:
        load_spec(tmp_path / "none.toml")
    assert str(err.value) == f"spec file {str(tmp_path / 'none.toml')!r} does not exist"


def test_key_constraint_is_the_declared_constraint_of_the_key():
    assert key_constraint("cohort", "lapse_rate") is RESPONSE_RATE and key_constraint("run", "seed") is SEED
    assert key_constraint("model", "threads") == Interval(int, 1, 256)
    assert key_constraint("model", "path") is None


def test_unknown_strategies_are_named_with_their_index(tmp_path):
    with pytest.raises(SpecError) as err:
        spec_from_toml("[strategies]\nnames = ['nalr', 'glasses']\n", base_dir=tmp_path)
    assert str(err.value) == (
        "spec.strategies.names[1]: unknown strategy 'glasses'; known: ('nalr', 'multiband', 'wdrc', 'dnn')"
    )
    assert spec_from_toml("[strategies]\nnames = ['dnn', 'nalr']\n").strategies.names == ["dnn", "nalr"]


def test_the_default_extra_distances_drop_the_main_distance_but_given_ones_are_checked(tmp_path):
    assert spec_from_toml("").evaluation.extra_distances == ["kl"]
    spec = spec_from_toml("[evaluation]\ndistance = 'kl'\n")
    assert (spec.evaluation.distance, spec.evaluation.extra_distances) == ("kl", [])
    spec = spec_from_toml("[evaluation]\ndistance = 'l2'\nextra_distances = ['l1', 'kl']\n")
    assert spec.evaluation.extra_distances == ["l1", "kl"]
    with pytest.raises(SpecError) as err:
        spec_from_toml("[evaluation]\ndistance = 'kl'\nextra_distances = ['kl']\n")
    assert str(err.value) == (
        "spec.evaluation.extra_distances[0]: 'kl' is not one of ('l1', 'l2', 'kl') other than spec.evaluation.distance"
    )


def test_regression_tolerances_take_abs_and_rel_at_or_above_zero(tmp_path):
    spec = spec_from_toml("[regress]\ntolerances = { fr = { abs = 0.0, rel = 0.25 } }\n", base_dir=tmp_path)
    assert spec.regress.tolerances == {"fr": {"abs": 0.0, "rel": 0.25}}
    with pytest.raises(SpecError) as err:
        spec_from_toml("[regress]\ntolerances = { fr = { rel = -0.5 } }\n", base_dir=tmp_path)
    assert str(err.value) == "spec.regress.tolerances.fr.rel: must be a number in [0, inf), got -0.5"


def test_a_relative_model_path_without_a_base_folder_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert parse_spec({"model": {"path": "ckpt"}}).model.path == str((tmp_path / "ckpt").resolve())
    absolute = str((tmp_path / "ckpt").resolve())
    assert parse_spec({"model": {"path": absolute}}, base_dir=tmp_path / "elsewhere").model.path == absolute


def test_unknown_sections_are_named_with_the_known_ones(tmp_path):
    with pytest.raises(SpecError) as err:
        spec_from_toml("[cohrt]\nn = 2\n", base_dir=tmp_path)
    assert str(err.value) == (
        "spec.cohrt: unknown section (known: run, model, cohort, pipeline, audiometry, strategies, hitl, sounds, "
        "evaluation, engine, report, regress)"
    )


def test_a_stored_spec_keeps_its_cohort_keys_and_needs_no_cohort_file(tmp_path):
    """A run manifest records every key, and the cohort was drawn into its jobs: the file may be gone."""
    stored = {"cohort": {"file": str(tmp_path / "gone.toml"), "n": 3, "seed": 4, "strata": {}}}
    spec = parse_spec(stored, base_dir=tmp_path, stored=True)
    assert (spec.cohort.file, spec.cohort.n, spec.cohort.seed) == (str(tmp_path / "gone.toml"), 3, 4)
    with pytest.raises(SpecError) as err:
        parse_spec(stored, base_dir=tmp_path)
    assert str(err.value) == "spec.cohort.n: cannot be combined with spec.cohort.file"


def _spec_error(toml: str, tmp_path) -> str:
    with pytest.raises(SpecError) as err:
        spec_from_toml(toml, base_dir=tmp_path)
    return str(err.value)


def test_audiogram_frequencies_are_distinct_and_bracket_nalr_s_average_when_prescribed(tmp_path):
    freqs = "[audiometry]\nfreqs_hz = {}\n"
    assert _spec_error(freqs.format("[500.0, 1000.0, 500.0]"), tmp_path) == (
        "spec.audiometry.freqs_hz: duplicate frequencies in [500.0, 1000.0, 500.0]"
    )
    assert _spec_error(freqs.format("[500.0, 1999.0]"), tmp_path) == (
        "spec.audiometry.freqs_hz: [500.0, 1999.0] leave [2000] Hz outside the measured range; the prescriptions "
        "need [500, 1000, 2000] Hz measured or bracketed (NAL-R's three-frequency average)"
    )
    assert _spec_error(freqs.format("[1000.0, 4000.0]"), tmp_path).startswith(
        "spec.audiometry.freqs_hz: [1000.0, 4000.0] leave [500] Hz outside"
    )
    # measured at both ends, or bracketed by lower and higher frequencies
    assert spec_from_toml(freqs.format("[500.0, 2000.0]"), base_dir=tmp_path).audiometry.freqs_hz == [500.0, 2000.0]
    assert spec_from_toml(freqs.format("[250.0, 4000.0]"), base_dir=tmp_path).audiometry.freqs_hz == [250.0, 4000.0]
    # no prescription step, or no strategy prescribed from the audiogram: any frequencies
    only_high = freqs.format("[4000.0]")
    assert spec_from_toml(STEPS.format("['audiometry']") + only_high, base_dir=tmp_path).audiometry.freqs_hz == [4000.0]
    dnn_only = "[strategies]\nnames = ['dnn']\n" + only_high
    no_hitl = STEPS.format("['audiometry', 'prescription', 'evaluation']") + dnn_only
    assert spec_from_toml(no_hitl, base_dir=tmp_path).strategies.names == ["dnn"]
    # ... but a HITL strategy prescribed from the audiogram counts (the default HITL strategy is WDRC)
    assert _spec_error(dnn_only, tmp_path).startswith("spec.audiometry.freqs_hz: [4000.0] leave [500, 1000, 2000] Hz")


def test_a_relative_cohort_file_without_a_base_folder_is_resolved_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "c.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    expected = str((tmp_path / "c.toml").resolve())
    assert parse_spec({"cohort": {"file": "sub/../c.toml"}}).cohort.file == expected
    assert parse_spec({"cohort": {"file": "sub/../c.toml"}}, base_dir=tmp_path).cohort.file == expected
    with pytest.raises(SpecError) as err:
        parse_spec({"cohort": {"file": "gone.toml"}})
    assert str(err.value) == "spec.cohort.file: cohort file 'gone.toml' does not exist"


def test_the_cohort_size_is_checked_against_the_available_memory(tmp_path, monkeypatch):
    import simulator.validation

    monkeypatch.setattr(simulator.validation, "available_memory_bytes", lambda: 5 * 8192)  # five listeners' worth
    assert spec_from_toml("[cohort]\nn = 5\n", base_dir=tmp_path).cohort.n == 5
    message = "spec.cohort.n = 6 needs about 4.58e-05 GiB of memory (8192 bytes each) but 3.81e-05 GiB are available"
    assert _spec_error("[cohort]\nn = 6\n", tmp_path) == message
    assert _spec_error("[cohort]\nstrata = { mild = 6 }\n", tmp_path) == message  # the size the strata set
