"""Training data pipeline: split by sound, frames with left context, lazy slice-by-slice reading, subsets."""

from __future__ import annotations

import io
import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from simulator.constants import CONTEXT_SAMPLES, FRAME_BINS, FRAME_SAMPLES, SAMPLE_RATE
from simulator.data import recordings
from simulator.data.dataset import (
    MIN_VALIDATION_SOUNDS_PER_CLASS,
    FrameDataset,
    cohort_sounds,
    frame_starts,
    load_test_sounds,
    make_datasets,
    split_sounds,
    subset_recording,
)
from simulator.data.recording_types import ABR_FREQS_HZ, AnimalRecording, SoundRecording
from simulator.data.recordings import SoundInfo, read_cohort, write_cohort

CLASSES = ("speech", "speech_in_noise", "music", "ripple", "tone")


def make_cohort_animals(n_animals: int = 2, n_channels: int = 3, per_class: int = 4) -> list[AnimalRecording]:
    """Every animal hears the same sounds (same name -> same audio); audio = a ramp so that slices are identifiable."""
    rng = np.random.default_rng(0)
    specs = [
        (f"{c}_{i}", c, "train", 2 * FRAME_SAMPLES + 32 * int(rng.integers(0, 200)))
        for c in CLASSES
        for i in range(per_class)
    ]
    specs += [("test_speech", "speech", "test", FRAME_SAMPLES + 1000), ("silence_0", "silence", "train", FRAME_SAMPLES)]
    offset, audio = 0, {}
    for name, _, _, n in specs:
        audio[name] = (np.arange(offset, offset + n) % 100003).astype(np.float32) * 1e-5
        offset += n
    animals = []
    for a in range(n_animals):
        sounds = []
        for k, (name, cls, split, n) in enumerate(specs):
            counts = rng.integers(0, 5, (2 if split == "test" else 1, n_channels, n // 32)).astype(np.uint8)
            sounds.append(SoundRecording(name, cls, audio[name], counts, 0.25 * k + a, split))
        abr = {f: 20.0 for f in ABR_FREQS_HZ}
        animals.append(AnimalRecording(f"A{a}", "NH" if a == 0 else "HI", abr, sounds))
    return animals


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort")
    animals = make_cohort_animals()
    write_cohort(root, animals, {})
    return read_cohort(root), animals


def info(name, cls, split="train", n=FRAME_SAMPLES) -> SoundInfo:
    return SoundInfo(name, cls, 0.0, split, n, 1 if split == "train" else 2)


def test_split_never_splits_a_sound_and_keeps_test_out():
    sounds = {f"{c}{i}": info(f"{c}{i}", c, n=FRAME_SAMPLES * (1 + i % 3)) for c in CLASSES for i in range(12)}
    sounds |= {f"t{i}": info(f"t{i}", "music", "test") for i in range(5)}
    split = split_sounds(sounds, 0.1, seed=3)
    train, val, test = set(split.train), set(split.validation), set(split.test)
    assert not train & val and not (train | val) & test
    assert test == {f"t{i}" for i in range(5)} and train | val | test == set(sounds)
    dur = {n: s.n_samples for n, s in sounds.items()}
    frac = sum(dur[n] for n in val) / sum(dur[n] for n in train | val)
    assert abs(frac - 0.1) < 0.5 * max(dur.values()) / sum(dur[n] for n in train | val) + 1e-9
    assert 0.07 < frac < 0.13
    assert {sounds[n].sound_class for n in val} == set(CLASSES)  # stratified: every class contributes
    assert split_sounds(dict(reversed(sounds.items())), 0.1, seed=3) == split  # deterministic, order-independent
    assert split_sounds(sounds, 0.1, seed=4).validation != split.validation


def test_split_with_tiny_classes_still_reaches_ten_percent():
    sounds = {f"{c}{i}": info(f"{c}{i}", c) for c in CLASSES for i in range(2)}  # 10 sounds, 2 per class
    split = split_sounds(sounds, 0.1, seed=0, min_per_class=0)
    assert len(split.validation) == 1 and len(split.train) == 9
    assert split_sounds(sounds, 0.0).validation == ()
    with pytest.raises(ValueError, match="val_fraction"):
        split_sounds(sounds, 1.0)


def test_split_keeps_a_minimum_of_validation_sounds_per_class():
    """10 % of 20 sounds is 2 validation sounds, too few to drive early stopping; every class keeps one."""
    sounds = {f"{c}{i}": info(f"{c}{i}", c) for c in CLASSES for i in range(4)}
    assert len(split_sounds(sounds, 0.1, seed=0, min_per_class=0).validation) == 2
    split = split_sounds(sounds, 0.1, seed=0)
    assert MIN_VALIDATION_SOUNDS_PER_CLASS == 1 and len(split.validation) == len(CLASSES)
    assert sorted(sounds[n].sound_class for n in split.validation) == sorted(CLASSES)
    two = split_sounds(sounds, 0.1, seed=0, min_per_class=2)
    assert all(sum(sounds[n].sound_class == c for n in two.validation) == 2 for c in CLASSES)
    assert len(two.train) == 2 * len(CLASSES)
    lone = {**{n: s for n, s in sounds.items() if s.sound_class != "music"}, "music0": info("music0", "music")}
    lone_split = split_sounds(lone, 0.1, seed=0, min_per_class=3)  # never a class's last training sound
    assert "music0" in lone_split.train and all(
        sum(lone[n].sound_class == c for n in lone_split.train) == 1 for c in CLASSES
    )
    assert split_sounds(sounds, 0.1, seed=0, min_per_class=1) == split  # seeded: the same split again
    with pytest.raises(ValueError, match="min_per_class"):
        split_sounds(sounds, 0.1, min_per_class=-1)


def test_cohort_split_is_the_same_for_every_animal(cohort):
    index, animals = cohort
    sounds = cohort_sounds(index.paths)
    assert sounds["test_speech"].split == "test" and len(sounds) == len(animals[0].sounds)
    train, val, split = make_datasets(index, seed=1)
    assert "test_speech" not in split.train + split.validation and split.test == ("test_speech",)
    for ds, names in ((train, split.train), (val, split.validation)):
        seen = {(int(a), ds.sound_names[int(s)]) for a, s, _, _ in ds.items}
        assert seen == {(a, n) for a in range(2) for n in names}  # every animal, the same sounds


def test_frame_starts():
    np.testing.assert_array_equal(frame_starts(3 * 8192 + 5), [0, 8192, 16384])
    np.testing.assert_array_equal(frame_starts(8191), [])
    np.testing.assert_array_equal(frame_starts(16384, hop=4096), [0, 4096, 8192])
    with pytest.raises(ValueError, match="multiples of 32"):
        frame_starts(100, hop=100)


def test_frames_context_targets_and_length(cohort):
    index, animals = cohort
    names = [s.name for s in animals[0].sounds if s.split == "train"]
    ds = FrameDataset(index.paths, names)
    expected = sum(len(frame_starts(s.audio.size)) for a in animals for s in a.sounds if s.split == "train")
    assert len(ds) == expected and expected > 0
    by_name = [{s.name: s for s in a.sounds} for a in animals]
    checked_context = checked_zero = 0
    for i in range(len(ds)):
        item = ds[i]
        snd = by_name[item["animal_idx"]][item["sound_name"]]
        start = item["start"]
        assert item["audio"].dtype == torch.float32 and item["audio"].shape == (CONTEXT_SAMPLES + FRAME_SAMPLES,)
        assert item["counts"].dtype == torch.int64 and item["counts"].shape == (3, FRAME_BINS)
        assert item["hours"] == snd.hours
        np.testing.assert_array_equal(item["audio"][CONTEXT_SAMPLES:].numpy(), snd.audio[start : start + FRAME_SAMPLES])
        np.testing.assert_array_equal(item["counts"].numpy(), snd.counts[0, :, start // 32 : start // 32 + FRAME_BINS])
        if start == 0:
            assert not item["audio"][:CONTEXT_SAMPLES].any()
            checked_zero += 1
        else:
            np.testing.assert_array_equal(
                item["audio"][:CONTEXT_SAMPLES].numpy(), snd.audio[start - CONTEXT_SAMPLES : start]
            )
            checked_context += 1
    assert checked_zero > 0 and checked_context > 0


def test_hop_filters_and_channel_order(cohort):
    index, animals = cohort
    name = "music_1"
    n = animals[0].sounds[[s.name for s in animals[0].sounds].index(name)].audio.size
    assert len(FrameDataset(index.paths, [name], hop=2048)) == 2 * len(frame_starts(n, hop=2048))
    assert len(FrameDataset(index.paths, [name], max_seconds_per_sound=FRAME_SAMPLES / SAMPLE_RATE)) == 2
    hours = {a: s.hours for a in range(2) for s in animals[a].sounds if s.name == name}
    ds = FrameDataset(index.paths, [name], max_hours=min(hours.values()))
    assert {int(a) for a in ds.items[:, 0]} == {min(hours, key=hours.get)}
    perm = np.array([2, 0, 1])
    plain, permuted = FrameDataset(index.paths, [name]), FrameDataset(index.paths, [name], channel_order=[perm, None])
    assert torch.equal(permuted[0]["counts"], plain[0]["counts"][perm])
    assert torch.equal(permuted[len(plain) - 1]["counts"], plain[len(plain) - 1]["counts"])
    with pytest.raises(KeyError, match="not found"):
        FrameDataset(index.paths, ["no_such_sound"])


class CountingFile(io.FileIO):
    bytes_read = 0

    def readinto(self, b):
        n = super().readinto(b)
        CountingFile.bytes_read += n or 0
        return n


def test_reading_one_item_reads_only_its_slices(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    n = 64 * FRAME_SAMPLES  # one long sound, 22 s, 64 channels: ~3.6 MB of float32 noise audio + counts
    snd = SoundRecording(
        "long",
        "music",
        rng.normal(0, 0.1, n).astype(np.float32),
        rng.integers(0, 5, (1, 64, n // 32), dtype=np.uint8),
        0.0,
    )
    path = recordings.write_animal(tmp_path / "a.h5", AnimalRecording("A", "NH", {f: 0.0 for f in ABR_FREQS_HZ}, [snd]))
    size = path.stat().st_size
    real_file = h5py.File
    monkeypatch.setattr(recordings.h5py, "File", lambda p, mode="r": real_file(CountingFile(p, "r"), mode))
    ds = FrameDataset([path], ["long"])
    before = CountingFile.bytes_read
    item = ds[40]
    per_item = CountingFile.bytes_read - before  # includes opening + validating the file in this "worker"
    np.testing.assert_array_equal(
        item["audio"][CONTEXT_SAMPLES:].numpy(), snd.audio[40 * FRAME_SAMPLES : 41 * FRAME_SAMPLES]
    )
    assert 0 < per_item < 0.1 * size, (per_item, size)
    before = CountingFile.bytes_read
    ds[41]
    assert CountingFile.bytes_read - before < 0.05 * size


def test_pickle_workers_and_in_memory_cache(cohort):
    index, _ = cohort
    names = ["speech_0", "tone_3"]
    ds = FrameDataset(index.paths, names)
    first = ds[1]  # opens a handle in this process
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[1]["audio"], first["audio"])
    cached = FrameDataset(index.paths, names, in_memory=True)
    assert not cached._files
    for i in range(len(ds)):
        a, b = ds[i], cached[i]
        assert torch.equal(a["audio"], b["audio"]) and torch.equal(a["counts"], b["counts"])
    batches = list(DataLoader(ds, batch_size=2, num_workers=2, shuffle=False))
    audio = torch.cat([b["audio"] for b in batches])
    assert torch.equal(audio, torch.stack([ds[i]["audio"] for i in range(len(ds))]))
    assert sum(len(b["sound_name"]) for b in batches) == len(ds) and batches[0]["counts"].dtype == torch.int64


def test_test_sounds_and_short_subset(cohort):
    index, animals = cohort
    tests = load_test_sounds(index.path(1))
    ref = {s.name: s for s in animals[1].sounds}
    assert [t.name for t in tests] == ["test_speech"] and tests[0].counts.shape[0] == 2
    np.testing.assert_array_equal(tests[0].counts, ref["test_speech"].counts)
    with pytest.raises(ValueError, match="not a held-out test sound"):
        load_test_sounds(index.path(1), ["music_0"])
    sub = subset_recording(index.path(0), seconds_per_sound=0.5, max_hours=2.0)
    keep = int(0.5 * SAMPLE_RATE) // 32 * 32
    expected = [s.name for s in animals[0].sounds if s.split == "train" and s.hours <= 2.0]
    assert [s.name for s in sub.sounds] == expected and len(expected) < len(animals[0].sounds)
    ref0 = {s.name: s for s in animals[0].sounds}
    for s in sub.sounds:
        n = min(keep, ref0[s.name].audio.size // 32 * 32)
        np.testing.assert_array_equal(s.audio, ref0[s.name].audio[:n])
        np.testing.assert_array_equal(s.counts, ref0[s.name].counts[:, :, : n // 32])
    sub.validate()


def test_each_trial_of_a_frame_carries_its_own_presentation_time(tmp_path):
    audio = np.zeros(FRAME_SAMPLES, np.float32)
    counts = np.zeros((2, 3, FRAME_BINS), np.uint8)
    sound = SoundRecording("twice", "speech", audio, counts, split="train", trial_hours=(0.5, 7.0))
    animal = AnimalRecording("A0", "NH", {f: 20.0 for f in ABR_FREQS_HZ}, [sound])
    recordings.write_animal(tmp_path / "A0.h5", animal)
    ds = FrameDataset([tmp_path / "A0.h5"], ["twice"])
    assert sorted(ds[i]["hours"] for i in range(len(ds))) == [0.5, 7.0]
