"""Throughput of a nu-ICNet preset on one device: inference and training steps, in seconds of audio per second.

* inference: ``model.predict`` of one listener on ``--seconds`` of audio (as ``benchmarks/bench_simulator.py``);
* training: Adam steps of forward + backward through ``predict`` on batches of ``--batch`` frames of 8192 samples
  (the training frame), nu of every frame free.

Each is timed after one warm-up call, with the device synchronised; results go to ``--json`` and stdout.

    .venv/bin/python scripts/gpu_throughput.py --preset paper --device cuda --json OUT/throughput_paper.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from simulator.constants import SAMPLE_RATE
from simulator.model.factory import build_model, macs_per_second

FRAME = 8192


def _timed(fn, device: torch.device, repeats: int) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / repeats


def measure(preset: str, device: torch.device, seconds: float, batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = build_model(preset).to(device)
    n = int(seconds * SAMPLE_RATE) // 32 * 32
    audio = 0.05 * torch.randn(1, n, device=device)
    nu = torch.full((1, model.n_params), 0.5, device=device)
    with torch.inference_mode():
        infer_s = _timed(lambda: model.predict(audio, nu), device, repeats)
    frames = 0.05 * torch.randn(batch, FRAME, device=device)
    nu_b = torch.full((batch, model.n_params), 0.5, device=device, requires_grad=True)
    opt = torch.optim.Adam([*model.parameters(), nu_b], lr=1e-4)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        model.predict(frames, nu_b, grad=True).square().mean().backward()
        opt.step()

    train_s = _timed(step, device, repeats)
    return {
        "preset": preset,
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gmac_per_audio_s": macs_per_second(model.config, 1)["total"] / 1e9,
        "inference_audio_s": n / SAMPLE_RATE,
        "inference_wall_s": infer_s,
        "inference_audio_s_per_s": n / SAMPLE_RATE / infer_s,
        "train_batch_frames": batch,
        "train_step_wall_s": train_s,
        "train_audio_s_per_s": batch * FRAME / SAMPLE_RATE / train_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", help="paper (default), small or tiny")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--seconds", type=float, default=10.0, help="inference audio, s (default 10)")
    parser.add_argument("--batch", type=int, default=8, help="training frames per step (default 8)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (default 5)")
    parser.add_argument("--json", default=None, help="write the result to this JSON file")
    args = parser.parse_args()
    result = measure(args.preset, torch.device(args.device), args.seconds, args.batch, args.repeats)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
