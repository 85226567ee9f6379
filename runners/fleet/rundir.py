"""The run directory of a fleet run: manifest, per-job Parquet results, failures, combined results.

Layout::

    <run>/manifest.json      spec, spec digest, jobs (listener, nu, seeds), package versions, git revision, model hash,
                             one entry per invocation (engine, start / end, jobs computed)
    <run>/jobs/<job>.parquet tidy results of one job (schema metadata ``hearloop.job``: attempt, worker, timestamps)
    <run>/failures.json      jobs that failed after every retry (empty list when none)
    <run>/results.parquet    all finished jobs, in job order
    <run>/report.md, plots/  the report

Nothing is ever half-written: the directory appears (by an atomic rename) only with a complete manifest, and every
file is written to a temporary name in the same directory and moved into place with ``os.replace``. A job's result
file is the only record that it finished, so resuming skips exactly the jobs whose file exists.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simulator.atomic_io import atomic_write_table, atomic_write_text, publish, sha256_file
from simulator.errors import HearloopInputError, HearloopStateError, MissingFileError

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


def file_sha256(path: Path) -> str | None:
    """:func:`~simulator.atomic_io.sha256_file` of ``path``, or None when there is no such file."""
    return sha256_file(path) if path.is_file() else None


class RunDir:
    """A fleet run directory (see the module docstring). Create with :meth:`create`, reopen with :meth:`open`."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # --------------------------------------------------------------------------------------------------- lifecycle
    @classmethod
    def create(cls, path: str | os.PathLike, manifest: dict[str, Any]) -> RunDir:
        """Create the run directory with its manifest in one atomic step (fails if ``path`` exists)."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"run directory {str(path)!r} already exists (use --resume to finish it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
            atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=False))
            (tmp / "jobs").mkdir()
            publish(tmp, 0o777)
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(path)

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """Reopen an existing run directory (to resume or report on it)."""
        run = cls(path)
        if not (run.path / MANIFEST).is_file():
            raise MissingFileError(f"{str(run.path)!r} is not a fleet run directory (no {MANIFEST})")
        manifest = run.manifest()
        if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
            raise HearloopInputError(f"{run.path / MANIFEST}: not a {FORMAT} v{FORMAT_VERSION} manifest")
        return run

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / MANIFEST).read_text())

    def update_manifest(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` to the manifest and rewrite it atomically."""
        manifest = self.manifest()
        change(manifest)
        atomic_write_text(self.path / MANIFEST, json.dumps(manifest, indent=2))
        return manifest

    # -------------------------------------------------------------------------------------------------------- jobs
    def job_path(self, job_id: str) -> Path:
        return self.path / "jobs" / f"{job_id}.parquet"

    def finished(self, job_ids: Iterable[str]) -> set[str]:
        """The ids among ``job_ids`` whose result file exists."""
        return {j for j in job_ids if self.job_path(j).is_file()}

    def write_job(self, job_id: str, table: Any, meta: dict[str, Any]) -> Path:
        """Write one job's result table atomically, with ``meta`` in the Parquet schema metadata."""
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[JOB_META_KEY] = json.dumps(meta).encode()
        path = self.job_path(job_id)
        atomic_write_table(path, table.replace_schema_metadata(schema_meta))
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
        atomic_write_text(path, json.dumps(failures, indent=2))
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
        atomic_write_table(path, pa.concat_tables(tables))
        return path

    def results(self) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(self.path / "results.parquet")
