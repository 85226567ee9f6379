"""``hearloop simulate``: run a sound file through nu-ICNet for one listener and plot the simulated neurogram.

The model is the nu-ICNet of [Pellatt2025]_: by default the bundled pretrained ``small`` model, or any checkpoint
directory (``--model``), or an untrained preset (``--preset tiny|small|paper --untrained``, clearly labelled).

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse

from runners import cli_ranges as ranges
from runners.cli_support import add_command, ranged
from simulator.errors import HearloopInputError

COMMAND = """
simulate IC activity for a sound file and a listener nu, and plot the neurogram

Load any audio file (WAV, FLAC, ...; resampled to 24414.0625 Hz, calibrated in Pa), predict the listener's multi-
unit activity with nu-ICNet, and save a figure of the expected spike counts (channels x time) under the waveform.
Without --model the bundled pretrained model is used."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "simulate", run, COMMAND)
    parser.add_argument("sound", help="audio file (any format soundfile reads: WAV, FLAC, ...)")
    parser.add_argument(
        "--nu",
        default=None,
        help="listener parameters in [0, 1], comma separated, one per model dimension (default: 0.5 each)",
    )
    parser.add_argument("--model", default=None, help="checkpoint directory (default: the bundled model)")
    parser.add_argument(
        "--preset",
        default=None,
        choices=("tiny", "small", "paper"),
        help="use an untrained preset instead of a checkpoint; needs --untrained (default: none)",
    )
    parser.add_argument(
        "--untrained", action="store_true", help="confirm --preset: random weights, not a prediction (default: off)"
    )
    parser.add_argument(
        "--seed",
        type=ranged(int, ranges.SEED),
        default=None,
        help="--preset: initialisation seed, 0-4294967295 (default: 0)",
    )
    parser.add_argument(
        "--level-db",
        type=ranged(float, ranges.SOUND_LEVEL_DB_SPL),
        default=None,
        help="present the sound at this RMS level, dB SPL, 0-120 (default: the file's level, by --full-scale-db)",
    )
    parser.add_argument(
        "--full-scale-db",
        type=ranged(float, ranges.FULL_SCALE_DB_SPL),
        default=None,
        help="calibration: dB SPL of a full-scale sine in the file, 0-191; not with --level-db (default: 100)",
    )
    parser.add_argument("--out", default="neurogram.png", help="output figure (default: %(default)s)")
    parser.add_argument(
        "--chunk-seconds",
        type=ranged(float, ranges.CHUNK_SECONDS),
        default=10.0,
        help="stream long sounds through the model in chunks of this length, s, in (0, 600] (default: %(default)s)",
    )
    parser.add_argument(
        "--device", default="cpu", choices=("cpu", "cuda", "auto"), help="torch device (default: %(default)s)"
    )


def _parse_nu(text: str | None, n_params: int) -> list[float]:
    if text is None:
        return [0.5] * n_params
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise HearloopInputError(f"--nu must be comma-separated numbers, got {text!r}") from err
    if len(values) != n_params:
        raise HearloopInputError(f"--nu has {len(values)} values but the model has D={n_params} parameters")
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise HearloopInputError(f"--nu values must lie in [0, 1], got {values}")
    return values


def _load(args: argparse.Namespace):
    from simulator.device import resolve_device
    from simulator.model.checkpoint import load_model
    from simulator.model.factory import build_model

    if args.preset is not None:
        if args.model is not None:
            raise HearloopInputError("give either --model or --preset, not both")
        if not args.untrained:
            raise HearloopInputError(f"--preset {args.preset} builds an UNTRAINED model; add --untrained to confirm")
        seed = 0 if args.seed is None else args.seed
        model = build_model(args.preset, seed=seed).to(resolve_device(args.device))
        return model, f"UNTRAINED {args.preset} preset (seed {seed})"
    if args.untrained or args.seed is not None:
        raise HearloopInputError("--untrained and --seed apply to an untrained --preset only")
    model = load_model(args.model, device=args.device)
    return model, f"checkpoint {args.model or 'bundled nuicnet-small (BEZ2018)'}"


def run(args: argparse.Namespace) -> int:
    import torch

    from simulator.constants import DOWNSAMPLE, SAMPLE_RATE
    from simulator.data.audio_io import load_audio
    from simulator.evaluation.plots import plot_neurogram
    from simulator.model.nuicnet import NuICNet
    from simulator.model.spikes import expected_counts
    from simulator.model.streaming import stream

    if not args.chunk_seconds > 0:
        raise HearloopInputError(f"--chunk-seconds must be > 0, got {args.chunk_seconds}")
    model, label = _load(args)
    if not isinstance(model, NuICNet):
        raise HearloopInputError(f"simulate needs a nu-ICNet/ABRNet checkpoint; {label} is a {type(model).__name__}")
    nu_values = _parse_nu(args.nu, model.n_params)
    if args.level_db is not None and args.full_scale_db is not None:
        raise HearloopInputError("give --level-db (rescale to that level) or --full-scale-db (calibrate), not both")
    full_scale = 100.0 if args.full_scale_db is None else args.full_scale_db
    audio, file_rate = load_audio(args.sound, full_scale_db_spl=full_scale, level_db_spl=args.level_db)
    if audio.shape[-1] < DOWNSAMPLE:
        raise HearloopInputError(f"{args.sound} is too short: {audio.shape[-1]} samples, at least {DOWNSAMPLE} needed")
    nu = torch.tensor([nu_values], dtype=torch.float32)
    chunk = max(DOWNSAMPLE, int(args.chunk_seconds * SAMPLE_RATE) // DOWNSAMPLE * DOWNSAMPLE)
    with torch.inference_mode():
        probs = stream(model, audio.to(model.device), nu, chunk_samples=chunk)
        counts = expected_counts(probs)[0].cpu()
    rms = float(audio.pow(2).mean().sqrt())
    level = 20 * torch.log10(torch.tensor(max(rms, 1e-12) / 20e-6)).item()
    nu_txt = ", ".join(f"{v:.2f}" for v in nu_values)
    title = f"{args.sound}  |  nu = ({nu_txt})  |  {label}"
    plot_neurogram(audio[0], counts, args.out, title=title)
    print(f"model: {label}")
    if "UNTRAINED" in label:
        print("WARNING: the model weights are untrained (random); the neurogram is not a prediction of IC activity")
    print(
        f"sound: {args.sound} ({file_rate:g} Hz -> {SAMPLE_RATE} Hz, {audio.shape[-1] / SAMPLE_RATE:.2f} s, "
        f"{level:.1f} dB SPL RMS)"
    )
    print(f"listener nu: ({nu_txt})")
    print(
        f"neurogram: {counts.shape[0]} channels x {counts.shape[1]} bins, mean {float(counts.mean()):.3f} "
        f"spikes/bin -> {args.out}"
    )
    return 0
