"""Helpers shared by several ``hearloop`` commands: listener cohorts for strategy work, strata, the NH reference and
which nu-ICNet a compensator was trained through.

Commands import this module, never one another.
"""

from __future__ import annotations

import sys

from simulator.errors import HearloopInputError


def parse_strata(text: str) -> dict[str, int]:
    """``"NH=2,mild=2,moderate=4"`` -> ``{"NH": 2, "mild": 2, "moderate": 4}``."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        if not count.strip().isdigit():
            raise HearloopInputError(f"--strata entries must look like name=count, got {part!r}")
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
    from simulator.errors import HearloopInputError

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
    trained = ((getattr(dnn, "metadata", None) or {}).get("nuicnet") or {}).get("weights_sha256")
    current = model_fingerprint(model_path, model)["weights_sha256"]
    if trained and trained != current:
        print(
            f"warning: the DNN compensator was trained through nu-ICNet {trained[:12]}, not the evaluated "
            f"{current[:12]}; retrain it (hearloop compensate train) for meaningful numbers",
            file=sys.stderr,
        )


def model_fingerprint(model_path, model) -> dict:
    """Which nu-ICNet a compensator was trained through: checkpoint path, weights SHA-256, provisional flag."""
    from pathlib import Path

    from simulator.model.checkpoint import BUNDLED_MODEL_DIR, read_config

    directory = BUNDLED_MODEL_DIR if model_path is None else Path(model_path)
    directory = directory.parent if directory.is_file() else directory
    _, _, digest = read_config(directory)
    meta = getattr(model, "metadata", None) or {}
    provisional = bool(meta.get("provisional"))
    return {"path": str(model_path or "bundled"), "weights_sha256": digest, "provisional": provisional}
