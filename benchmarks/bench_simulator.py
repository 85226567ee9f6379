"""nu-ICNet inference throughput and the shared-encoder speed-up, measured side by side in one run.

[Pellatt2025]_ (nu-ICNet): the encoder does not depend on the listener, so one sound is encoded once and decoded for
many listeners (``model.encode`` + batched ``model.decode``). This benchmark measures, on one device:

1. forward throughput (``predict``, one listener) in seconds of audio per wall-clock second, for the ``paper`` and
   ``small`` presets (short audio for ``paper``: ~51 GMAC per second of audio);
2. the shared-encoder ratio on ``small``: a naive loop of per-listener ``predict`` calls vs ``encode`` once + one
   batched ``decode``, for 1, 8 and 64 listeners. Ratio = naive time / shared time (goal: >= 5x at 64 listeners).

Also prints the analytic MAC counts (:func:`simulator.model.factory.macs_per_second`). Prints a Markdown table and
writes JSON.

    .venv/bin/python benchmarks/bench_simulator.py [--quick] [--json out.json] [--device cpu|cuda] [--threads N]

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from simulator.constants import SAMPLE_RATE
from simulator.model.factory import build_model, macs_per_second


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device: torch.device, repeats: int) -> float:
    """Median wall time (s) of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def _time_alternating(fn_a, fn_b, device: torch.device, repeats: int) -> tuple[float, float]:
    """Median wall times (s) of ``fn_a()`` and ``fn_b()``, timed in alternation (a, b, a, b, ...) after two warm-up
    rounds, so that a slow phase of a shared, noisy machine hits both sides of the ratio alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(repeats + 2):
        for fn, out in ((fn_a, times[0]), (fn_b, times[1])):
            t0 = time.perf_counter()
            fn()
            _sync(device)
            if r >= 2:
                out.append(time.perf_counter() - t0)
    return sorted(times[0])[repeats // 2], sorted(times[1])[repeats // 2]


def throughput(preset: str, seconds: float, device: torch.device, repeats: int) -> dict:
    model = build_model(preset, n_channels=None).to(device)
    n = int(seconds * SAMPLE_RATE) // 32 * 32
    g = torch.Generator().manual_seed(0)
    audio = (0.05 * torch.randn(1, n, generator=g)).to(device)
    nu = torch.full((1, model.n_params), 0.5, device=device)
    with torch.inference_mode():
        wall = _time(lambda: model.predict(audio, nu), device, repeats)
    macs = macs_per_second(model.config, 1)
    return {
        "preset": preset,
        "audio_s": n / SAMPLE_RATE,
        "wall_s": wall,
        "audio_s_per_s": n / SAMPLE_RATE / wall,
        "gmac_per_audio_s": macs["total"] / 1e9,
        "encoder_fraction": macs["encoder"] / macs["total"],
    }


def shared_ratio(seconds: float, listeners: int, device: torch.device, repeats: int) -> dict:
    model = build_model("small").to(device)
    n = int(seconds * SAMPLE_RATE) // 32 * 32
    g = torch.Generator().manual_seed(1)
    audio = (0.05 * torch.randn(1, n, generator=g)).to(device)
    nu = torch.rand(listeners, model.n_params, generator=g).to(device)

    def naive():
        return [model.predict(audio, nu[i : i + 1]) for i in range(listeners)]

    def shared():
        return model.predict(audio, nu)  # one encode, decode broadcast over the listeners

    with torch.inference_mode():
        ref = torch.cat(naive())
        err = float((shared() - ref).abs().max())
        t_naive, t_shared = _time_alternating(naive, shared, device, repeats)
    macs = macs_per_second(model.config, listeners)
    naive_macs = listeners * macs_per_second(model.config, 1)["total"]
    return {
        "listeners": listeners,
        "audio_s": n / SAMPLE_RATE,
        "naive_s": t_naive,
        "shared_s": t_shared,
        "ratio": t_naive / t_shared,
        "mac_ratio": naive_macs / macs["total"],
        "listener_audio_s_per_s_shared": listeners * n / SAMPLE_RATE / t_shared,
        "max_abs_diff": err,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter audio and fewer repeats")
    parser.add_argument("--json", default=None, help="write results to this JSON file")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 5
    paper_s, small_s = (0.25, 2.0) if args.quick else (0.5, 5.0)
    if device.type == "cuda":
        paper_s, small_s = paper_s * 20, small_s * 4
    env = {"device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__}
    env["cpu"] = platform.processor() or platform.machine()
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    thr = [throughput("paper", paper_s, device, max(2, repeats - 2)), throughput("small", small_s, device, repeats)]
    ratios = [shared_ratio(small_s, n, device, repeats) for n in (1, 8, 64)]

    print(f"\n## nu-ICNet inference ({env['device']}, {env['threads']} threads, torch {env['torch']})\n")
    print("| preset | audio (s) | wall (s) | audio s / s (1 listener) | GMAC / audio s | encoder share |")
    print("|---|---|---|---|---|---|")
    for r in thr:
        print(
            f"| {r['preset']} | {r['audio_s']:.2f} | {r['wall_s']:.3f} | {r['audio_s_per_s']:.2f} | "
            f"{r['gmac_per_audio_s']:.3f} | {100 * r['encoder_fraction']:.1f}% |"
        )
    print("\n### Shared encoder vs naive per-listener predict (small preset)\n")
    print("| listeners | naive (s) | encode + batched decode (s) | speed-up | MAC ratio | listener-audio s / s |")
    print("|---|---|---|---|---|---|")
    for r in ratios:
        print(
            f"| {r['listeners']} | {r['naive_s']:.3f} | {r['shared_s']:.3f} | {r['ratio']:.2f}x | "
            f"{r['mac_ratio']:.2f}x | {r['listener_audio_s_per_s_shared']:.1f} |"
        )
    result = {"env": env, "throughput": thr, "shared_encoder": ratios}
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
        print(f"\nwrote {args.json}")
    return result


if __name__ == "__main__":
    main()
