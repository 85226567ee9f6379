"""The one atomic-write helper (whole file or nothing, earlier file untouched, no temporary left, open()'s mode) and the
one reader of tagged JSON (a corrupt or foreign file is the caller's named error, with a whole message)."""

from __future__ import annotations

import os

import pytest

from simulator.atomic_io import atomic_write, atomic_write_bytes, atomic_write_text, read_tagged_json


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


class _TagError(Exception):
    """Stands for a caller's named error."""


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[1, 2]", "not a thing index (format != 'tag-v'); it holds a JSON array, not an object"),
        (b'"tag-v"', "not a thing index (format != 'tag-v'); it holds a JSON string, not an object"),
        (b"null", "not a thing index (format != 'tag-v'); it holds a JSON null, not an object"),
        (b"3.5", "not a thing index (format != 'tag-v'); it holds a JSON number, not an object"),
        (b'{"format": "other"}', "not a thing index (format != 'tag-v'); it holds format 'other'"),
        (b'{"format": 1}', "not a thing index (format != 'tag-v'); it holds format 1"),
        (b'{"a": 1}', "not a thing index (format != 'tag-v'); it holds an object without a 'format' key"),
        (b'{"a": ', "not valid JSON: Expecting value: line 1 column 7 (char 6); the thing index is unreadable; rm it"),
    ],
)
def test_read_tagged_json_names_a_corrupt_or_foreign_file_whole(tmp_path, content, says):
    path = tmp_path / "t.json"
    path.write_bytes(content)
    with pytest.raises(_TagError) as err:
        read_tagged_json(path, "tag-v", _TagError, "thing index", "; rm it")
    assert str(err.value) == f"{path}: {says}"


def test_read_tagged_json_returns_the_object_and_names_unreadable_files(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"format": "tag-v", "x": [1.5, "é"]}', encoding="utf-8")
    assert read_tagged_json(path, "tag-v", _TagError, "thing") == {"format": "tag-v", "x": [1.5, "é"]}
    path.write_bytes(b'{"format": "tag-v", "x": "\xff"}')
    with pytest.raises(_TagError, match=r"t\.json: not valid JSON: 'utf-8' codec can't decode byte 0xff.*unreadable$"):
        read_tagged_json(path, "tag-v", _TagError, "thing")
    with pytest.raises(_TagError) as err:  # a folder (or a file without read permission) is an OSError
        read_tagged_json(tmp_path, "tag-v", _TagError, "thing", "; fix it")
    assert str(err.value).startswith(f"{tmp_path}: cannot be read ([Errno 21] Is a directory")
    assert str(err.value).endswith("); the thing is unreadable; fix it") and isinstance(err.value.__cause__, OSError)
    with pytest.raises(_TagError, match="cannot be read"):
        read_tagged_json(tmp_path / "absent.json", "tag-v", _TagError, "thing")
