"""Does an NH listener gain from turning the volume up? Benefit of broadband gain for listeners with normal audiograms.

The fleet's NH check asks that no strategy moves an NH listener's response (benefit (D(unaided) - D(aided)) / D_0,
:mod:`compensation.benefit`) by more than 0.05. This measures where a gain does, with the fleet's own objective (L1,
the NH reference's response to the clean sound as target) on the default fleet's evaluation sounds (speech and speech
in noise at 65 dB SPL): for each listener, its unaided distance D(unaided) / D_0 and the largest benefit of a
broadband gain of 0-30 dB (5 dB steps, no comfort limit), for

* the bundled model's training animals at their learned nu (the 3 NH animals define the NH reference);
* the default fleet cohort (``listeners.sample_cohort(8, seed=0)``);
* listeners drawn from four densities over logit nu (one seed-0 generator, in this order): ``--nh-draws`` from the
  Gaussian fitted to the NH animals alone, ``--draws`` from the HI animals' alone, ``--draws`` from one Gaussian over
  all training animals (:class:`listeners.NuDensity`; the population cohorts were drawn from before the mixture) and
  ``--draws`` from the mixture of one Gaussian per hearing-status group (:class:`listeners.NuMixture`; the population
  cohorts are drawn from now). Every drawn listener with a normal audiogram (:func:`listeners.severity_stratum` "NH")
  is listed, with its class by audiogram and response (:func:`listeners.listener_stratum`: "NH", or "slight" when its
  unaided response lies beyond the NH animals').

Prints one line per animal and cohort listener and, per density, its normal-audiogram listeners' unaided distances,
largest benefits and classes; writes ``results.json`` to ``--out``.

    .venv/bin/python benchmarks/bench_nh_gain.py [--nh-draws 16] [--draws 32] [--out runs/nh-gain-bench]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

GAINS_DB = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)


class GainProbe:
    """The fleet's objective on the default evaluation sounds; ``probe(nu)`` -> (D(unaided) / D_0, largest benefit)."""

    def __init__(self, model) -> None:
        from compensation.benefit import response_scale
        from compensation.objective import NeuralFidelityObjective
        from listeners import nh_reference
        from runners.fleet.pipeline import make_sounds
        from runners.fleet.spec import load_spec

        self.reference = nh_reference(model)
        self.clean, _ = make_sounds(load_spec())
        self.objective = NeuralFidelityObjective(model, self.reference.nu, distance="l1")
        self.target = self.objective.target(self.clean)
        self.scale = response_scale(self.objective, self.clean, self.target).double()

    @torch.no_grad()
    def __call__(self, nu: np.ndarray) -> tuple[float, float, float]:
        """Mean over sounds of D(unaided) / D_0, the largest mean benefit over :data:`GAINS_DB` and its gain (dB)."""
        nu_t = torch.as_tensor(np.asarray(nu), dtype=torch.float32).unsqueeze(0)
        d = torch.stack([self.objective(self.clean, self.clean * 10 ** (g / 20), nu_t, target=self.target).double()
                         for g in GAINS_DB])  # fmt: skip
        benefit = ((d[0] - d) / self.scale).mean(-1)
        k = int(torch.argmax(benefit))
        return float((d[0] / self.scale).mean()), float(benefit[k]), GAINS_DB[k]


def _density_draws(model, probe: GainProbe, nh_draws: int, draws: int) -> dict[str, list[dict]]:
    """The normal-audiogram listeners drawn from each density (module docstring): ``{density: [record]}``."""
    from listeners import (
        NuDensity,
        NuMixture,
        VirtualListener,
        animal_nus,
        listener_stratum,
        nh_animal_indices,
        severity_stratum,
    )
    from listeners.listener import AUDIOGRAM_FREQS_HZ, prime_thresholds

    nus = animal_nus(model)
    nh = nh_animal_indices(model)
    hi = [k for k in range(len(nus)) if k not in nh]
    samplers = {"NH animals": (lambda n, rng: NuDensity(nus[nh]).sample(n, rng), nh_draws),
                "HI animals": (lambda n, rng: NuDensity(nus[hi]).sample(n, rng), draws),
                "all animals (pooled)": (lambda n, rng: NuDensity(nus).sample(n, rng), draws),
                "mixture": (lambda n, rng: NuMixture.from_model(model).sample(n, rng)[0], draws)}  # fmt: skip
    rng = np.random.default_rng(0)
    out = {}
    for name, (sample, n) in samplers.items():
        cands = [VirtualListener(f"D{i:03d}", v, model, reference=probe.reference)
                 for i, v in enumerate(sample(n, rng))]  # fmt: skip
        prime_thresholds([*cands, probe.reference], AUDIOGRAM_FREQS_HZ)
        rows = []
        for lis in cands:
            if severity_stratum(lis.pta(), lis.thresholds(AUDIOGRAM_FREQS_HZ)) == "NH":
                unaided, best, gain = probe(lis.nu)
                rows.append({"pta": lis.pta(), "unaided": unaided, "best_benefit": best, "gain_db": gain,
                             "stratum": listener_stratum(lis)})  # fmt: skip
        out[name] = rows
        print(
            f"{name}: {len(rows)} of {n} with NH audiograms, {sum(r['stratum'] == 'NH' for r in rows)} NH by "
            f"audiogram and response; unaided D/D_0 {[round(r['unaided'], 3) for r in rows]}; "
            f"largest benefit {[round(r['best_benefit'], 3) for r in rows]}; classes {[r['stratum'] for r in rows]}",
            flush=True,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nh-draws", type=int, default=16, help="listeners drawn from the NH animals' density (16)")
    ap.add_argument("--draws", type=int, default=32, help="listeners drawn from each other density (default 32)")
    ap.add_argument("--out", type=Path, default=Path("runs/nh-gain-bench"))
    args = ap.parse_args()
    if args.draws < 1 or args.nh_draws < 1:
        ap.error("--draws and --nh-draws must be >= 1")
    import simulator
    from listeners import animal_nus, listener_stratum, sample_cohort

    torch.set_num_threads(1)
    t0 = time.process_time()
    model = simulator.load_model()
    probe = GainProbe(model)
    results: dict = {"gains_db": list(GAINS_DB), "animals": [], "cohort": []}
    for k, a in enumerate(model.metadata["animals"]):
        unaided, best, gain = probe(animal_nus(model)[k])
        results["animals"].append({"id": a.get("id"), "status": a.get("status"), "unaided": unaided,
                                   "best_benefit": best, "gain_db": gain})  # fmt: skip
        print(f"animal {a.get('id')} ({a.get('status')}): unaided {unaided:.3f}, best {best:.3f} at {gain:+.0f} dB")
    for lis in sample_cohort(8, seed=0, model=model):
        unaided, best, gain = probe(lis.nu)
        stratum = listener_stratum(lis)
        results["cohort"].append({"id": lis.id, "stratum": stratum, "pta": lis.pta(), "nu": lis.nu.tolist(),
                                  "unaided": unaided, "best_benefit": best, "gain_db": gain})  # fmt: skip
        print(f"{lis.id} {stratum} (PTA {lis.pta():.1f}): unaided {unaided:.3f}, best {best:.3f} at {gain:+.0f} dB")
    results["densities"] = _density_draws(model, probe, args.nh_draws, args.draws)
    results["cpu_s"] = time.process_time() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"CPU {results['cpu_s']:.0f} s; results in {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
