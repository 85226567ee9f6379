"""Recording sessions of many virtual animals hearing the same sounds, simulated in parallel processes.

The work is cut by sound: one task prepares a sound for the animals' peripheries once (the gammatone filterbank, or the
resampling for BEZ2018) and simulates every animal's response to it; the tasks run in a process pool
(``concurrent.futures`` with the ``spawn`` start method) or in this process (``workers=1``). Every random draw of a
task comes from its own seeded stream (``default_rng([*count_key, sound index])``) and every computation is
deterministic, so the result is bit-identical for any number of workers (tested). With a
:class:`~simulator.virtual_ic.partial_cohort.SoundCheckpoint`, sounds are kept on disk as they finish (in whatever
order the workers finish them) and the sounds already there are not simulated again, so an interrupted session resumes
to the same result.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import closing
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from simulator.data.recording_types import AnimalRecording, SoundRecording
from simulator.errors import HearloopInputError
from simulator.virtual_ic.animal import AnimalParams, finish_recording, spike_probability_from_features
from simulator.virtual_ic.midbrain import sample_counts
from simulator.virtual_ic.partial_cohort import SoundCheckpoint
from simulator.virtual_ic.peripheries import BezPeriphery

__all__ = ["check_workers", "simulate_sessions"]


def check_workers(workers: int) -> int:
    """``workers`` as a positive int, or :class:`HearloopInputError`."""
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise HearloopInputError(f"workers must be a positive integer, got {workers!r}")
    return int(workers)


def _preparation_key(params: AnimalParams) -> Any:
    """Animals whose peripheries prepare a sound identically share one preparation."""
    per = params.periphery
    return (per.name, per.config) if isinstance(per, BezPeriphery) else per.name


def _sound_task(task: tuple[int, np.ndarray, str, list[tuple[AnimalParams, float, tuple[int, ...]]]]) -> list:
    """Counts (``trials x channels x bins`` uint8) of every animal for one sound."""
    s, audio, split, animals = task
    prepared: dict[Any, Any] = {}
    out = []
    for params, hours, count_key in animals:
        key = _preparation_key(params)
        if key not in prepared:
            prepared[key] = params.periphery.prepare(audio)
        prob = spike_probability_from_features(params, prepared[key], hours)
        out.append(sample_counts(prob, np.random.default_rng([*count_key, s]), 2 if split == "test" else 1))
    return out


def _run(tasks: list, workers: int) -> Iterator[tuple[int, list]]:
    """(sound index, counts of every animal) for each task, as they finish; closing it cancels the tasks not begun."""
    if workers == 1:
        for task in tasks:
            yield task[0], _sound_task(task)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(_sound_task, task): task[0] for task in tasks}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _simulate_missing(
    tasks: list, workers: int, checkpoint: SoundCheckpoint | None, progress: bool, desc: str
) -> dict[int, list]:
    """Counts of every sound by index: those ``checkpoint`` holds, and the others simulated (and kept there)."""
    done = checkpoint.load() if checkpoint is not None else {}
    todo = [task for task in tasks if task[0] not in done]
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=desc, disable=not progress)
    try:
        with closing(_run(todo, workers)) as results:
            for s, counts in results:
                done[s] = counts
                if checkpoint is not None:
                    checkpoint.add(s, counts)
                bar.update()
    finally:  # also on an error or Ctrl-C: whatever finished is kept
        bar.close()
        if checkpoint is not None:
            checkpoint.flush()
    return done


def simulate_sessions(
    params: Sequence[AnimalParams],
    sounds: Sequence[Any],
    splits: Sequence[str],
    hours: Sequence[np.ndarray],
    count_keys: Sequence[tuple[int, ...]],
    abr_rngs: Iterable[np.random.Generator],
    workers: int = 1,
    progress: bool = False,
    desc: str = "sounds",
    checkpoint: SoundCheckpoint | None = None,
) -> list[AnimalRecording]:
    """Simulate every animal's session: counts for every sound (2 trials for test sounds) and its ABR thresholds.

    Args:
        params: the animals' ground truth.
        sounds: corpus :class:`~simulator.data.corpus.Sound` objects every animal hears.
        splits: ``"train"``/``"test"`` per sound.
        hours: per animal, the presentation time (h) of each sound.
        count_keys: per animal, the seed key of its spike-count noise (sound ``s`` uses ``[*key, s]``).
        abr_rngs: per animal, the generator of its ABR measurement noise.
        workers: processes (1: in this process).
        progress: show a tqdm bar over sounds.
        desc: the bar's label.
        checkpoint: where finished sounds are kept and read back from (None: in memory only). Sounds it already
            holds are not simulated again; the bar starts at their number.

    Returns:
        One validated :class:`AnimalRecording` per animal, in ``params`` order.
    """
    workers = check_workers(workers)
    tasks = [
        (s, snd.audio, split, [(p, float(h[s]), tuple(k)) for p, h, k in zip(params, hours, count_keys, strict=True)])
        for s, (snd, split) in enumerate(zip(sounds, splits, strict=True))
    ]
    per_animal: list[list[SoundRecording]] = [[] for _ in params]
    results = _simulate_missing(tasks, workers, checkpoint, progress, desc)
    for s, snd in enumerate(sounds):
        for a, c in enumerate(results[s]):
            per_animal[a].append(SoundRecording(snd.name, snd.sound_class, snd.audio, c, float(hours[a][s]), splits[s]))
    out = []
    for p, recs, rng in zip(params, per_animal, abr_rngs, strict=True):
        rec = finish_recording(p, recs, rng)
        rec.validate()
        out.append(rec)
    return out
