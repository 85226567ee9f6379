"""The run directory of a fleet run: manifest, per-job Parquet results, failures, combined results.

Layout::

    <run>/manifest.json      spec and its digest, jobs (listener, nu, seeds) and their digest, package versions, git
                             revision, model hash, one entry per invocation (engine, start / end, jobs computed)
    <run>/jobs/<job>.parquet tidy results of one job (schema metadata ``hearloop.job``: attempt, worker, timestamps,
                             row count and columns)
    <run>/failures.json      jobs that failed after every retry (empty list when none)
    <run>/results.parquet    all finished jobs, in job order
    <run>/report.md, plots/  the report
    <run>/.lock, .lock.holder.json   the lock of the invocation writing the run (:mod:`runners.fleet.run_lock`)

Nothing is ever half-written: the directory appears (by an atomic rename) only with a complete manifest, and every
file is written to a temporary name in the same directory and moved into place with ``os.replace``. A job's result
file is the only record that it finished; a resumed run re-reads every such file (:meth:`RunDir.verify_finished`:
readable, its own job, the row count and columns its metadata records) and recomputes a damaged one after moving it
aside to ``jobs/<job>.parquet.damaged``. A file that cannot be written (read-only directory, full disk) is a
:class:`~runners.fleet.errors.RunDirectoryWriteError` naming it; the files written before it stay.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from runners.fleet.errors import ManifestError, RunDirectoryExistsError, RunDirectoryWriteError
from runners.fleet.run_lock import RunLock
from simulator.atomic_io import atomic_write_bytes, atomic_write_table, atomic_write_text, publish, sha256_file
from simulator.errors import HearloopStateError, MissingFileError

MANIFEST = "manifest.json"
FORMAT = "hearloop-fleet-run"
FORMAT_VERSION = 1
JOB_META_KEY = b"hearloop.job"
PACKAGES = ("hearloop", "torch", "numpy", "scipy", "botorch", "gpytorch", "ray", "pyarrow", "gymnasium", "matplotlib")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def package_versions() -> dict[str, str | None]:
    """Versions of Python and the packages results depend on."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision(repo: Path | None = None) -> dict[str, Any]:
    """``{"revision": sha or None, "dirty": bool or None}`` of the hearloop source tree."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return {"revision": rev, "dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def jobs_digest(jobs: list[dict[str, Any]]) -> str:
    """sha256 of the canonical JSON of a manifest's job list (listeners, nu, seeds)."""
    return hashlib.sha256(json.dumps(jobs, sort_keys=True).encode()).hexdigest()


def write_error(path: Path, err: OSError) -> RunDirectoryWriteError:
    """The named error for an OS error while writing ``path`` (read-only file system, no space left, ...)."""
    return RunDirectoryWriteError(
        f"cannot write {path}: {err.strerror or err}; every job result written before is kept: make the run "
        "directory writable (or free space) and finish the run with hearloop fleet --resume",
        err.errno,
    )


def writing(path: Path, write: Callable[[], Any]) -> Any:
    """Run ``write()`` (which writes ``path``); an OS error becomes a :class:`RunDirectoryWriteError` naming it."""
    try:
        return write()
    except RunDirectoryWriteError:
        raise
    except OSError as err:
        raise write_error(path, err) from err


def file_sha256(path: Path) -> str | None:
    """:func:`~simulator.atomic_io.sha256_file` of ``path``, or None when there is no such file."""
    return sha256_file(path) if path.is_file() else None


class RunDir:
    """A fleet run directory (see the module docstring). Create with :meth:`create`, reopen with :meth:`open`; an
    invocation that writes it holds :attr:`lock` (:class:`~runners.fleet.run_lock.RunLock`)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.lock = RunLock(self.path)

    # --------------------------------------------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, path: str | os.PathLike, manifest: dict[str, Any]) -> RunDir:
        """Create the run directory with its manifest in one atomic step (fails if ``path`` exists).

        Raises:
            RunDirectoryExistsError: ``path`` exists, or another fleet created it at the same moment.
            RunDirectoryWriteError: its parent cannot be written.
        """
        path = Path(path)
        if path.exists():
            raise RunDirectoryExistsError(f"run directory {str(path)!r} already exists (use --resume to finish it)")
        tmp = writing(path.parent, lambda: cls._make_tmp(path))
        try:
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
            atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False))
            (tmp / "jobs").mkdir()
            publish(tmp, 0o777)
            os.rename(tmp, path)
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if path.exists():  # another fleet renamed its directory into place first
                raise RunDirectoryExistsError(
                    f"run directory {str(path)!r} was created by another fleet at the same moment; nothing of this "
                    "run was written"
                ) from err
            raise write_error(path, err) from err
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(path)

    @staticmethod
    def _make_tmp(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """Reopen an existing run directory (to resume or report on it).

        Raises:
            MissingFileError: no manifest. ManifestError: an unreadable manifest, or not a fleet manifest.
        """
        run = cls(path)
        if not (run.path / MANIFEST).is_file():
            raise MissingFileError(f"{str(run.path)!r} is not a fleet run directory (no {MANIFEST})")
        manifest = run.manifest()
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise ManifestError(f"{run.path / MANIFEST}: not a {FORMAT} v{FORMAT_VERSION} manifest")
        return run

    def manifest(self) -> dict[str, Any]:
        """The parsed manifest. Raises ManifestError naming the file if it cannot be read as a JSON object."""
        path = self.path / MANIFEST
        try:
            manifest = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ManifestError(f"{path}: unreadable run manifest ({err}); the job files beside it are kept") from err
        if not isinstance(manifest, dict):
            raise ManifestError(f"{path}: a run manifest is a JSON object, got {type(manifest).__name__}")
        return manifest

    def update_manifest(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` to the manifest and rewrite it atomically."""
        manifest = self.manifest()
        change(manifest)
        writing(self.path / MANIFEST, lambda: atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=2)))
        return manifest

    def check_writable(self) -> None:
        """Write and remove a probe file in the run directory and in ``jobs/`` (before any job is computed).

        Raises:
            RunDirectoryWriteError: either cannot be written (read-only file system, no space left).
        """
        for folder in (self.path, self.path / "jobs"):
            probe = folder / ".write-probe"
            writing(probe, lambda p=probe: (atomic_write_bytes(p, b"probe"), p.unlink()))

    # -------------------------------------------------------------------------------------------------------- jobs
    def job_path(self, job_id: str) -> Path:
        return self.path / "jobs" / f"{job_id}.parquet"

    def finished(self, job_ids: Iterable[str]) -> set[str]:
        """The ids among ``job_ids`` whose result file exists (see :meth:`verify_finished` for a checked set)."""
        return {j for j in job_ids if self.job_path(j).is_file()}

    def job_problem(self, job_id: str) -> str | None:
        """Why the result file of ``job_id`` cannot be trusted (None when it is sound): unreadable, another job's, or
        a row count or columns other than its metadata records."""
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(self.job_path(job_id))
            meta = json.loads((table.schema.metadata or {})[JOB_META_KEY])
        except Exception as err:  # pyarrow raises ArrowInvalid, OSError, ...: all mean "damaged"
            return f"unreadable ({type(err).__name__}: {err})"
        if not isinstance(meta, dict) or meta.get("job") != job_id:
            return f"its metadata names job {meta.get('job') if isinstance(meta, dict) else meta!r}"
        if "rows" in meta and table.num_rows != meta["rows"]:
            return f"{table.num_rows} rows where its metadata records {meta['rows']}"
        if "columns" in meta and table.column_names != meta["columns"]:
            return f"columns {table.column_names} where its metadata records {meta['columns']}"
        return None

    def verify_finished(self, job_ids: Iterable[str]) -> tuple[set[str], dict[str, str]]:
        """Re-read every existing result file of ``job_ids``: returns (sound ids, {damaged id: why}). Each damaged
        file is moved aside to ``jobs/<job>.parquet.damaged`` so that the job is computed again."""
        sound, damaged = set(), {}
        for job_id in self.finished(job_ids):
            problem = self.job_problem(job_id)
            if problem is None:
                sound.add(job_id)
                continue
            damaged[job_id] = problem
            path = self.job_path(job_id)
            aside = path.with_name(path.name + ".damaged")
            writing(aside, lambda p=path, a=aside: os.replace(p, a))
        return sound, damaged

    def write_job(self, job_id: str, table: Any, meta: dict[str, Any]) -> Path:
        """Write one job's result table atomically, with ``meta`` (plus its row count and columns) in the Parquet
        schema metadata."""
        schema_meta = dict(table.schema.metadata or {})
        meta = {**meta, "rows": table.num_rows, "columns": table.column_names}
        schema_meta[JOB_META_KEY] = json.dumps(meta).encode()
        path = self.job_path(job_id)
        writing(path, lambda: atomic_write_table(path, table.replace_schema_metadata(schema_meta)))
        return path

    def read_job(self, job_id: str) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(self.job_path(job_id))

    def job_meta(self, job_id: str) -> dict[str, Any]:
        import pyarrow.parquet as pq

        meta = pq.read_schema(self.job_path(job_id)).metadata or {}
        return json.loads(meta.get(JOB_META_KEY, b"{}"))

    def write_failures(self, failures: list[dict[str, Any]]) -> Path:
        path = self.path / "failures.json"
        writing(path, lambda: atomic_write_text(path, json.dumps(failures, indent=2)))
        return path

    def failures(self) -> list[dict[str, Any]]:
        path = self.path / "failures.json"
        return json.loads(path.read_text()) if path.is_file() else []

    def combine(self, job_ids: list[str]) -> Path:
        """Concatenate the finished jobs' tables (in ``job_ids`` order) into ``results.parquet``."""
        import pyarrow as pa

        tables = [self.read_job(j).replace_schema_metadata(None) for j in job_ids if self.job_path(j).is_file()]
        if not tables:
            raise HearloopStateError(f"no finished jobs to combine in {self.path}")
        path = self.path / "results.parquet"
        writing(path, lambda: atomic_write_table(path, pa.concat_tables(tables)))
        return path

    def results(self) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(self.path / "results.parquet")
