"""Fleet runs on the local engine: spec validation, run directory, retries, interrupt + resume, report, CLI."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import torch

from runners.cli import main
from runners.fleet.faults import FaultyFactory
from runners.fleet.pipeline import FleetWorker
from runners.fleet.report import write_report
from runners.fleet.rundir import RunDir
from runners.fleet.runner import resume_fleet, run_fleet
from runners.fleet.spec import load_spec, spec_from_toml
from simulator.errors import SpecError
from tests.reliability.support import CountingFactory
from tests.runners.fleet.support import job_values, same_values, tiny_spec, tiny_spec_text


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------------------- spec
def test_default_spec_is_the_documented_default_cohort():
    spec = load_spec()
    assert spec.cohort.n == 8 and spec.cohort.seed == 0 and spec.cohort.file == "" and spec.cohort.strata == {}
    assert spec.pipeline.steps == ["audiometry", "prescription", "hitl", "evaluation"]
    assert spec.engine.kind == "local" and spec.model.path == ""


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[cohort]\nsize = 3\n", "spec.cohort.size: unknown key"),
        ("[cohort]\nn = 'three'\n", "spec.cohort.n: expected int, got str"),
        ("[hitl]\nbudget = 2.5\n", "spec.hitl.budget: expected int, got float"),
        ("[cohort]\nfile = 'no-such-cohort.toml'\n", "spec.cohort.file: cohort file"),
        ("[cohorts]\nn = 3\n", "spec.cohorts: unknown section"),
        ("[hitl]\nmode = 'telepathy'\n", "spec.hitl.mode: expected one of"),
        ("[strategies]\nnames = ['nalr', 'magic']\n", "spec.strategies.names[1]: unknown strategy"),
        ("[evaluation]\nextra_distances = ['l1']\n", "spec.evaluation.extra_distances[0]"),
        ("[hitl]\ntune = 'bands:x'\n", "spec.hitl.tune: tune 'bands:N' needs an integer N"),
        ("[hitl]\ntune = 'gain_db_band0_164hz,volume'\n", "spec.hitl.tune: tune group 'volume'"),
        ("[hitl]\nsound_seed = 5\n[sounds]\nseed = 5\n", "spec.hitl.sound_seed: must differ from spec.sounds.seed"),
    ],
)
def test_malformed_spec_errors_name_the_key(toml, key, tmp_path):
    with pytest.raises(SpecError) as err:
        spec_from_toml(toml, base_dir=tmp_path)
    assert key in str(err.value)


def test_malformed_spec_on_the_cli_leaves_no_run_directory(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[engine]\nworkers = 'many'\n")
    out = tmp_path / "runs" / "bad-run"
    assert main(["fleet", str(bad), "--out", str(out), "--no-progress"]) == 2
    assert "spec.engine.workers: expected int, got str" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "runs").exists()


# ------------------------------------------------------------------------------------------------------------ run
def test_run_directory_has_manifest_and_one_result_per_job(reference_run):
    run = RunDir.open(reference_run)
    manifest = run.manifest()
    assert {"spec", "spec_digest", "seeds", "jobs", "model", "git", "versions", "invocations"} <= manifest.keys()
    assert manifest["versions"]["torch"] and "revision" in manifest["git"] and manifest["model"]["weights_sha256"]
    assert manifest["seeds"]["master"] == 3 and len({tuple(j["seeds"].values()) for j in manifest["jobs"]}) == 3
    assert manifest["invocations"][-1]["status"] == "finished" and run.failures() == []
    ids = [j["id"] for j in manifest["jobs"]]
    assert sorted(p.stem for p in (reference_run / "jobs").glob("*.parquet")) == sorted(ids)
    assert not list(reference_run.rglob("*.tmp"))
    table = pq.read_table(reference_run / "results.parquet")
    assert table.column("job").unique().to_pylist() == ids
    rows = table.to_pylist()
    # every step produced its metrics: audiometry per frequency, prescription, HITL trace, evaluation per strategy
    est = [r for r in rows if r["metric"] == "threshold_estimate_db_hl"]
    assert len(est) == 3 * 3 and all(abs(r["value"]) < 130 for r in est)
    trace = [r for r in rows if r["metric"] == "fraction_of_oracle" and r["job"] == ids[0]]
    assert [r["query"] for r in trace] == [0, 1, 2]
    fr = {(r["job"], r["strategy"]) for r in rows if r["metric"] == "fidelity_restored_mean"}
    strategies = ("nalr", "wdrc", "wdrc+hitl")
    assert fr == {(j, s) for j in ids for s in (*strategies, "volume control")}
    fr_l2 = {(r["job"], r["strategy"]): r["value"] for r in rows if r["metric"] == "fidelity_restored_mean_l2"}
    assert fr_l2.keys() == {(j, s) for j in ids for s in strategies} and all(v <= 1.0 for v in fr_l2.values())
    # per sound, fidelity restored is 1 - D(aided) / D(unaided) of the distances reported beside it
    for suffix, n_strategies in (("", 4), ("_l2", 3)):
        d_un = {(r["job"], r["sound"]): r["value"] for r in rows if r["metric"] == f"d_unaided{suffix}"}
        d_aid = {(r["job"], r["strategy"], r["sound"]): r["value"] for r in rows if r["metric"] == f"d_aided{suffix}"}
        per_sound = [r for r in rows if r["metric"] == f"fidelity_restored{suffix}"]
        assert len(per_sound) == len(d_aid) == n_strategies * len(d_un) > 0
        for r in per_sound:
            expected = 1.0 - d_aid[(r["job"], r["strategy"], r["sound"])] / d_un[(r["job"], r["sound"])]
            assert r["value"] == pytest.approx(expected, rel=1e-5, abs=1e-6), r


def test_every_comparison_shows_the_volume_knob_and_no_hitl_session_ends_too_loud(reference_run):
    rows = pq.read_table(reference_run / "results.parquet").to_pylist()

    def by(metric, step="evaluation"):
        return {(r["job"], r["strategy"], r["param"], r["sound"]): r["value"] for r in rows
                if r["step"] == step and r["metric"] == metric}  # fmt: skip

    fr, matched, over = by("fidelity_restored_mean"), by("fidelity_restored_matched_mean"), by("fr_over_volume_control")
    assert fr.keys() == matched.keys() == over.keys()
    for (job, strategy, param, sound), value in fr.items():  # gain over the volume control, per listener
        assert over[(job, strategy, param, sound)] == pytest.approx(value - fr[(job, "volume control", "", "")])
    assert all(v <= 0.05 for v in by("above_comfort_phon").values())  # nothing delivered above the comfort limit
    hitl_above = by("above_comfort_phon", "hitl")
    assert len(hitl_above) == 3 and all(v <= 0.05 for v in hitl_above.values())
    tuning = {k[3] for k in by("tuning_sound", "hitl")}
    evaluated = {k[3] for k in by("d_unaided")}
    assert tuning and evaluated and not tuning & evaluated
    edges = by("at_edge", "hitl")
    assert {k[2] for k in edges} == {"group0", "group1"} and set(edges.values()) <= {0.0, 1.0}
    n_edge = by("n_at_edge", "hitl")
    assert all(n_edge[(job, s, "", "")] == sum(v for k, v in edges.items() if k[0] == job) for job, s, _, _ in n_edge)
    limits = {v for v in by("comfort_limit_phon", "comfort").values()}
    assert len(limits) == 1 and 90.0 < limits.pop() < 100.0


def test_every_job_records_the_nh_animals_unaided_distances(model_dir, reference_run):
    from listeners import animal_nus

    worker = FleetWorker(tiny_spec(model_dir))  # the reference run's sounds, model and NH reference
    animals = worker.model.metadata["animals"]
    nh = {a["id"]: k for k, a in enumerate(animals) if a["status"] == "NH"}
    nus = torch.as_tensor(animal_nus(worker.model), dtype=torch.float32)
    rows = pq.read_table(reference_run / "results.parquet").to_pylist()
    got: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["step"] == "evaluation" and r["metric"] == "d_unaided_nh_animal":
            got.setdefault((r["param"], r["sound"]), []).append(r["value"])
    assert nh and {a for a, _ in got} == set(nh) and {s for _, s in got} == set(worker.sound_names)
    for (animal, sound), values in got.items():
        clean = worker.sounds[worker.sound_names.index(sound)].unsqueeze(0)
        with torch.no_grad():
            d = float(worker.objective(clean, clean, nus[nh[animal]].unsqueeze(0))[0])
        assert values == pytest.approx([d] * 3, rel=1e-5, abs=1e-7)  # every job, the animal at its own nu


def test_failed_attempts_are_retried_and_final_failures_reported(model_dir, reference_run, tmp_path):
    jobs = [j["id"] for j in RunDir.open(reference_run).manifest()["jobs"]]
    out = tmp_path / "failing"
    faults = FaultyFactory(FleetWorker, fail={jobs[0]: 1, jobs[1]: 9})  # job 0 fails once, job 1 always
    summary = run_fleet(tiny_spec(model_dir), out, factory=faults, progress=False)  # retries = 1
    assert not summary.ok and summary.n_finished == 2
    assert RunDir(out).job_meta(jobs[0])["attempt"] == 1  # the retry succeeded
    (failure,) = json.loads((out / "failures.json").read_text())
    assert failure["job"] == jobs[1] and failure["attempts"] == 2 and "injected failure" in failure["errors"][-1]
    assert {r["job"] for r in pq.read_table(out / "results.parquet").to_pylist()} == {jobs[0], jobs[2]}
    # resuming computes only the failed job, and the completed run equals an undisturbed one
    counter = CountingFactory()
    resumed = resume_fleet(out, factory=counter, progress=False)
    assert resumed.ok and counter.ran == [jobs[1]] and resumed.n_skipped == 2
    assert RunDir(out).failures() == []
    assert same_values(job_values(out), job_values(reference_run))


def test_interrupt_then_resume_completes_without_recomputing_finished_jobs(model_dir, reference_run, tmp_path):
    spec = tiny_spec(model_dir)
    jobs = [j["id"] for j in RunDir.open(reference_run).manifest()["jobs"]]
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C while the third job runs
        run_fleet(spec, out, factory=FaultyFactory(FleetWorker, interrupt={jobs[2]}), progress=False)
    run = RunDir.open(out)
    assert run.finished(jobs) == set(jobs[:2])
    assert run.manifest()["invocations"][-1]["status"] == "interrupted"
    before = {j: run.job_path(j).read_bytes() for j in jobs[:2]}
    counter = CountingFactory()
    summary = resume_fleet(out, factory=counter, progress=False)
    assert summary.ok and counter.ran == [jobs[2]] and (summary.n_computed, summary.n_skipped) == (1, 2)
    assert all(run.job_path(j).read_bytes() == before[j] for j in jobs[:2])  # finished jobs untouched
    assert same_values(job_values(out), job_values(reference_run))
    assert [i["status"] for i in run.manifest()["invocations"]] == ["interrupted", "finished"]


def test_run_directory_refuses_to_overwrite_and_resume_checks_the_spec(model_dir, reference_run):
    with pytest.raises(FileExistsError):
        run_fleet(tiny_spec(model_dir), reference_run, progress=False)
    other = tiny_spec(model_dir, run='name = "tiny"\nseed = 4')
    with pytest.raises(ValueError, match="spec differs"):
        resume_fleet(reference_run, other, progress=False)


# --------------------------------------------------------------------------------------------------- report / CLI
def test_report_has_every_section_and_plot(reference_run):
    path = write_report(reference_run)
    text = path.read_text()
    for heading in ("## Audiometry", "## Fidelity restored per strategy", "## Comfort", "## HITL fitting",
                    "Neurogram example"):  # fmt: skip
        assert heading in text
    assert "| volume control |" in text and "matched loudness" in text and "over volume control" in text
    assert "Sessions ending above the comfort limit: 0 of 3" in text and "shared: none" in text
    assert "Sessions ending with a tuned coordinate on the edge of its search box" in text
    for name in ("audiograms", "fidelity_restored", "hitl_convergence", "neurogram"):
        png = reference_run / "plots" / f"{name}.png"
        assert png.read_bytes()[:4] == b"\x89PNG" and f"plots/{name}.png" in text
    assert "3 of 3 jobs finished, 0 failed" in text


def test_report_names_the_audiometry_method_and_flags_sessions_stopped_by_the_trial_cap(
    model_dir, reference_run, tmp_path
):
    text = write_report(reference_run).read_text()  # GP-PTA with 4 trials, below its 8-trial minimum
    assert "## Audiometry (GP-PTA vs neurometric truth)" in text
    assert "3 of 3 sessions stopped at the trial cap (4) before the procedure finished" in text
    assert text.count("| 4 (cap: not finished) |") == 3

    def audiometry_only(name: str, audiometry: str) -> str:
        spec = tiny_spec(model_dir, audiometry=audiometry + "\nfreqs_hz = [500.0, 2000.0, 4000.0]",
                         pipeline='steps = ["audiometry"]', report="neurogram = false")  # fmt: skip
        assert run_fleet(spec, tmp_path / name, progress=False).ok
        return (tmp_path / name / "report.md").read_text()

    hw = audiometry_only("hw", 'method = "hw"\nmax_trials = 6')
    assert "## Audiometry (modified Hughson-Westlake vs neurometric truth)" in hw and "GP-PTA" not in hw
    assert "not every frequency has a threshold" in hw and "(cap: not finished)" in hw
    finished = audiometry_only("converged", "max_trials = 12\ntarget_sd = 1000.0")  # stops at its 8-trial minimum
    assert "trial cap" not in finished and "(cap" not in finished and "| 8 |" in finished


def test_cli_fleet_then_report(model_dir, reference_run, tmp_path, capsys):
    spec_file = tmp_path / "tiny.toml"
    spec_file.write_text(tiny_spec_text(model_dir))
    out = tmp_path / "cli-run"
    assert main(["fleet", str(spec_file), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    assert "3/3 jobs finished" in capsys.readouterr().out
    assert same_values(job_values(out), job_values(reference_run))
    assert main(["report", str(out), "--no-neurogram"]) == 0
    assert (out / "report.md").is_file() and not (out / "plots" / "neurogram.png").exists()
    assert main(["fleet", "--resume", str(out), "--no-progress", "--no-report"]) == 0
    assert "0 computed, 3 already done" in capsys.readouterr().out
