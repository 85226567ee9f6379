"""Reintroduce each defect that issue 25's mutation sample found surviving, run the tests that target it, and record
which test fails; the source is never changed in place.

    nice -n 10 .venv/bin/python scripts/mutation_examples.py            # every example (about 10 min on 2 cores)
    nice -n 10 .venv/bin/python scripts/mutation_examples.py nalrp      # the examples whose name contains "nalrp"

The packages and tests are copied to ``runs/mutation/examples/tree``; each example replaces one exact piece of source
text there (it must occur exactly once), runs ``pytest -x`` on its test files, records the first failing test, and puts
the text back. The table goes to ``runs/mutation/examples/examples.md``. Exit 1 if any example passes its tests (the
defect would go unnoticed) or its source text is no longer found (the example must be updated).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "runs" / "mutation" / "examples"
COPY = ("simulator", "listeners", "compensation", "audiometry", "runners", "tests", "pyproject.toml")

T_NALR = "tests/compensation/test_nalr.py"
T_OBJ = "tests/compensation/test_objective.py"
T_MET = "tests/simulator/test_metrics.py"
T_LAP = "tests/audiometry/test_laplace.py"
T_BALD = "tests/audiometry/test_bald.py"
T_SPEC = "tests/runners/fleet/test_spec.py"
T_REC = tuple(
    f"tests/simulator/data/test_{name}.py"
    for name in ("recordings", "recordings_validation", "recordings_layout", "recording_types")
)
NOT = "if False:  # reintroduced: check deleted"

# (name, file, original text, reintroduced defect, test files)
EXAMPLES: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    ("fidelity_restored inverted", "compensation/objective.py",
     "return 1.0 - d_aided / d_unaided", "return 1.0 - d_unaided / d_aided", (T_OBJ,)),
    ("fleet evaluation: fidelity restored by hand, inverted", "runners/fleet/evaluation.py",
     "fr = fidelity_restored(d_aided, d_unaided)", "fr = 1.0 - d_unaided / d_aided",
     ("tests/runners/fleet/test_fleet.py",)),
    ("strategy evaluation: fidelity restored by hand, inverted", "compensation/strategy_evaluation.py",
     '"fr": fidelity_restored(d_aided, d_unaided),', '"fr": 1.0 - d_unaided / d_aided,',
     ("tests/compensation/test_strategy_evaluation.py",)),
    ("nalrp correction keyed on H1000", "compensation/nalr.py",
     "nalrp_profound_correction(by_freq[2000])", "nalrp_profound_correction(by_freq[1000])", (T_NALR,)),
    ("nalrp table row 95 dB HL changed", "compensation/nalr.py",
     "(4, 3, 0, -1, -2, -2, -2, -2),", "(5, 3, 0, -1, -2, -2, -2, -2),", (T_NALR,)),
    ("nalrp table row 110 dB HL changed", "compensation/nalr.py",
     "(11, 7, 0, -3, -6, -6, -6, -6),", "(11, 7, 0, -3, -6, -6, -7, -6),", (T_NALR,)),
    ("nalrp boundary 95 dB HL: >= to > (auto variant)", "compensation/nalr.py",
     "h2000 >= NALRP_H2000_DB[0]", "h2000 > NALRP_H2000_DB[0]", (T_NALR,)),
    ("nalrp boundary 95 dB HL: >= to > (correction)", "compensation/nalr.py",
     "if h2000_db_hl < NALRP_H2000_DB[0]:", "if h2000_db_hl <= NALRP_H2000_DB[0]:", (T_NALR,)),
    ("feve not renormalised over usable channels", "simulator/metrics.py",
     "np.sum(w[use] * per_channel[use]) / np.sum(w[use])", "np.sum(w[use] * per_channel[use])", (T_MET,)),
    ("kl histograms of 3-D recordings mix trials and channels", "simulator/metrics.py",
     "xi = np.moveaxis(xi, 0, 1).reshape(xi.shape[1], -1)", "xi = xi.reshape(xi.shape[1], -1)", (T_MET,)),
    ("laplace W not clipped at the mode", "audiometry/laplace.py",
     "_factor(kernel, np.maximum(w_raw, 0.0))", "_factor(kernel, np.abs(w_raw))", (T_LAP,)),
    ("laplace W not clipped in the Newton steps", "audiometry/laplace.py",
     "w = np.maximum(-d2, 0.0)", "w = np.abs(d2)", (T_LAP,)),
    ("laplace d3 not masked", "audiometry/laplace.py",
     "d3=np.where(w_raw > 0.0, d3, 0.0),", "d3=d3,", (T_LAP,)),
    ("laplace Psi may decrease (no backtracking)", "audiometry/laplace.py",
     "if psi_try >= psi - 1e-12 or step < 1e-6:", "if True:", (T_LAP,)),
    ("laplace Psi may decrease (decreasing step accepted)", "audiometry/laplace.py",
     "if psi_try < psi - 1e-12:  # no improving step", "if False:  # no improving step", (T_LAP,)),
    ("laplace jitter fallback never runs", "audiometry/laplace.py",
     "for k in range(max_tries):", "for k in range(0):", (T_LAP,)),
    ("bald closed-form variance wrong (Houlsby marginal)", "audiometry/bald.py",
     "h_marg = binary_entropy(ndtr(diff / np.sqrt(sigma2 + var)))",
     "h_marg = binary_entropy(ndtr(diff / np.sqrt(sigma2 + 2 * var)))", (T_BALD,)),
    ("bald closed-form variance wrong (quadrature smooth step)", "audiometry/bald.py",
     "ndtr((level - mean) / np.sqrt(sigma**2 + var))", "ndtr((level - mean) / np.sqrt(sigma**2))", (T_BALD,)),
    ("bald Gauss-Hermite nodes not scaled by sqrt(2)", "audiometry/bald.py",
     "np.sqrt(2.0) * sd[i, None] * x[None, :]", "sd[i, None] * x[None, :]", (T_BALD,)),
    ("bald full mode returns the first level column", "audiometry/bald.py",
     "float(levels[idx, best_level_idx[idx]])", "float(levels[idx, 0])", (T_BALD,)),
    ("spec: duplicate pipeline steps accepted", "runners/fleet/spec.py",
     "if len(set(steps)) != len(steps):", NOT, (T_SPEC,)),
    ("spec: hitl/evaluation without prescription accepted", "runners/fleet/spec.py",
     'if step in steps and "prescription" not in steps:', NOT, (T_SPEC,)),
    ("spec: lapse_rate outside [0, 1] accepted", "runners/fleet/spec_checks.py",
     'RESPONSE_RATE = Interval(float, 0.0, 0.5, closed="left")', "RESPONSE_RATE = Interval(float, None, None)",
     (T_SPEC,)),
    ("spec: true accepted as an int", "runners/fleet/toml_fields.py",
     "if isinstance(value, bool) != (hint is bool) or not isinstance(value, hint):",
     "if not isinstance(value, hint):", (T_SPEC,)),
    ("spec: HITL with dnn accepted", "runners/fleet/spec.py",
     "Options(KNOWN_STRATEGIES[:3])", "Options(KNOWN_STRATEGIES)", (T_SPEC,)),
    ("recordings: bad hearing_status read", "simulator/data/recordings.py",
     "if self.hearing_status not in HEARING_STATUSES:", NOT, T_REC),
    ("recordings: bad split read", "simulator/data/recordings.py",
     'if split not in ("train", "test"):', NOT, T_REC),
    ("recordings: duplicate sound names read", "simulator/data/recordings.py",
     "if info.name in self._info:", NOT, T_REC),
    ("recordings: dataset shape unchecked", "simulator/data/recordings.py",
     "if (ndim is not None and d.ndim != ndim) or (shape is not None and d.shape != shape):", NOT, T_REC),
    ("recordings: counts above 4 on read", "simulator/data/recordings.py",
     "if c.size and int(c.max()) > MAX_COUNT:", NOT, T_REC),
    ("recordings: non-finite audio on read", "simulator/data/recordings.py",
     "if not np.isfinite(x).all():", NOT, T_REC),
    ("recordings: cohort sample rate unchecked", "simulator/data/recordings.py",
     "if not numeric or not np.isclose(rate, SAMPLE_RATE, rtol=0, atol=1e-6):", NOT, T_REC),
    ("recordings: id/channel mismatch in CohortIndex.open", "simulator/data/recordings.py",
     'if f.animal_id != self.entry(animal)["animal_id"] or f.n_channels != self.n_channels:', NOT, T_REC),
    ("objective: NaN audio accepted", "compensation/objective.py",
     "if not bool(torch.isfinite(aided.detach()).all()):", NOT, (T_OBJ,)),
    ("objective: nu batch size unchecked", "compensation/objective.py",
     "if nu_t.shape[0] not in (1, aided.shape[0]):", NOT, (T_OBJ,)),
    ("objective: target shape unchecked", "compensation/objective.py",
     "if target.shape[1:] != pred.shape[1:] or target.shape[0] not in (1, pred.shape[0]):", NOT, (T_OBJ,)),
    ("metrics: negative weights accepted", "simulator/metrics.py",
     "if (w < 0).any() or not w.sum() > 0:", "if not w.sum() > 0:", (T_MET,)),
    ("metrics: counts outside 0..4 accepted", "simulator/metrics.py",
     "or x.min() < 0 or x.max() > MAX_COUNT:", ":", (T_MET,)),
    ("metrics: a single time bin accepted", "simulator/metrics.py",
     "if a.shape[0] < 1 or a.shape[1] < 2:", "if a.shape[0] < 1 or a.shape[1] < 1:", (T_MET,)),
]  # fmt: skip


def run_example(tree: Path, name: str, rel: str, old: str, new: str, tests: tuple[str, ...]) -> dict:
    path = tree / rel
    original = path.read_text()
    if original.count(old) != 1:
        return {"name": name, "file": rel, "outcome": f"SOURCE TEXT FOUND {original.count(old)} TIMES", "test": ""}
    path.write_text(original.replace(old, new))
    try:
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-rf", "-p", "no:cacheprovider", *tests]
        proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=False)
    finally:
        path.write_text(original)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.M)
    if proc.returncode == 1 and failed:
        outcome = "caught"
    elif proc.returncode == 0:
        outcome = "NOT CAUGHT (tests pass)"
    else:
        outcome = f"pytest exit {proc.returncode}"
    return {"name": name, "file": rel, "outcome": outcome, "test": failed[0] if failed else proc.stdout[-300:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("select", nargs="?", default="", help="run only examples whose name contains this")
    args = parser.parse_args(argv)
    chosen = [e for e in EXAMPLES if args.select in e[0]]
    tree = WORK / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    for item in COPY:
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, tree / item)
    rows = ["| reintroduced defect | file | outcome | first failing test |", "| --- | --- | --- | --- |"]
    bad = 0
    for name, rel, old, new, tests in chosen:
        result = run_example(tree, name, rel, old, new, tests)
        bad += result["outcome"] != "caught"
        rows.append(f"| {name} | `{rel}` | {result['outcome']} | `{result['test']}` |")
        print(rows[-1], flush=True)
    (WORK / "examples.md").write_text("\n".join(rows) + "\n")
    print(f"{len(chosen) - bad}/{len(chosen)} reintroduced defects caught; table in {WORK / 'examples.md'}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
