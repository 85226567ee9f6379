"""WDRC throughput: vectorised (block-scan) level detector vs per-sample Python-loop detectors, side by side.

The loop references are the branching attack/release detector (Giannoulis, Massberg & Reiss 2012, eq. 11) with one
Python iteration per sample, in two flavours: scalar per channel (as pyclarity's compressor does it) and vectorised over
the batch x bands channels with numpy (a stronger baseline, whose per-iteration overhead is shared by all channels).
The detectors are timed alone, and the vectorised and numpy-loop detectors also inside the full WDRC forward pass
(filterbank + detector + gain + limiter). Throughput is seconds of audio processed per wall-clock second (batch x
duration / wall time). Prints a Markdown table.

    .venv/bin/python benchmarks/bench_wdrc.py [--seconds 2] [--batches 1 8] [--bands 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from compensation import WDRC, attack_release_envelope
from compensation.wdrc import branching_detector
from simulator.constants import REF_PRESSURE_PA, SAMPLE_RATE


def scalar_loop_detector(power: np.ndarray, tau_attack_s: np.ndarray, tau_release_s: np.ndarray) -> np.ndarray:
    """pyclarity-style detector: pure Python, one channel and one sample at a time."""
    out = np.empty_like(power)
    for c in range(power.shape[0]):
        a_att, a_rel = np.exp(-1 / (tau_attack_s[c] * SAMPLE_RATE)), np.exp(-1 / (tau_release_s[c] * SAMPLE_RATE))
        env, row, dst = 0.0, power[c].tolist(), [0.0] * power.shape[1]
        for n, x in enumerate(row):
            a = a_att if x > env else a_rel
            env = a * env + (1 - a) * x
            dst[n] = env
        out[c] = dst
    return out


class LoopWDRC(WDRC):
    """The same WDRC with the per-sample loop detector (reference for timing only; not differentiable)."""

    def band_levels_db(self, bands, fields):
        shape = bands.shape
        power = (bands.double() ** 2).reshape(-1, shape[-1]).numpy()
        att = (fields["attack_ms"].double() / 1000).reshape(-1).numpy()
        rel = (fields["release_ms"].double() / 1000).reshape(-1).numpy()
        env = torch.from_numpy(branching_detector(power, att, rel)).reshape(shape)
        floor = (REF_PRESSURE_PA * 1e-1) ** 2
        return (10 * torch.log10(torch.clamp(env, min=floor) / REF_PRESSURE_PA**2)).to(bands.dtype)


def _best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(batch: int, seconds: float, n_bands: int, repeats: int) -> list[tuple[str, str, float, float]]:
    """Time every implementation on one configuration; rows (stage, implementation, seconds, reference seconds)."""
    n = int(seconds * SAMPLE_RATE)
    gen = torch.Generator().manual_seed(0)
    audio = torch.randn(batch, n, generator=gen) * REF_PRESSURE_PA * 10 ** (70 / 20)
    wdrc, loop_wdrc = WDRC(n_bands=n_bands), LoopWDRC(n_bands=n_bands)
    theta = wdrc.validate_theta(wdrc.prescribe({500: 40, 1000: 50, 2000: 60, 4000: 70})).expand(batch, -1)
    fields = wdrc.split_theta(theta)
    power = wdrc.filterbank(audio) ** 2  # float32, as inside the WDRC
    att, rel = fields["attack_ms"] / 1000, fields["release_ms"] / 1000
    flat = (power.double().reshape(-1, n).numpy(), att.double().reshape(-1).numpy(), rel.double().reshape(-1).numpy())
    t_vec_det = _best_time(lambda: attack_release_envelope(power, att, rel, SAMPLE_RATE), repeats)
    t_vec_full = _best_time(lambda: wdrc(audio, theta), repeats)
    return [
        ("level detector", "vectorised block-scan one-poles (ours)", t_vec_det, t_vec_det),
        (
            "level detector",
            "per-sample loop, numpy over channels",
            _best_time(lambda: branching_detector(*flat), 1),
            t_vec_det,
        ),
        (
            "level detector",
            "per-sample loop, scalar (pyclarity-style)",
            _best_time(lambda: scalar_loop_detector(*flat), 1),
            t_vec_det,
        ),
        ("full WDRC forward", "vectorised detector (ours)", t_vec_full, t_vec_full),
        ("full WDRC forward", "numpy-loop detector", _best_time(lambda: loop_wdrc(audio, theta), 1), t_vec_full),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="audio duration per batch item (s)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="batch sizes to run")
    parser.add_argument("--bands", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="vectorised runs (best of); the loops run once")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    print(
        f"WDRC benchmark: {args.seconds:g} s of noise per batch item, {args.bands} bands, "
        f"{torch.get_num_threads()} torch threads, CPU. Throughput = batch x seconds / wall time.\n"
    )
    print("| batch (channels) | stage | implementation | throughput (s audio / s) | ours is faster by |")
    print("|---|---|---|---|---|")
    for batch in args.batches:
        for stage, impl, t, t_ref in run(batch, args.seconds, args.bands, args.repeats):
            speed = batch * args.seconds / t
            print(f"| {batch} ({batch * args.bands}) | {stage} | {impl} | {speed:,.2f} | {t / t_ref:,.2f}x |")
    # agreement of the two full pipelines (output level difference), for context
    audio = torch.randn(1, int(args.seconds * SAMPLE_RATE), generator=torch.Generator().manual_seed(1)) * 0.06
    wdrc, loop_wdrc = WDRC(n_bands=args.bands), LoopWDRC(n_bands=args.bands)
    theta = wdrc.prescribe({500: 40, 1000: 50, 2000: 60, 4000: 70})
    ratio = float(loop_wdrc(audio, theta).pow(2).mean().sqrt() / wdrc(audio, theta).pow(2).mean().sqrt())
    diff_db = 20 * np.log10(ratio)
    print(f"\nOutput RMS level, loop-detector WDRC minus vectorised WDRC: {diff_db:+.2f} dB (noise, 70 dB SPL)")


if __name__ == "__main__":
    main()
