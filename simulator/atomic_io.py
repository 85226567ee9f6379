"""Atomic file writes: every file hearloop writes appears whole or not at all.

:func:`atomic_write` lets a writer fill a temporary file in the destination's folder (so the final rename stays on
one file system), flushes it to disk (``fsync``), gives it the permissions a plain ``open`` would (``0o666`` less the
umask; ``mkstemp`` creates ``0o600``) and moves it over the destination with ``os.replace``. If anything fails the
temporary file is removed and an earlier file at the destination is left untouched, so an interrupted run never
leaves a half-written file and never damages a finished one. :func:`sha256_file` is how writers record what they
wrote (checkpoints, cohort indexes, run manifests). :func:`read_tagged_json` is the one reader of the JSON files
hearloop tags with a ``"format"`` string (cohort indexes, scratch-folder manifests): a corrupt or foreign file is the
caller's named error, with a whole message. A leaf module: it imports nothing of hearloop.
"""

from __future__ import annotations

import hashlib
import json
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
    "read_tagged_json",
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


_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _holds(doc: Any) -> str:
    """What a parsed JSON document holds instead of the expected tag, in words."""
    if not isinstance(doc, dict):
        return f"a JSON {_JSON_NAMES.get(type(doc), type(doc).__name__)}, not an object"
    return f"format {doc['format']!r}" if "format" in doc else "an object without a 'format' key"


def read_tagged_json(
    path: str | os.PathLike, fmt: str, error: type[Exception], what: str, advice: str = ""
) -> dict[str, Any]:
    """Read a JSON object whose ``"format"`` is ``fmt``; returns it parsed.

    Args:
        path: the file (UTF-8 JSON).
        fmt: the ``"format"`` string the file must carry.
        error: the exception class raised (the caller's named ``HearloopError`` subclass).
        what: the file's kind in words, e.g. ``"hearloop cohort index"``.
        advice: appended to the message of an unreadable or corrupt file (what the user can do, e.g.
            ``"; delete it"``); not to that of a foreign file, which is not hearloop's to delete.

    Raises:
        error: the file cannot be read, is not UTF-8 JSON, is not an object, or its ``"format"`` is not ``fmt``; the
            message names the file, the problem and (for a foreign file) what it holds instead.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:  # json.JSONDecodeError and UnicodeDecodeError
        raise error(f"{path}: not valid JSON: {e}; the {what} is unreadable{advice}") from e
    except OSError as e:
        raise error(f"{path}: cannot be read ({e}); the {what} is unreadable{advice}") from e
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise error(f"{path}: not a {what} (format != {fmt!r}); it holds {_holds(doc)}")
    return doc
