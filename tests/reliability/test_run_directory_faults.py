"""Run directories under faults: concurrent fleets, concurrent resumes, damaged job files, edited or truncated
manifests, a read-only file system and a full disk. Each ends with every job's result exactly once (compared with an
undisturbed run) or a named error, and no finished result is lost.

The read-only and full-disk cases simulate the file system (tests may run as root, where ``chmod`` does not stop
writes): ``support.read_only_tree`` makes every write under the run directory fail with EROFS, and a patched Parquet
writer fails with ENOSPC; a real ``chmod`` read-only directory is tried too when the test user is not root.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from runners.cli import main
from runners.fleet import rundir as rundir_module
from runners.fleet.errors import ManifestError, RunDirectoryBusyError, RunDirectoryWriteError
from runners.fleet.faults import FaultyFactory
from runners.fleet.pipeline import FleetWorker
from runners.fleet.rundir import RunDir
from runners.fleet.runner import resume_fleet, run_fleet
from tests.reliability.support import CountingFactory, light_spec, light_spec_text, read_only_tree
from tests.runners.fleet.support import job_values, same_values

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def interrupted(tiny_model_dir, reference, tmp_path_factory) -> Path:
    """A run whose third job was interrupted (Ctrl-C): two finished job files, one missing."""
    out = tmp_path_factory.mktemp("runs") / "interrupted"
    jobs = _job_ids(reference)
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever an earlier test left installed
    try:
        with pytest.raises(KeyboardInterrupt):
            run_fleet(light_spec(tiny_model_dir), out, factory=FaultyFactory(FleetWorker, interrupt={jobs[2]}),
                      progress=False)  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, handler)
    return out


def _job_ids(run: Path) -> list[str]:
    return [j["id"] for j in RunDir.open(run).manifest()["jobs"]]


def _copy(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / run.name
    shutil.copytree(run, out)
    return out


def _files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "jobs").glob("*.parquet"))}


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "runners", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


# ------------------------------------------------------------------------------------------------- concurrency
@pytest.mark.slow
def test_two_fleets_into_one_directory_one_runs_the_other_is_named(tiny_model_dir, reference, tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(light_spec_text(tiny_model_dir))
    out = tmp_path / "shared"
    procs = [_cli("fleet", str(spec), "--out", str(out), "--no-progress", "--no-report") for _ in range(2)]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert str(out) in loser and ("already exists" in loser or "another fleet" in loser or "in use by" in loser)
    assert same_values(job_values(out), job_values(reference))  # every job exactly once, as undisturbed
    assert len(RunDir.open(out).manifest()["invocations"]) == 1


@pytest.mark.slow
def test_a_second_resume_while_one_runs_is_refused_naming_the_holder(interrupted, reference, tmp_path, capsys):
    run = _copy(interrupted, tmp_path)
    before = _files(run)
    gate = tmp_path / "gate"
    gate.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tests.reliability.support import resume_with_gate; "
         "resume_with_gate(sys.argv[1], sys.argv[2])", str(run), str(gate)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while not list(gate.glob("started-*")) and holder.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(gate.glob("started-*")), holder.communicate(timeout=5)
        assert main(["fleet", "--resume", str(run), "--no-progress", "--no-report"]) == 2
        err = capsys.readouterr().err
        assert f"is in use by pid {holder.pid}" in err and str(run) in err, err
        with pytest.raises(RunDirectoryBusyError, match=f"pid {holder.pid}"):
            resume_fleet(run, progress=False)
    finally:
        (gate / "go").write_text("")
        _, errs = holder.communicate(timeout=600)
    assert holder.returncode == 0, errs
    jobs = _job_ids(run)
    assert [p.name.removeprefix("started-") for p in gate.glob("started-*")] == [jobs[2]]  # computed once
    assert all(_files(run)[name] == data for name, data in before.items())  # finished files untouched
    assert same_values(job_values(run), job_values(reference))


# ------------------------------------------------------------------------------------------------- damaged files
def test_damaged_job_files_are_recomputed_on_resume(reference, tmp_path):
    run = _copy(reference, tmp_path)
    jobs = _job_ids(run)
    r = RunDir(run)
    data = r.job_path(jobs[0]).read_bytes()
    r.job_path(jobs[0]).write_bytes(data[: len(data) // 2])  # truncated
    table = pq.read_table(r.job_path(jobs[1]))
    pq.write_table(table.slice(0, table.num_rows - 3), r.job_path(jobs[1]))  # rows lost, metadata kept
    shutil.copy(r.job_path(jobs[1]), r.job_path(jobs[2]))  # another job's file
    counter = CountingFactory()
    summary = resume_fleet(run, factory=counter, progress=False)
    assert summary.ok and sorted(counter.ran) == sorted(jobs) and set(summary.damaged) == set(jobs)
    assert "unreadable" in summary.damaged[jobs[0]] and "rows" in summary.damaged[jobs[1]]
    assert f"names job {jobs[1]!r}" in summary.damaged[jobs[2]]
    assert all((run / "jobs" / f"{j}.parquet.damaged").is_file() for j in jobs)
    assert same_values(job_values(run), job_values(reference))
    assert RunDir(run).manifest()["invocations"][-1]["damaged"] == sorted(jobs)


def test_a_sound_run_is_not_recomputed_on_resume(reference, tmp_path):
    run = _copy(reference, tmp_path)
    before = _files(run)
    counter = CountingFactory()
    summary = resume_fleet(run, factory=counter, progress=False)
    assert summary.ok and counter.ran == [] and summary.damaged == {} and _files(run) == before


# ------------------------------------------------------------------------------------------------- manifests
def _edit_spec(m):
    m["spec"]["hitl"]["budget"] += 1


def _edit_jobs(m):
    m["jobs"][1]["listener"]["nu"][0] = 0.5


def _drop_jobs(m):
    del m["jobs"]


@pytest.mark.parametrize(
    ("edit", "says"),
    [(_edit_spec, "spec_digest"), (_edit_jobs, "jobs_digest"), (_drop_jobs, "missing or malformed"),
     ("truncate", "unreadable run manifest"), ("not-an-object", "JSON object")],
    ids=["spec", "jobs", "no-jobs", "truncated", "list"],
)  # fmt: skip
def test_an_edited_or_unreadable_manifest_is_named_and_nothing_runs(reference, tmp_path, edit, says):
    run = _copy(reference, tmp_path)
    path = run / "manifest.json"
    if edit == "truncate":
        path.write_text(path.read_text()[:200])
    elif edit == "not-an-object":
        path.write_text("[1, 2]")
    else:
        manifest = json.loads(path.read_text())
        edit(manifest)
        path.write_text(json.dumps(manifest))
    before = (path.read_bytes(), _files(run))
    counter = CountingFactory()
    with pytest.raises(ManifestError) as err:
        resume_fleet(run, factory=counter, progress=False)
    assert str(path) in str(err.value) and says in str(err.value), str(err.value)
    assert counter.ran == [] and (path.read_bytes(), _files(run)) == before


# ------------------------------------------------------------------------------------------------- read-only / full
def _chmod_read_only(run: Path) -> bool:
    """chmod the run read-only; False when that does not stop writes (root)."""
    for p in [run, *run.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        (run / ".probe").write_text("")
    except PermissionError:
        return True
    (run / ".probe").unlink()
    return False


@pytest.mark.parametrize("how", ["simulated-erofs", "chmod"])
def test_a_read_only_run_directory_is_named_and_loses_nothing(interrupted, reference, tmp_path, monkeypatch, how):
    run = _copy(interrupted, tmp_path)
    before = _files(run)
    if how == "chmod":
        if not _chmod_read_only(run):
            pytest.skip("running as root: chmod does not stop writes (the simulated case covers it)")
    else:
        read_only_tree(monkeypatch, run)
    counter = CountingFactory()
    with pytest.raises(RunDirectoryWriteError) as err:
        resume_fleet(run, factory=counter, progress=False)
    assert str(run) in str(err.value) and counter.ran == []
    if how != "chmod":
        assert err.value.errno == errno.EROFS
    monkeypatch.undo()
    for p in [run, *run.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)
    assert _files(run) == before  # nothing finished was lost or touched
    summary = resume_fleet(run, progress=False)
    assert summary.ok and summary.n_computed == 1
    assert same_values(job_values(run), job_values(reference))


def test_a_full_disk_mid_run_is_named_and_keeps_the_finished_jobs(tiny_model_dir, reference, tmp_path, monkeypatch):
    jobs = _job_ids(reference)
    real = rundir_module.atomic_write_table

    def full_at_second_job(path, table):
        if Path(path).name == f"{jobs[1]}.parquet":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, table)

    monkeypatch.setattr(rundir_module, "atomic_write_table", full_at_second_job)
    out = tmp_path / "full"
    with pytest.raises(RunDirectoryWriteError) as err:
        run_fleet(light_spec(tiny_model_dir), out, progress=False)
    assert err.value.errno == errno.ENOSPC and f"{jobs[1]}.parquet" in str(err.value)
    run = RunDir.open(out)
    assert run.finished(jobs) == {jobs[0]} and run.job_problem(jobs[0]) is None
    assert run.manifest()["invocations"][-1]["status"].startswith("stopped: RunDirectoryWriteError")
    monkeypatch.undo()
    first = run.job_path(jobs[0]).read_bytes()
    summary = resume_fleet(out, progress=False)
    assert summary.ok and summary.n_computed == 2 and run.job_path(jobs[0]).read_bytes() == first
    assert same_values(job_values(out), job_values(reference))
