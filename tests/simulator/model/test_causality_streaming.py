"""Causality and chunked streaming of nu-ICNet ([Pellatt2025]_: causal encoder, inference on any length of audio).

Bin t covers samples [32t, 32t + 31]. Changing the audio from sample n + 1 on can only affect bins containing a
changed sample, so bins t < (n + 1) // 32 are guaranteed unchanged and bin (n + 1) // 32 is the first that may change.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import types

import pytest
import torch
import torch.nn.functional as F

from simulator.errors import HearloopInputError
from simulator.model.causal_conv import CausalConv1d
from simulator.model.factory import build_model
from simulator.model.streaming import StreamingPredictor, stream


def _audio(batch: int, n: int, seed: int = 0) -> torch.Tensor:
    return 0.2 * torch.randn(batch, n, generator=torch.Generator().manual_seed(seed))


def _changed_after(audio: torch.Tensor, n: int) -> torch.Tensor:
    out = audio.clone()
    out[:, n + 1 :] += torch.randn(out[:, n + 1 :].shape, generator=torch.Generator().manual_seed(99))
    return out


def _centered_forward(self: CausalConv1d, x: torch.Tensor) -> torch.Tensor:
    """Symmetric ("same") padding: the usual non-causal alternative."""
    ctx = self.context
    return F.conv1d(F.pad(x, (ctx // 2, ctx - ctx // 2)), self.weight, self.bias, stride=self.stride)


@pytest.fixture(scope="module")
def tiny():
    model = build_model("tiny", n_params=3, n_animals=2, seed=0)
    with torch.no_grad():  # strengthen the sound pathway so that any leak of future samples is visible
        for conv in model.encoder.convs:
            conv.weight.mul_(3.0)
    return model


@pytest.mark.parametrize("n", [700, 32 * 25 - 1, 32 * 25, 1000])
def test_output_bins_never_depend_on_later_audio(tiny, n):
    audio = _audio(2, 32 * 50 + 11)
    nu = torch.tensor([[0.2, 0.5, 0.9], [0.7, 0.1, 0.4]])
    safe = (n + 1) // 32  # bins 0..safe-1 hold only samples <= n
    with torch.no_grad():
        z0, z1 = tiny.encode(audio), tiny.encode(_changed_after(audio, n))
        p0, p1 = tiny.predict(audio, nu), tiny.predict(_changed_after(audio, n), nu)
    torch.testing.assert_close(z1[..., :safe], z0[..., :safe], atol=1e-6, rtol=0)
    torch.testing.assert_close(p1[:, :, :safe], p0[:, :, :safe], atol=1e-6, rtol=0)
    # The bound is tight: the bin holding sample n + 1 does change.
    assert float((z1[..., safe] - z0[..., safe]).abs().max()) > 1e-3


def test_the_causality_test_fails_for_a_non_causal_encoder():
    model = build_model("tiny", n_params=3, n_animals=2, seed=0)
    for conv in model.encoder.convs:
        conv.forward = types.MethodType(_centered_forward, conv)
    audio, n = _audio(1, 32 * 50), 32 * 25 - 1
    with torch.no_grad():
        z0, z1 = model.encode(audio), model.encode(_changed_after(audio, n))
    safe = (n + 1) // 32
    assert z0.shape[-1] == 50  # same output length, so only the padding differs
    assert float((z1[..., :safe] - z0[..., :safe]).abs().max()) > 1e-4


@pytest.mark.parametrize("n_samples", [32 * 97 + 13, 3001, 32 * 64])
@pytest.mark.parametrize("chunk", [32, 96, 1000, 4096])
def test_streaming_equals_whole_signal_predict(tiny, n_samples, chunk):
    audio = _audio(1, n_samples, seed=n_samples)
    nu = torch.tensor([[0.2, 0.5, 0.9], [0.7, 0.1, 0.4], [0.5, 0.5, 0.5]])
    with torch.no_grad():
        whole = tiny.predict(audio, nu)
    streamed = stream(tiny, audio, nu, chunk_samples=chunk)
    assert streamed.shape == whole.shape == (3, tiny.n_channels, n_samples // 32, 5)
    torch.testing.assert_close(streamed, whole, atol=1e-5, rtol=1e-5)


def test_streaming_with_irregular_chunks_and_paired_streams(tiny):
    audio = _audio(2, 32 * 80 + 7, seed=5)
    nu = torch.tensor([[0.3, 0.3, 0.3], [0.9, 0.1, 0.6]])
    with torch.no_grad():
        whole = tiny.predict(audio, nu)
    sp = StreamingPredictor(tiny, nu)
    outs, start = [], 0
    for size in (5, 27, 300, 1, 64, 1111, 10_000):  # arbitrary sizes; < 32 samples wait for the next push
        out = sp.push(audio[:, start : start + size])
        assert out.shape[2] == min(start + size, audio.shape[1]) // 32 - sum(o.shape[2] for o in outs)
        outs.append(out)
        start += size
    assert sp.flush() == audio.shape[1] % 32
    torch.testing.assert_close(torch.cat(outs, dim=2), whole, atol=1e-5, rtol=1e-5)
    sp.reset()
    torch.testing.assert_close(sp.push(audio[:, :320]), whole[:, :, :10], atol=1e-5, rtol=1e-5)
    with pytest.raises(HearloopInputError, match="batch"):
        sp.push(_audio(3, 64))


def test_small_preset_streams_frames_exactly():
    model = build_model("small", seed=2)
    audio = _audio(1, 8192 * 2 + 2048 + 77, seed=3)
    nu = torch.full((1, 6), 0.3)
    with torch.no_grad():
        whole = model.predict(audio, nu)
    torch.testing.assert_close(stream(model, audio, nu, chunk_samples=8192), whole, atol=1e-5, rtol=1e-5)
