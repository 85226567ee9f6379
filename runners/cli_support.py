"""Command-line helpers shared by the ``hearloop`` commands: :func:`add_command` (how every command registers), the
``--strata`` option, the engine options of ``fleet`` and ``regress``, the listener cohort of strategy work (listeners
turned into compensation's listener specs), and the stale-compensator warning.

Commands import this module, never one another; what is not about the command line lives in its layer
(:func:`simulator.model.animals.nh_reference_nu`, :func:`compensation.dnn_checkpoint.nuicnet_provenance`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from simulator.errors import HearloopInputError
from simulator.severity import STRATA


def parse_strata(text: str | None) -> dict[str, int] | None:
    """``--strata "NH=2,mild=2,moderate=4"`` -> ``{"NH": 2, "mild": 2, "moderate": 4}``; empty or None -> None.

    Raises:
        HearloopInputError: an item that is not ``NAME=COUNT`` with NAME one of the severity strata.
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
    return out


def build_listeners(
    model,
    *,
    source: str,
    n: int,
    seed: int,
    strata: dict[str, int] | None,
    cohort_file: str | None,
    fallback: bool = False,
):
    """Listener specs (nu + audiogram + stratum) from the listeners package, a cohort file, or the training animals.

    With ``fallback`` a cohort whose strata the model's nu population cannot fill is drawn without strata instead
    (with a warning on stderr); the table still reports every listener under its measured stratum.
    """
    from compensation.population import animal_listener_specs, as_listener_spec

    if source == "animals":
        return animal_listener_specs(model, statuses=("HI",) if strata is None else ("NH", "HI"))
    import listeners as lis_pkg

    if cohort_file:
        cohort = lis_pkg.load_cohort(cohort_file, model=model)
    elif strata is None:
        cohort = lis_pkg.sample_cohort(n, seed=seed, model=model)
    else:
        try:
            cohort = lis_pkg.sample_cohort(sum(strata.values()), seed=seed, model=model, strata=strata)
        except HearloopInputError as err:  # the model's nu population does not span these strata
            if not fallback:
                raise
            total = sum(strata.values())
            print(f"warning: {err}; falling back to {total} listeners drawn without strata", file=sys.stderr)
            cohort = lis_pkg.sample_cohort(total, seed=seed, model=model)
    references = {id(lis.reference): lis.reference for lis in cohort if lis.reference is not None}
    lis_pkg.prime_thresholds([*cohort, *references.values()], lis_pkg.AUDIOGRAM_FREQS_HZ)  # one batched bisection
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


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Engine overrides shared by ``fleet`` and ``regress`` (they win over the spec's [engine] section)."""
    g = parser.add_argument_group("engine (overrides the spec's [engine] section)")
    g.add_argument("--engine", choices=("local", "ray"), default=None, help="local (default) or ray")
    g.add_argument("--workers", type=int, default=None, help="local: processes (0 = in-process); ray: actors")
    g.add_argument("--address", default=None, help="ray: cluster address to join (default: start a local cluster)")
    g.add_argument("--num-cpus", type=float, default=None, help="ray: CPUs per actor")
    g.add_argument("--num-gpus", type=float, default=None, help="ray: GPUs per actor (the model goes to the GPU)")
    g.add_argument("--retries", type=int, default=None, help="retries of a failed job before it is reported")


def engine_overrides(args: argparse.Namespace) -> dict:
    kind = args.engine or ("ray" if args.address else None)
    return {"kind": kind, "workers": args.workers, "address": args.address, "num_cpus": args.num_cpus,
            "num_gpus": args.num_gpus}  # fmt: skip


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
