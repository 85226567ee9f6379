"""Atomic file writes: every file hearloop writes appears whole or not at all.

:func:`atomic_write` lets a writer fill a temporary file in the destination's folder (so the final rename stays on
one file system), flushes it to disk (``fsync``), gives it the permissions a plain ``open`` would (``0o666`` less the
umask; ``mkstemp`` creates ``0o600``) and moves it over the destination with ``os.replace``. If anything fails the
temporary file is removed and an earlier file at the destination is left untouched, so an interrupted run never
leaves a half-written file and never damages a finished one. :func:`sha256_file` is how writers record what they
wrote (checkpoints, cohort indexes, run manifests). A leaf module: it imports nothing of hearloop.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_savefig",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_table",
    "atomic_write_text",
    "publish",
    "sha256_file",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def publish(path: str | os.PathLike, mode: int = 0o666) -> None:
    """Give a temporary file (``mkstemp``: 0600) or folder (``mkdtemp``: 0700, pass ``0o777``) the permissions that
    ``open`` / ``mkdir`` would have given it under the current umask."""
    os.chmod(path, mode & ~_umask())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary path next to ``path``, then move it into place; returns ``path``.

    Args:
        path: the destination; its folder is created if missing.
        write: fills the file at the path it is given (``tmp.write_bytes(...)``, ``pq.write_table(table, tmp)``,
            ``fig.savefig(tmp, format="png")``: the temporary name ends in ``.tmp``, so pass formats explicitly).

    Raises:
        whatever ``write`` raises, after removing the temporary file (``path`` is then unchanged).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        _fsync(tmp)
        publish(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_table(path: str | os.PathLike, table: Any) -> Path:
    """Write a ``pyarrow.Table`` to ``path`` as Parquet atomically (:func:`atomic_write`)."""
    import pyarrow.parquet as pq

    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def atomic_savefig(fig: Any, path: str | os.PathLike, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure atomically; the format comes from ``path``'s extension (default PNG)."""
    fmt = savefig_kwargs.pop("format", None) or Path(path).suffix.lstrip(".") or "png"
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))


def sha256_file(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``block``-byte pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            h.update(chunk)
    return h.hexdigest()
