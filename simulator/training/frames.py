"""Shared-frame training batches for nu-ICNet and ICNet.

Every animal of a cohort heard the same sounds, so one frame of audio (8192 samples + 2048 of left context) is the
input of several recordings. :class:`SharedFrames` groups the items of a :class:`simulator.data.dataset.FrameDataset` by
(sound, trial, start): the frame is encoded once and decoded for every animal that heard it (the encoder does ~88% of
the FLOPs of the small preset). It also offers a latent cache for a frozen encoder: the encoder is causal, so each
sound is encoded once as a whole (with 2048 zero samples in front, the frame path's context padding) and each frame's
latent is a slice of it (:meth:`SharedFrames.latents`).

Tensors (G groups, A animals of the dataset, C channels, N = context + frame samples, T = frame bins):
``audio`` G x N float32 Pa, ``counts`` G x A x C x T uint8, ``present`` G x A bool, ``hours`` G x A float32.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from simulator.constants import DOWNSAMPLE
from simulator.data.dataset import FrameDataset
from simulator.data.recordings import open_animal

__all__ = ["FrameBatch", "SharedFrames"]


@dataclass
class FrameBatch:
    """One training batch: ``B`` frames and the ``R`` (frame, animal) recordings of them.

    Attributes:
        group: ``B`` group indices (into :class:`SharedFrames`).
        audio: ``B x N`` Pa (or None when latents are used).
        latent: ``B x latent_channels x (N // 32)`` cached latents (or None).
        row_frame: ``R`` index of each recording's frame in the batch (0..B-1).
        row_animal: ``R`` animal index (model order).
        row_hours: ``R`` recording time (h).
        counts: ``R x C x T`` int64 recorded counts.
    """

    group: torch.Tensor
    audio: torch.Tensor | None
    latent: torch.Tensor | None
    row_frame: torch.Tensor
    row_animal: torch.Tensor
    row_hours: torch.Tensor
    counts: torch.Tensor


class SharedFrames:
    """The frames of a :class:`FrameDataset`, grouped so that each frame is stored (and encoded) once.

    Args:
        dataset: frames of all animals (``animal_idx`` = model animal index); loaded into memory here.
        animals: keep only these animal indices (e.g. one animal for a single-branch ICNet, the NH animals for the
            multi-branch stage); their positions in this list become the model animal indices. None: all.
        progress: tqdm bar while loading.
    """

    def __init__(self, dataset: FrameDataset, animals: list[int] | None = None, progress: bool = False) -> None:
        items = dataset.items
        n_all = len(dataset.paths)
        animals = list(range(n_all)) if animals is None else [int(a) for a in animals]
        remap = np.full(n_all, -1, dtype=np.int64)
        remap[animals] = np.arange(len(animals))
        keep = remap[items[:, 0]] >= 0
        items = items[keep]
        self.dataset = dataset
        self.animals = animals
        self.n_animals = len(animals)
        self.context_samples = dataset.context_samples
        keys, inverse = np.unique(items[:, 1:4], axis=0, return_inverse=True)  # (sound, trial, start)
        inverse = inverse.reshape(-1)
        self.keys = keys
        g, a_n = len(keys), self.n_animals
        n = dataset.context_samples + dataset.frame_samples
        t = dataset.frame_samples // DOWNSAMPLE
        self.audio = torch.zeros(g, n)
        self.counts = torch.zeros(g, a_n, dataset.n_channels, t, dtype=torch.uint8)
        self.present = torch.zeros(g, a_n, dtype=torch.bool)
        self.hours = torch.zeros(g, a_n)
        order = np.flatnonzero(keep)
        for i, gi in tqdm(list(zip(order, inverse, strict=True)), desc="frames", disable=not progress, leave=False):
            item = dataset[int(i)]
            a = int(remap[item["animal_idx"]])
            if not self.present[gi].any():
                self.audio[gi] = item["audio"]
            self.counts[gi, a] = item["counts"].to(torch.uint8)
            self.present[gi, a] = True
            self.hours[gi, a] = float(item["hours"])
        self._latent: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def n_recordings(self) -> int:
        return int(self.present.sum())

    def count_frequencies(self) -> torch.Tensor:
        """``C x 5`` frequency of each spike count per channel over all recordings (decoder bias initialisation)."""
        c = self.counts[self.present]  # R x C x T
        onehot = torch.nn.functional.one_hot(c.long(), 5).float()
        return onehot.mean(dim=(0, 2))

    @torch.no_grad()
    def cache_latents(self, encoder: torch.nn.Module, device: torch.device, progress: bool = False) -> None:
        """Encode every sound once with a frozen encoder and slice each frame's latent (``G x L x N // 32``).

        The sound is prefixed with ``context_samples`` zeros, as frames at the start of a sound are, so the latent of
        a frame is exactly its bins of the whole-sound latent (the encoder is causal).
        """
        ds = self.dataset
        n_bins = (self.context_samples + ds.frame_samples) // DOWNSAMPLE
        by_sound: dict[int, list[int]] = {}
        for gi, (s, _, _) in enumerate(self.keys):
            by_sound.setdefault(int(s), []).append(gi)
        out: torch.Tensor | None = None
        for s, groups in tqdm(by_sound.items(), desc="latents", disable=not progress, leave=False):
            a = int(self.dataset.items[self.dataset.items[:, 1] == s][0, 0])
            with open_animal(ds.paths[a]) as f:
                audio = f.audio(ds.sound_names[s])
            x = torch.cat([torch.zeros(self.context_samples), torch.from_numpy(np.asarray(audio, np.float32))])
            z = encoder(x.unsqueeze(0).to(device))[0]
            if out is None:
                out = torch.zeros(len(self), z.shape[0], n_bins, device=device)
            for gi in groups:
                b0 = int(self.keys[gi][2]) // DOWNSAMPLE  # frame start bin; its context starts ctx_bins earlier
                out[gi] = z[:, b0 : b0 + n_bins]  # the zero prefix shifts the sound by exactly its context
        self._latent = out

    @property
    def has_latents(self) -> bool:
        return self._latent is not None

    def subset(self, animals: list[int]) -> SharedFrames:
        """A view keeping only ``animals`` (indices of this object), which become animals 0..len-1; shares latents."""
        sel = torch.as_tensor(animals, dtype=torch.long)
        out = object.__new__(SharedFrames)
        out.__dict__.update(self.__dict__)
        keep = self.present[:, sel].any(dim=1)
        out.keys = self.keys[keep.numpy()]
        out.animals = [self.animals[int(a)] for a in sel]
        out.n_animals = len(out.animals)
        out.audio, out.counts = self.audio[keep], self.counts[keep][:, sel]
        out.present, out.hours = self.present[keep][:, sel], self.hours[keep][:, sel]
        out._latent = None if self._latent is None else self._latent[keep.to(self._latent.device)]
        return out

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = True
    ) -> Iterator[FrameBatch]:
        """Iterate over the groups in batches of ``batch_size`` frames (shuffled with ``generator``)."""
        g = len(self)
        order = torch.randperm(g, generator=generator) if shuffle else torch.arange(g)
        for k in range(0, g, batch_size):
            yield self.batch(order[k : k + batch_size])

    def batch(self, groups: torch.Tensor) -> FrameBatch:
        """The :class:`FrameBatch` of the given group indices."""
        present = self.present[groups]  # B x A
        row_frame, row_animal = present.nonzero(as_tuple=True)
        counts = self.counts[groups][row_frame, row_animal].long()
        hours = self.hours[groups][row_frame, row_animal]
        latent = None if self._latent is None else self._latent[groups.to(self._latent.device)]
        audio = None if latent is not None else self.audio[groups]
        return FrameBatch(groups, audio, latent, row_frame, row_animal, hours, counts)
