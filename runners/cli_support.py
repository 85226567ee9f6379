"""Command-line helpers shared by the ``hearloop`` commands: :func:`add_command` (how every command registers), the
``--strata`` option, the engine options of ``fleet`` and ``regress``, the listener cohort of strategy work (listeners
turned into compensation's listener specs), and the stale-compensator warning.

Commands import this module, never one another; what is not about the command line lives in its layer
(:func:`simulator.model.animals.nh_reference_nu`, :func:`compensation.dnn_checkpoint.nuicnet_provenance`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from runners.cli_ranges import LISTENER_COUNT, SEED
from simulator.errors import HearloopInputError
from simulator.severity import STRATA
from simulator.validated_config import Interval, Options, Pair


def parse_strata(text: str | None) -> dict[str, int] | None:
    """``--strata "NH=2,mild=2,moderate=4"`` -> ``{"NH": 2, "mild": 2, "moderate": 4}``; empty or None -> None.

    Raises:
        HearloopInputError: an item that is not ``NAME=COUNT`` with NAME one of the severity strata, or counts that do
            not total 1-10000 listeners (``--n-listeners``' range).
    """
    if not text:
        return None
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if name.strip() not in STRATA or not count.strip().isdigit():
            raise HearloopInputError(f"--strata expects NAME=COUNT with NAME in {', '.join(STRATA)}; got {part!r}")
        out[name.strip()] = int(count)
    if not out:
        raise HearloopInputError("--strata is empty")
    if sum(out.values()) not in LISTENER_COUNT:
        raise HearloopInputError(f"--strata must total {range_text(LISTENER_COUNT)} listeners, got {sum(out.values())}")
    return out


def add_listener_arguments(
    parser: argparse.ArgumentParser, *, animals: str, n_listeners: str, strata: str, cohort_seed: str
) -> None:
    """The options :func:`listener_choice` resolves: ``--listeners-from``, ``--n-listeners``, ``--strata``,
    ``--cohort-seed`` (each defaults to None, so that a given one is known); the arguments are their help texts, which
    state the command's defaults (``animals``: what ``--listeners-from animals`` takes)."""
    parser.add_argument(
        "--listeners-from",
        choices=("cohort", "animals"),
        default="cohort",
        help=f"cohort: listeners sampled from the model's nu population; animals: {animals} (default: %(default)s)",
    )
    parser.add_argument("--n-listeners", type=ranged(int, LISTENER_COUNT), default=None, help=n_listeners)
    parser.add_argument("--strata", default=None, help=strata)
    parser.add_argument("--cohort-seed", type=ranged(int, SEED), default=None, help=cohort_seed)


def listener_choice(
    args: argparse.Namespace, *, default_n: int, default_seed: int, default_strata: str | None = None
) -> tuple[str, dict[str, int] | None, int, int]:
    """Resolve ``--listeners-from``, ``--n-listeners``, ``--strata``, ``--cohort-seed`` (and ``--cohort-file`` where a
    command has it) into ``(source, strata, n, seed)``; the options default to None so that a given one is known.

    Without ``--n-listeners`` and ``--strata`` the cohort is ``default_strata`` (or ``default_n`` listeners drawn
    without strata when that is None); ``--n-listeners`` alone draws that many without strata.

    Raises:
        HearloopInputError: a combination in which an option would be ignored (both ``--n-listeners`` and
            ``--strata``; cohort options with ``--listeners-from animals`` or with ``--cohort-file``).
    """
    cohort_file = getattr(args, "cohort_file", None)
    given = [
        flag
        for flag, value in (
            ("--n-listeners", args.n_listeners),
            ("--strata", args.strata),
            ("--cohort-seed", args.cohort_seed),
        )
        if value is not None
    ]
    if args.listeners_from == "animals":
        given += ["--cohort-file"] if cohort_file else []
        if given:
            raise HearloopInputError(
                f"--listeners-from animals takes the model's training animals; {', '.join(given)} "
                "only apply to a sampled cohort"
            )
        return "animals", None, 0, 0
    if cohort_file and given:
        raise HearloopInputError(f"--cohort-file loads a saved cohort; {', '.join(given)} only apply to a sampled one")
    if args.n_listeners is not None and args.strata is not None:
        raise HearloopInputError("give --n-listeners (drawn without strata) or --strata (per class), not both")
    if args.n_listeners is not None and args.n_listeners < 1:
        raise HearloopInputError(f"--n-listeners must be >= 1, got {args.n_listeners}")
    strata = parse_strata(args.strata if args.strata is not None else None if args.n_listeners else default_strata)
    n = sum(strata.values()) if strata else args.n_listeners or default_n
    return "cohort", strata, n, default_seed if args.cohort_seed is None else args.cohort_seed


def build_listeners(
    model,
    *,
    source: str,
    n: int,
    seed: int,
    strata: dict[str, int] | None,
    cohort_file: str | None,
    fallback: bool = False,
    animal_statuses: tuple[str, ...] = ("HI",),
    progress: bool = False,
):
    """Listener specs (nu + audiogram + stratum) from the listeners package, a cohort file, or the training animals
    (those of ``animal_statuses``).

    With ``fallback`` a cohort whose strata the model's nu population cannot fill is drawn without strata instead
    (with a warning on stderr); the table still reports every listener under its measured stratum. ``progress``:
    tqdm bars while listeners are drawn and their audiograms measured.
    """
    from compensation.population import animal_listener_specs, as_listener_spec

    if source == "animals":
        return animal_listener_specs(model, statuses=animal_statuses)
    import listeners as lis_pkg

    if cohort_file:
        cohort = lis_pkg.load_cohort(cohort_file, model=model)
    elif strata is None:
        cohort = lis_pkg.sample_cohort(n, seed=seed, model=model)
    else:
        try:
            cohort = lis_pkg.sample_cohort(
                sum(strata.values()), seed=seed, model=model, strata=strata, progress=progress
            )
        except HearloopInputError as err:  # the model's nu population does not span these strata
            if not fallback:
                raise
            total = sum(strata.values())
            print(f"warning: {err}; falling back to {total} listeners drawn without strata", file=sys.stderr)
            cohort = lis_pkg.sample_cohort(total, seed=seed, model=model)
    references = {id(lis.reference): lis.reference for lis in cohort if lis.reference is not None}
    lis_pkg.prime_thresholds([*cohort, *references.values()], lis_pkg.AUDIOGRAM_FREQS_HZ, progress=progress)
    specs = [as_listener_spec(lis) for lis in cohort]
    for spec, lis in zip(specs, cohort, strict=True):
        spec.stratum = lis_pkg.listener_stratum(lis)
    return specs


def warn_if_stale(dnn, model_path, model) -> None:
    """Warn (stderr) when the DNN compensator was trained through a different nu-ICNet than the one evaluated."""
    from compensation.dnn_checkpoint import stale_message

    message = stale_message(dnn, model_path, model)
    if message:
        print(f"warning: {message}", file=sys.stderr)


def ranged(kind: type, constraint: Any, what: str = "") -> Callable[[str], Any]:
    """An argparse ``type=`` that reads the text as ``kind`` and checks it against ``constraint`` (a
    :mod:`simulator.validated_config` constraint, e.g. ``Interval(int, 1, 256)``) while the command line is parsed, so
    a bad value is an error naming the option (exit 2) before anything runs or is written
    (``argument --workers: must be an integer in [1, 256], got 0``); ``what`` is appended to the message. The
    returned function keeps ``constraint`` (:func:`option_constraint`), whose :func:`range_text` the help states."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if value not in constraint:
            raise argparse.ArgumentTypeError(f"must be {constraint}{what}, got {text}")
        return value

    parse.__name__ = kind.__name__
    parse.constraint = constraint  # type: ignore[attr-defined]
    return parse


def ranged_pair(constraint: Any, separator: str = ",") -> Callable[[str], tuple[float, float]]:
    """An argparse ``type=`` for ``LOW,HIGH`` in one word (``--levels 50,80``): two numbers, each in ``constraint``'s
    ``item`` (a :class:`~simulator.validated_config.Pair`), LOW <= HIGH, checked while the command line is parsed."""

    def parse(text: str) -> tuple[float, float]:
        try:
            low, high = (float(v) for v in text.split(separator))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected LOW{separator}HIGH, got {text!r}") from None
        if (low, high) not in constraint:
            raise argparse.ArgumentTypeError(f"must be {constraint}, got {text}")
        return low, high

    parse.__name__ = "pair"
    parse.constraint = constraint  # type: ignore[attr-defined]
    return parse


def spec_option(section: str, key: str, kind: type) -> Callable[[str], Any]:
    """An argparse ``type=`` for an option that overrides the spec key ``[section] key``: :func:`ranged` with that key's
    documented range (``argument --workers: must be an integer in [0, 1024] (as spec.engine.workers), got -3``); the
    spec module is imported only when the option is given (or :func:`option_constraint` asks)."""

    def parse(text: str) -> Any:
        return ranged(kind, _spec_constraint(section, key), f" (as spec.{section}.{key})")(text)

    parse.__name__ = kind.__name__
    parse.spec_key = (section, key)  # type: ignore[attr-defined]
    return parse


def _spec_constraint(section: str, key: str) -> Any:
    from runners.fleet.spec import key_constraint

    return key_constraint(section, key)


def option_constraint(parse: Any) -> Any:
    """The constraint an argparse ``type=`` made by :func:`ranged`, :func:`ranged_pair` or :func:`spec_option` checks;
    None for any other type (``int``, ``float``, ``Path``, ...)."""
    if hasattr(parse, "spec_key"):
        return _spec_constraint(*parse.spec_key)
    return getattr(parse, "constraint", None)


def range_text(constraint: Any) -> str:
    """How an option's help states its range: ``1-256``, ``-10 to 120``, ``>= 0``, ``> 0``, ``(0, 50]``,
    ``100000, 200000 or 500000``, ``LOW <= HIGH, each 0-120`` (a :class:`~simulator.validated_config.Pair`), or
    ``str(constraint)`` for any other constraint."""
    if isinstance(constraint, Interval):
        number = (lambda v: f"{int(v)}") if constraint.kind is int else (lambda v: f"{v:g}")
        left_closed = constraint.closed in ("both", "left")
        right_closed = constraint.closed in ("both", "right")
        if constraint.right is None:
            return f"{'>=' if left_closed else '>'} {number(constraint.left)}"
        if constraint.left is None:
            return f"{'<=' if right_closed else '<'} {number(constraint.right)}"
        if left_closed and right_closed:
            joint = "-" if constraint.left >= 0 else " to "
            return f"{number(constraint.left)}{joint}{number(constraint.right)}"
        return (
            f"{'[' if left_closed else '('}{number(constraint.left)}, {number(constraint.right)}"
            f"{']' if right_closed else ')'}"
        )
    if isinstance(constraint, Options):
        *head, last = (str(v) for v in constraint.values)
        return f"{', '.join(head)} or {last}" if head else last
    if isinstance(constraint, Pair):
        return f"LOW {'<' if constraint.strict else '<='} HIGH, each {range_text(constraint.item)}"
    return str(constraint)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Engine overrides shared by ``fleet`` and ``regress`` (they win over the spec's [engine] section); each value is
    checked against its spec key's range as the command line is parsed."""
    g = parser.add_argument_group("engine (overrides the spec's [engine] section)")
    g.add_argument(
        "--engine",
        choices=("local", "ray"),
        default=None,
        help="local (process pool) or ray (default: the spec's engine.kind, ray when --address is given)",
    )
    g.add_argument(
        "--workers",
        type=spec_option("engine", "workers", int),
        default=None,
        help="local: worker processes (0 = in-process); ray: actors; 0-1024 (default: the spec's engine.workers)",
    )
    g.add_argument(
        "--address",
        default=None,
        help="ray: cluster address to join, e.g. auto (default: the spec's; none starts a local cluster)",
    )
    g.add_argument(
        "--num-cpus",
        type=spec_option("engine", "num_cpus", float),
        default=None,
        help="ray: CPUs per actor, 0-1024 (default: the spec's)",
    )
    g.add_argument(
        "--num-gpus",
        type=spec_option("engine", "num_gpus", float),
        default=None,
        help="ray: GPUs per actor, 0-64; > 0 puts the model on the GPU (default: the spec's)",
    )
    g.add_argument(
        "--retries",
        type=spec_option("engine", "retries", int),
        default=None,
        help="retries of a failed job before it is reported, 0-100 (default: the spec's engine.retries)",
    )
    g.add_argument(
        "--timeout",
        type=spec_option("engine", "timeout_s", float),
        default=None,
        metavar="SECONDS",
        help="longest wait for a worker to start or a job to finish before the run stops with a named error, s, > 0 "
        "(default: the spec's engine.timeout_s)",
    )


def engine_overrides(args: argparse.Namespace, spec_kind: str) -> dict:
    """The engine options given on the command line (None where the spec's value stands), keyed as the spec's
    [engine] keys.

    Raises:
        HearloopInputError: a Ray-only option (``--address``, ``--num-cpus``, ``--num-gpus``) for a local engine.
    """
    kind = args.engine or ("ray" if args.address else None)
    ray_only = [
        flag
        for flag, value in (("--address", args.address), ("--num-cpus", args.num_cpus), ("--num-gpus", args.num_gpus))
        if value is not None
    ]
    if ray_only and (kind or spec_kind) == "local":
        raise HearloopInputError(f"{', '.join(ray_only)} apply to the ray engine only; add --engine ray")
    return {
        "kind": kind,
        "workers": args.workers,
        "address": args.address,
        "num_cpus": args.num_cpus,
        "num_gpus": args.num_gpus,
        "retries": args.retries,
        "timeout_s": args.timeout,
    }


def override_engine(spec: Any, args: argparse.Namespace) -> None:
    """Put the engine options given on the command line into ``spec.engine`` (the run's engine and retries).

    Raises:
        HearloopInputError: see :func:`engine_overrides`.
    """
    given = {key: value for key, value in engine_overrides(args, spec.engine.kind).items() if value is not None}
    spec.engine = dataclasses.replace(spec.engine, **given)


def add_command(
    subparsers: argparse._SubParsersAction, name: str, handler: Callable[[argparse.Namespace], int] | None, text: str
) -> argparse.ArgumentParser:
    """Add the (sub)command ``name``: ``text``'s first paragraph is its one-line help, the rest its description
    (whitespace is normalised; argparse reflows it); ``handler(args)`` runs it (None for a command with subcommands)."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    parser = subparsers.add_parser(name, help=paragraphs[0], description=" ".join(paragraphs[1:]) or None)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser
