"""``hearloop synth``: generate a synthetic virtual-IC cohort with known hearing loss and write it to disk.

The cohort (see :mod:`simulator.virtual_ic.cohort`) mirrors the nu-ICNet data design ([Pellatt2025]_): NH and
noise-exposed animals hearing the same sound corpus, with two-trial held-out test sounds and ABR thresholds.

References

.. [Pellatt2025]
    L. Pellatt, F. Drakopoulos, S. Sabesan, N. A. Lesica. Modelling the Effects of Hearing Loss on Neural Coding
    in the Auditory Midbrain with Variational Conditioning. arXiv:2506.03088, 2025.
"""

from __future__ import annotations

import argparse
import time

from runners import cli_ranges as ranges
from runners.cli_support import add_command, range_text, ranged
from simulator.errors import HearloopInputError

RANGE_OPTIONS = (
    ("--level-range", (45.0, 90.0), ranges.SOUND_LEVEL_DB_SPL, "presentation levels of the training sounds, dB SPL"),
    (
        "--test-level-range",
        (65.0, 90.0),
        ranges.SOUND_LEVEL_DB_SPL,
        "presentation levels of the held-out test sounds, dB SPL",
    ),
    (
        "--hi-pta-range",
        (10.0, 50.0),
        ranges.HEARING_LEVEL_DB_HL,
        "severity range of the HI animals (PTA of the true loss), dB HL",
    ),
)
"""(flag, default, range of LOW and of HIGH, help) of the LOW HIGH options; defaults as in
``simulator.virtual_ic.generate_cohort``."""


COMMAND = """
generate a synthetic virtual-IC cohort (known hearing loss) and write it to a directory

Generate NH and HI virtual animals (cochlear model + modulation-tuned IC units, Binomial spike counts) hearing a
synthesised corpus (speech, speech in noise, music, ripples, tones, silence), write them with
simulator.data.recordings.write_cohort, and print a per-animal summary."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(subparsers, "synth", run, COMMAND)
    parser.add_argument(
        "--out",
        required=True,
        help="output directory for the cohort (cohort.json + one HDF5 file each); finished sounds wait in "
        "OUT.partial until the cohort is written, so rerunning an interrupted command resumes it",
    )
    parser.add_argument(
        "--n-nh",
        type=ranged(int, ranges.ANIMAL_COUNT),
        default=3,
        help="normal-hearing animals, 0-1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--n-hi",
        type=ranged(int, ranges.ANIMAL_COUNT),
        default=6,
        help="hearing-impaired animals, 0-1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=ranged(int, ranges.SEED), default=0, help="master seed, 0-4294967295 (default: %(default)s)"
    )
    parser.add_argument(
        "--channels",
        type=ranged(int, ranges.CHANNELS),
        default=32,
        help="recording channels per animal, 1-1024 (default: %(default)s)",
    )
    _add_sound_options(parser)
    for flag, (low, high), each, what in RANGE_OPTIONS:
        parser.add_argument(
            flag,
            type=ranged(float, each),
            nargs=2,
            default=(low, high),
            metavar=("LOW", "HIGH"),
            help=f"{what}, LOW <= HIGH, each {range_text(each)} (default: {low:g} {high:g})",
        )
    parser.add_argument(
        "--flat-from",
        type=ranged(float, ranges.HEARING_LEVEL_DB_HL),
        default=None,
        metavar="PTA",
        help="HI animals with a target PTA at or above this, dB HL, -10 to 120, get a flat loss: notch and sloping "
        "losses saturate near 50 dB HL, so severe targets need flat ones (default: shapes cycle flat/sloping/notch at "
        "every severity)",
    )
    parser.add_argument(
        "--tone-frequencies",
        choices=("audiometric", "continuous"),
        default="audiometric",
        help="pip frequencies of the tone sounds: audiometric (the 9 audiometric ones, as earlier cohorts) or "
        "continuous (log-uniform 250-8000 Hz, so that a model also learns tones between them: smooth neurometric "
        "audiograms) (default: %(default)s)",
    )
    _add_periphery_options(parser)
    parser.add_argument(
        "--no-shuffle",
        action="store_true",
        help="keep channels in tonotopic template order (default: shuffled, as recorded)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars (default: bars)")
    parser.add_argument(
        "--checkpoint-seconds",
        type=ranged(float, ranges.CHECKPOINT_SECONDS),
        default=60.0,
        metavar="S",
        help="write the finished sounds to OUT.partial at least every S seconds, 0-86400 (0: after every sound; "
        "they are also written when the run ends or stops on an error), so an interruption loses at most the sounds "
        "in flight and the last S seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard the finished sounds of an interrupted run in OUT.partial and start over (default: a rerun with "
        "the same options resumes from them; other options are refused while the folder exists)",
    )


def _add_sound_options(parser: argparse.ArgumentParser) -> None:
    """How much sound each animal hears, and for how long its session is recorded."""
    parser.add_argument(
        "--train-seconds",
        type=ranged(float, ranges.AUDIO_SECONDS),
        default=90.0,
        help="training audio per animal, s, in (0, 86400] (default: %(default)s)",
    )
    parser.add_argument(
        "--sound-seconds",
        type=ranged(float, ranges.SOUND_SECONDS),
        default=3.0,
        help="duration of each training sound, s, 0.05-60 (default: %(default)s)",
    )
    parser.add_argument(
        "--test-per-class",
        type=ranged(int, ranges.SOUND_COUNT),
        default=2,
        help="two-trial held-out test sounds per sound class, 1-1000 (default: %(default)s)",
    )
    parser.add_argument(
        "--test-seconds",
        type=ranged(float, ranges.SOUND_SECONDS),
        default=3.0,
        help="duration of each test sound, s, 0.05-60 (default: %(default)s)",
    )
    parser.add_argument(
        "--session-hours",
        type=ranged(float, ranges.HOURS),
        default=10.0,
        help="recording session length, h, in (0, 1000] (default: %(default)s)",
    )


def _add_periphery_options(parser: argparse.ArgumentParser) -> None:
    """The auditory periphery of the cohort and how it is simulated."""
    parser.add_argument(
        "--periphery",
        choices=("bez2018", "gammatone"),
        default="bez2018",
        help="auditory periphery: bez2018 (the Bruce, Erfani & Zilany 2018 auditory-nerve model: OHC loss broadens "
        "tuning and removes compression; about 4.2 CPU-s per animal-second) or gammatone (the fast earlier one, 0.09) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--ihc-dominant",
        type=ranged(int, ranges.ANIMAL_COUNT),
        default=0,
        metavar="N",
        help="N of the HI animals (a seeded draw), 0-1000 and at most --n-hi, get IHC-dominant losses: OHC share of "
        "the threshold shift 0.1-0.3 instead of 0.7-0.95 (default: %(default)s)",
    )
    parser.add_argument(
        "--bez-species",
        default=None,
        choices=("cat", "human_shera", "human_glasberg_moore"),
        help="BEZ2018 cochlea (only with --periphery bez2018; default: cat)",
    )
    parser.add_argument(
        "--bez-sample-rate",
        type=ranged(int, ranges.BEZ_SAMPLE_RATES_HZ),
        default=None,
        help="BEZ2018 model sampling rate, Hz: 100000, 200000 or 500000 (only with --periphery bez2018; default: "
        "100000)",
    )
    parser.add_argument(
        "--workers",
        type=ranged(int, ranges.PROCESSES),
        default=1,
        help="processes simulating sounds, 1-256; the cohort is the same for any number (default: %(default)s)",
    )


def _check(args: argparse.Namespace) -> None:
    """The checks that tie options together (each option's own range is checked while the command line is parsed)."""
    if args.n_nh + args.n_hi < 1:
        raise HearloopInputError(f"--n-nh and --n-hi must give at least one animal, got {args.n_nh}, {args.n_hi}")
    for flag, *_ in RANGE_OPTIONS:
        low, high = getattr(args, flag[2:].replace("-", "_"))
        if not low <= high:
            raise HearloopInputError(f"{flag} must be LOW HIGH with LOW <= HIGH, got {low:g} {high:g}")
    if args.ihc_dominant > args.n_hi:
        raise HearloopInputError(f"--ihc-dominant must lie in 0..--n-hi ({args.n_hi}), got {args.ihc_dominant}")
    if args.periphery != "bez2018" and (args.bez_species is not None or args.bez_sample_rate is not None):
        raise HearloopInputError("--bez-species and --bez-sample-rate only apply with --periphery bez2018")


def _write(out: str, animals: list, metadata: dict):
    """Write through the cohort file format of :mod:`simulator.data.recordings` (HDF5 + JSON metadata)."""
    from simulator.data.recordings import write_cohort

    return write_cohort(out, animals, metadata)


def _config(args: argparse.Namespace) -> dict:
    """The :func:`~simulator.virtual_ic.cohort.generate_cohort` arguments that change numbers, from the options."""
    config = {
        "n_nh": args.n_nh,
        "n_hi": args.n_hi,
        "seed": args.seed,
        "n_channels": args.channels,
        "train_seconds": args.train_seconds,
        "sound_duration_s": args.sound_seconds,
        "n_test_per_class": args.test_per_class,
        "test_duration_s": args.test_seconds,
        "level_range_db_spl": tuple(args.level_range),
        "test_level_range_db_spl": tuple(args.test_level_range),
        "session_hours": args.session_hours,
        "hi_pta_range_db": tuple(args.hi_pta_range),
        "shuffle_channels": not args.no_shuffle,
        "periphery": args.periphery,
    }
    if args.flat_from is not None:  # recorded only when used, so older cohort descriptions stay as they were
        config["flat_from_pta_db"] = args.flat_from
    if args.tone_frequencies != "audiometric":  # likewise
        config["tone_frequencies"] = args.tone_frequencies
    if args.ihc_dominant:
        config["ihc_dominant"] = args.ihc_dominant
    options = {"species": args.bez_species, "sample_rate_hz": args.bez_sample_rate}
    if any(v is not None for v in options.values()):
        config["periphery_options"] = {k: v for k, v in options.items() if v is not None}
    return config


def run(args: argparse.Namespace) -> int:
    _check(args)
    from simulator.constants import SAMPLE_RATE
    from simulator.frequencies import ABR_FREQS_HZ
    from simulator.virtual_ic.cohort import cohort_metadata, generate_cohort
    from simulator.virtual_ic.partial_cohort import discard_partial, output_lock, partial_dir, verify_written

    config, partial = _config(args), partial_dir(args.out)
    with output_lock(args.out):  # one run per output: a second one fails here, before any work
        if args.restart and discard_partial(partial):
            print(f"discarded the partial run in {partial}")
        t0 = time.perf_counter()
        animals = generate_cohort(**config, progress=not args.quiet, workers=args.workers, checkpoint_dir=partial,
                                  checkpoint_seconds=args.checkpoint_seconds)  # fmt: skip
        elapsed = time.perf_counter() - t0
        path = _write(args.out, animals, cohort_metadata(animals, **config))
        verify_written(args.out, animals)  # only a cohort read back equal to the simulated one retires the partial run
        discard_partial(partial)

    head = f"{'animal':8s} {'status':6s} {'shape':8s} {'severity':>9s}  " + " ".join(f"{f:>6d}" for f in ABR_FREQS_HZ)
    print(head + "   (ABR thresholds, dB SPL)")
    for a in animals:
        gt = a.ground_truth or {}
        abr = " ".join(f"{a.abr_thresholds_db[f]:6.0f}" for f in ABR_FREQS_HZ)
        shape = gt.get("profile", {}).get("shape", "?")
        print(
            f"{a.animal_id:8s} {a.hearing_status:6s} {shape:8s} {gt.get('severity_db_hl', float('nan')):6.1f} dB  {abr}"
        )
    n_sounds = len(animals[0].sounds) if animals else 0
    seconds = sum(s.audio.size for s in animals[0].sounds) / SAMPLE_RATE if animals else 0.0
    print(
        f"{len(animals)} animals x {n_sounds} sounds ({seconds:.0f} s of sound each, {args.periphery} periphery) "
        f"generated in {elapsed:.1f} s with {args.workers} worker(s) -> {path}"
    )
    return 0
