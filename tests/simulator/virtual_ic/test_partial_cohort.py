"""Resumable cohort generation (simulator.virtual_ic.partial_cohort, ``hearloop synth``): an interrupted run resumes to
the cohort an uninterrupted run writes, simulating only the missing sounds; other configs and foreign or corrupt files
are refused or recomputed, never mixed in."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import simulator.virtual_ic.session as session
from runners.cli import main
from simulator.errors import CheckpointError, HearloopError
from simulator.virtual_ic.cohort import generate_cohort
from simulator.virtual_ic.partial_cohort import (
    PartialChunkWarning,
    PartialCohortError,
    PartialCohortMismatchError,
    discard_partial,
    partial_dir,
)

SYNTH = ["synth", "--n-nh", "1", "--n-hi", "2", "--channels", "4", "--quiet", "--periphery", "gammatone"]
SYNTH += ["--train-seconds", "1.2", "--sound-seconds", "0.2", "--test-seconds", "0.2", "--test-per-class", "1"]
N_SOUNDS = 11  # 6 training sounds (one per class) + 5 test sounds (one per non-silent class)
TINY = {"n_nh": 1, "n_hi": 2, "n_channels": 4, "train_seconds": 1.2, "sound_duration_s": 0.2, "test_duration_s": 0.2,
        "n_test_per_class": 1, "periphery": "gammatone", "progress": False}  # fmt: skip


class Stop(RuntimeError):
    """The interruption the tests inject."""


def _count_tasks(monkeypatch: pytest.MonkeyPatch, stop_after: int | None = None) -> list[int]:
    """Patch the per-sound simulation step (in-process, workers=1): record each call, raise after ``stop_after``."""
    calls: list[int] = []
    real = session._sound_task

    def task(t):
        if stop_after is not None and len(calls) >= stop_after:
            raise Stop(f"interrupted after {stop_after} sounds")
        calls.append(t[0])
        return real(t)

    monkeypatch.setattr(session, "_sound_task", task)
    return calls


def _contents(directory: Path) -> dict:
    """Every array and attribute of a written cohort, and its index (file checksums compared separately)."""
    index = json.loads((directory / "cohort.json").read_text())
    sha = {a.pop("file"): a.pop("sha256") for a in index["animals"]}
    out: dict = {"index": index}
    for name in sorted(sha):
        with h5py.File(directory / name, "r") as f:
            items = {"/": {k: np.asarray(v).tolist() for k, v in f.attrs.items()}}

            def visit(key, obj, items=items):
                attrs = {k: np.asarray(v).tolist() for k, v in obj.attrs.items()}
                if isinstance(obj, h5py.Dataset):
                    arr = obj[()]
                    value = arr if isinstance(arr, bytes) else (arr.dtype.str, arr.shape, np.asarray(arr).tobytes())
                    items[key] = (attrs, value)
                else:
                    items[key] = attrs

            f.visititems(visit)
        out[name] = items
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The uninterrupted cohort (workers=1) every resumed one must equal."""
    out = tmp_path_factory.mktemp("ref") / "cohort"
    assert main([*SYNTH, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("stop_after", [0, 1, 6, 10])
def test_interrupted_synth_resumes_to_the_uninterrupted_cohort(tmp_path, monkeypatch, reference, stop_after):
    out = tmp_path / "cohort"
    calls = _count_tasks(monkeypatch, stop_after)
    assert main([*SYNTH, "--out", str(out)]) == 2  # the CLI reports the interruption as an error
    assert not (out / "cohort.json").exists() and partial_dir(out).is_dir()
    monkeypatch.undo()
    calls = _count_tasks(monkeypatch)
    assert main([*SYNTH, "--out", str(out)]) == 0
    assert len(calls) == N_SOUNDS - stop_after  # only the missing sounds were simulated again
    assert not partial_dir(out).exists()  # retired once the cohort was written and read back equal
    assert _contents(out) == _contents(reference)


def test_resume_with_two_workers_equals_one_worker(tmp_path, monkeypatch, reference):
    out = tmp_path / "cohort"
    _count_tasks(monkeypatch, 4)
    assert main([*SYNTH, "--out", str(out)]) == 2
    monkeypatch.undo()
    assert main([*SYNTH, "--out", str(out), "--workers", "2"]) == 0
    assert not partial_dir(out).exists()
    assert _contents(out) == _contents(reference)


def test_two_worker_run_interrupted_while_collecting_resumes_exactly(tmp_path, monkeypatch, reference):
    """With workers, sounds finish in any order; the ones collected before the interruption are kept."""
    from simulator.virtual_ic.partial_cohort import SoundCheckpoint

    out, added = tmp_path / "cohort", []
    real_add = SoundCheckpoint.add

    def add(self, sound, counts):
        real_add(self, sound, counts)
        added.append(sound)
        if len(added) == 5:
            raise Stop("interrupted while collecting")

    monkeypatch.setattr(SoundCheckpoint, "add", add)
    assert main([*SYNTH, "--out", str(out), "--workers", "2"]) == 2
    monkeypatch.undo()
    calls = _count_tasks(monkeypatch)
    assert main([*SYNTH, "--out", str(out)]) == 0
    assert sorted(calls) == sorted(set(range(N_SOUNDS)) - set(added))
    assert _contents(out) == _contents(reference)


@pytest.fixture(scope="module")
def fresh() -> list:
    """The tiny cohort generated in memory, without a scratch folder."""
    return generate_cohort(**TINY)


def _same_animals(resumed: list, fresh: list) -> None:
    for a, b in zip(resumed, fresh, strict=True):
        assert [s.name for s in a.sounds] == [s.name for s in b.sounds]
        assert all(np.array_equal(x.counts, y.counts) for x, y in zip(a.sounds, b.sounds, strict=True))
        assert a.abr_thresholds_db == b.abr_thresholds_db and a.ground_truth == b.ground_truth


def test_every_finished_sound_is_on_disk_as_it_finishes(tmp_path, monkeypatch, capsys, fresh):
    """checkpoint_seconds=0: one chunk per sound, so a hard kill loses only the sounds in flight; the bar shows them."""
    part = tmp_path / "c.partial"
    _count_tasks(monkeypatch, 3)
    with pytest.raises(Stop):
        generate_cohort(**TINY, checkpoint_dir=part, checkpoint_seconds=0)
    chunks = sorted(p.name for p in part.glob("sounds-*.h5"))
    assert chunks == [f"sounds-{s:06d}-{s:06d}-000001.h5" for s in range(3)]
    monkeypatch.undo()
    calls = _count_tasks(monkeypatch)
    capsys.readouterr()
    resumed = generate_cohort(**{**TINY, "progress": True}, checkpoint_dir=part)
    assert f" 3/{N_SOUNDS} " in capsys.readouterr().err  # the bar starts at the sounds found on disk
    assert calls == list(range(3, N_SOUNDS))
    _same_animals(resumed, fresh)


@pytest.mark.parametrize(
    ("option", "value", "key"),
    [("--seed", "1", "seed"), ("--channels", "5", "n_channels"), ("--train-seconds", "1.4", "train_seconds"),
     ("--hi-pta-range", ["20", "40"], "hi_pta_range_db")],
)  # fmt: skip
def test_a_rerun_with_another_config_is_refused_before_any_work(tmp_path, monkeypatch, capsys, option, value, key):
    out = tmp_path / "cohort"
    _count_tasks(monkeypatch, 2)
    assert main([*SYNTH, "--out", str(out)]) == 2
    before = sorted(p.name for p in partial_dir(out).iterdir())
    monkeypatch.undo()
    calls = _count_tasks(monkeypatch)
    capsys.readouterr()
    assert main([*SYNTH, "--out", str(out), option, *([value] if isinstance(value, str) else value)]) == 2
    err = capsys.readouterr().err
    assert "another config" in err and key in err
    assert calls == [] and not out.exists()
    assert sorted(p.name for p in partial_dir(out).iterdir()) == before  # nothing touched
    with pytest.raises(PartialCohortMismatchError):
        generate_cohort(**{**TINY, "seed": 1}, checkpoint_dir=partial_dir(out))
    assert issubclass(PartialCohortMismatchError, CheckpointError) and issubclass(PartialCohortError, HearloopError)


def test_same_options_but_other_inputs_are_refused(tmp_path, monkeypatch):
    part = tmp_path / "c.partial"
    _count_tasks(monkeypatch, 2)
    with pytest.raises(Stop):
        generate_cohort(**TINY, checkpoint_dir=part)
    manifest = json.loads((part / "manifest.json").read_text())
    (part / "manifest.json").write_text(json.dumps({**manifest, "inputs_sha256": "0" * 64}))
    with pytest.raises(PartialCohortMismatchError, match="other simulation inputs"):
        generate_cohort(**TINY, checkpoint_dir=part)


def test_restart_discards_a_partial_run_and_starts_over(tmp_path, monkeypatch, reference):
    out = tmp_path / "cohort"
    _count_tasks(monkeypatch, 2)
    assert main([*SYNTH, "--out", str(out), "--seed", "7"]) == 2
    monkeypatch.undo()
    calls = _count_tasks(monkeypatch)
    assert main([*SYNTH, "--out", str(out), "--restart"]) == 0
    assert len(calls) == N_SOUNDS and not partial_dir(out).exists()
    assert _contents(out) == _contents(reference)


def test_a_foreign_folder_is_neither_used_nor_deleted(tmp_path, capsys):
    out = tmp_path / "cohort"
    foreign = partial_dir(out)
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for extra in ([], ["--restart"]):
        assert main([*SYNTH, "--out", str(out), *extra]) == 2
        assert "not a hearloop partial cohort" in capsys.readouterr().err
        assert (foreign / "notes.txt").read_text() == "mine" and not out.exists()
    (foreign / "manifest.json").write_text("{not json")
    with pytest.raises(PartialCohortError, match="unreadable"):
        generate_cohort(**TINY, checkpoint_dir=foreign)
    with pytest.raises(PartialCohortError):
        discard_partial(tmp_path / "cohort.partial" / "notes.txt")
    assert discard_partial(tmp_path / "absent") is False


def _first_chunk(part: Path) -> Path:
    return sorted(part.glob("sounds-*.h5"))[0]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_count(path: Path) -> None:
    """Change one byte of stored counts behind HDF5's back (its fletcher32 checksum must catch it)."""
    with h5py.File(path, "r") as f:
        offset = f["s0/a0"].id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _wrong_shape(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        del f["s0/a0"]
        f["s0"].create_dataset("a0", data=np.zeros((1, 4, 3), np.uint8))


def _other_inputs(path: Path) -> None:
    with h5py.File(path, "r+") as f:
        f.attrs["inputs_sha256"] = "0" * 64


@pytest.mark.parametrize("damage", [_truncate, _flip_a_count, _wrong_shape, _other_inputs])
def test_a_damaged_chunk_is_set_aside_and_its_sounds_recomputed(tmp_path, monkeypatch, fresh, damage):
    part = tmp_path / "c.partial"
    _count_tasks(monkeypatch, 4)
    with pytest.raises(Stop):
        generate_cohort(**TINY, checkpoint_dir=part, checkpoint_seconds=0)
    chunk = _first_chunk(part)
    damage(chunk)
    monkeypatch.undo()
    calls = _count_tasks(monkeypatch)
    with pytest.warns(PartialChunkWarning, match="simulated again"):
        resumed = generate_cohort(**TINY, checkpoint_dir=part, checkpoint_seconds=0)
    assert calls == [0, *range(4, N_SOUNDS)]  # sound 0 again, 1-3 from disk
    assert (part / (chunk.name + ".corrupt")).exists()
    _same_animals(resumed, fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the damaged file is not read (nor warned about) again
        generate_cohort(**TINY, checkpoint_dir=part)


def test_the_partial_run_is_kept_until_the_cohort_is_written_and_verified(tmp_path, monkeypatch):
    import runners.commands.synth as synth
    import simulator.virtual_ic.partial_cohort as partial

    out = tmp_path / "cohort"

    def fail(*args, **kwargs):
        raise Stop("disk full")

    monkeypatch.setattr(synth, "_write", fail)
    assert main([*SYNTH, "--out", str(out)]) == 2
    assert partial_dir(out).is_dir()
    monkeypatch.undo()
    monkeypatch.setattr(partial, "verify_written", fail)
    calls = _count_tasks(monkeypatch)
    assert main([*SYNTH, "--out", str(out)]) == 2
    assert calls == [] and partial_dir(out).is_dir()  # everything came from disk; kept since not verified
    monkeypatch.undo()
    calls = _count_tasks(monkeypatch)
    assert main([*SYNTH, "--out", str(out)]) == 0
    assert calls == [] and not partial_dir(out).exists()


def test_checkpoint_seconds_is_validated(tmp_path):
    from simulator.errors import HearloopInputError

    for bad in (-1.0, float("nan")):
        with pytest.raises(HearloopInputError, match="checkpoint_seconds"):
            generate_cohort(**TINY, checkpoint_dir=tmp_path / "p", checkpoint_seconds=bad)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        ("[]", "not a hearloop partial cohort manifest (format != 'hearloop-partial-cohort'); it holds a JSON array, "
         "not an object"),
        ('{"format": "hearloop-cohort"}', "(format != 'hearloop-partial-cohort'); it holds format 'hearloop-cohort'"),
        ("{", "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1); the "
         "hearloop partial cohort manifest is unreadable; delete {folder} (or run with --restart)"),
    ],
)  # fmt: skip
def test_a_foreign_or_corrupt_manifest_says_what_it_holds_and_what_to_do(tmp_path, manifest, says):
    from simulator.virtual_ic.partial_cohort import SoundCheckpoint

    folder = tmp_path / "cohort.partial"
    folder.mkdir()
    (folder / "manifest.json").write_text(manifest)
    with pytest.raises(PartialCohortError) as err:
        SoundCheckpoint(folder, {"seed": 1}, "0" * 64, [])
    assert str(err.value).startswith(f"{folder / 'manifest.json'}: ")
    assert str(err.value).endswith(says.format(folder=folder))
    assert (folder / "manifest.json").read_text() == manifest and [p.name for p in folder.iterdir()] == [
        "manifest.json"
    ]
