"""The one atomic-write helper: whole file or nothing, earlier file untouched, no temporary left, open()'s mode."""

from __future__ import annotations

import os

import pytest

from simulator.atomic_io import atomic_write, atomic_write_bytes, atomic_write_text


def test_writes_whole_file_with_the_permissions_open_gives(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    assert atomic_write_text(path, "héllo") == path
    assert path.read_text(encoding="utf-8") == "héllo"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_a_failing_writer_leaves_the_earlier_file_and_no_temporary(tmp_path):
    path = tmp_path / "b.bin"
    atomic_write_bytes(path, b"first")

    def half_then_fail(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["b.bin"]
