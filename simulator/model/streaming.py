"""Causal streaming inference for nu-ICNet: push audio chunk by chunk, get the bins they complete.

[Pellatt2025]_: every layer of the sound pathway is causal, so a model can run on a live signal. Each causal convolution
carries its last ``K - stride`` inputs between chunks (:mod:`simulator.model.causal_conv`), which makes the streamed
output equal to whole-signal :meth:`NuICNet.predict` (zero left padding == an all-zero initial state), up to float
rounding. Audio is consumed in whole 32-sample bins; a remainder of < 32 samples waits for the next push.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import torch

from simulator.constants import DOWNSAMPLE, FRAME_SAMPLES, N_CLASSES
from simulator.errors import HearloopInputError
from simulator.model.combination import class_softmax
from simulator.model.nuicnet import NuICNet
from simulator.validation import validate_audio, validate_nu

__all__ = ["StreamingPredictor", "stream"]


class StreamingPredictor:
    """Stateful causal predictor for one or more parallel audio streams and listeners.

    Args:
        model: a :class:`simulator.model.nuicnet.NuICNet` (or ABRNet); put in eval mode, run without autograd.
        nu: ``L x D`` listeners (or ``D``). With one audio stream the sound is encoded once for all L listeners;
            with B streams, B must equal L (paired) or L be 1.

    Example::

        sp = StreamingPredictor(model, nu)
        for chunk in chunks:                 # 1 x n or B x n Pa, any n
            probs = sp.push(chunk)           # L x C x bins_completed x 5
    """

    def __init__(self, model: NuICNet, nu: torch.Tensor) -> None:
        if not isinstance(model, NuICNet):
            raise HearloopInputError(f"StreamingPredictor needs a NuICNet/ABRNet model, got {type(model).__name__}")
        self.model = model.eval()
        self.nu = validate_nu(nu, model.n_params).to(model.device)
        self.reset()

    def reset(self) -> None:
        """Start a new signal (all-zero history)."""
        self._pending: torch.Tensor | None = None
        self._enc_state = self.model.encoder.init_state()
        self._shared_state: torch.Tensor | None = None
        self._comb_state = None
        self.bins_done = 0
        with torch.no_grad():
            self._bias = self.model.combiner.listener_bias(self.model.expander(self.nu))

    @torch.no_grad()
    def push(self, chunk: torch.Tensor) -> torch.Tensor:
        """Feed the next ``B x n`` (or ``n``) samples in Pa; return probabilities of the bins now complete.

        Returns:
            ``max(B, L) x channels x bins x 5`` with ``bins = (pending + n) // 32`` (possibly 0).
        """
        if isinstance(chunk, torch.Tensor) and chunk.dim() == 1:
            chunk = chunk.unsqueeze(0)
        chunk = validate_audio(chunk, name="chunk").to(self.model.device)
        if self._pending is not None:
            if self._pending.shape[0] != chunk.shape[0]:
                raise HearloopInputError(f"chunk batch {chunk.shape[0]} differs from earlier chunks")
            chunk = torch.cat([self._pending, chunk], dim=-1)
        n_use = (chunk.shape[-1] // DOWNSAMPLE) * DOWNSAMPLE
        self._pending = chunk[:, n_use:]
        b, n_l = chunk.shape[0], self.nu.shape[0]
        if b not in (1, n_l) and n_l != 1:
            raise HearloopInputError(f"{b} audio streams cannot be paired with {n_l} listeners")
        if n_use == 0:
            return torch.zeros(max(b, n_l), self.model.n_channels, 0, N_CLASSES, device=self.model.device)
        latent, self._enc_state = self.model.encoder.stream(chunk[:, :n_use], self._enc_state)
        shared, self._shared_state = self.model.combiner.shared(latent, self._shared_state)
        h, self._comb_state = self.model.combiner.finish(shared, self._bias, self._comb_state)
        self.bins_done += latent.shape[-1]
        return class_softmax(self.model.decoder(h))

    def flush(self) -> int:
        """Drop the < 32 pending samples (they never form a bin); returns how many were dropped."""
        n = 0 if self._pending is None else int(self._pending.shape[-1])
        self._pending = None
        return n


def stream(model: NuICNet, audio: torch.Tensor, nu: torch.Tensor, chunk_samples: int = FRAME_SAMPLES) -> torch.Tensor:
    """Run ``audio`` (``B x N`` Pa) through a :class:`StreamingPredictor` in chunks of ``chunk_samples``.

    Returns:
        probabilities ``max(B, L) x channels x N // 32 x 5``, equal to ``model.predict(audio, nu)`` within float
        tolerance.
    """
    if chunk_samples < 1:
        raise HearloopInputError(f"chunk_samples must be >= 1, got {chunk_samples}")
    audio = validate_audio(audio)
    sp = StreamingPredictor(model, nu)
    outs = [sp.push(audio[:, i : i + chunk_samples]) for i in range(0, audio.shape[-1], chunk_samples)]
    return torch.cat(outs, dim=2)
