"""Mutation testing of the core modules with mutmut, one module at a time against the tests that target it.

    nice -n 10 .venv/bin/python scripts/mutation.py nalr            # one module (names: --list)
    nice -n 10 .venv/bin/python scripts/mutation.py --all           # every module, one after the other
    nice -n 10 .venv/bin/python scripts/mutation.py --retest nalr   # after adding tests: re-run the survivors only
    nice -n 10 .venv/bin/python scripts/mutation.py --resume nalr   # a stopped run: finish it on the current code
    .venv/bin/python scripts/mutation.py --rescore nalr             # equivalent list edited: score the last run again
    .venv/bin/python scripts/mutation.py --table                    # the score table of the last runs
    .venv/bin/python scripts/mutation.py --details                  # survivors and equivalent mutants, with reasons

Each module of ``[tool.hearloop.mutation]`` in pyproject.toml names its source files, its test files and its
equivalent mutants (mutmut's mutant name -> why no test can tell it from the original). A run lays out a scratch copy
under ``runs/mutation/MODULE/`` (links to the packages and tests, and a pyproject.toml whose ``[tool.mutmut]`` is the
project's with the module's files and tests), runs ``mutmut run`` there, and writes ``summary.json`` and
``report.md`` (the score, every surviving mutant's diff, and every equivalent mutant with its reason).

Score = detected / (mutants - equivalent), detected = killed + timeout + caught by a crash. Every mutant mutmut reports
as timed out, surviving or "no tests" is run again alone (``recheck``: the module's test files with the mutant active,
under a CPU-time limit and no wall clock), and that run decides its status. ("no tests": mutmut maps tests to functions
only when it collects its stats, so a function that is new or changed in a resumed copy has no tests mapped and its
mutants are never run by mutmut; they are neither detected nor survivors until re-checked.)
A mutant listed as equivalent that is killed, or that no longer exists (its function changed), is reported as stale:
the list must be re-checked by hand, it is never trusted blindly. Needs ``pip install -e ".[mutation]"``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "runs" / "mutation"
PACKAGES = ("simulator", "listeners", "compensation", "audiometry", "runners")
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}
RECHECKED = ("timeout", "survived", "no tests")  # mutmut statuses that the re-check alone decides
VERIFY_CPU_S = 60  # CPU-time limit of a timed-out mutant's check; the targeted tests take 0.5-4 CPU s (+3 s imports)


def load_modules() -> tuple[dict, dict]:
    """``(project pyproject, {module: {"files", "tests", "equivalent"}})``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    modules = project["tool"]["hearloop"]["mutation"]
    for name, entry in modules.items():
        for key in ("files", "tests"):
            if not entry.get(key):
                raise SystemExit(f"[tool.hearloop.mutation.{name}] needs a non-empty '{key}' list")
            missing = [p for p in entry[key] if not (ROOT / p).exists()]
            if missing:
                raise SystemExit(f"[tool.hearloop.mutation.{name}].{key}: no such file {missing}")
        entry.setdefault("equivalent", {})
    return project, modules


def lay_out(name: str, entry: dict, project: dict) -> Path:
    """A fresh scratch directory for one module's run: links to the code and tests, its own pyproject.toml."""
    work = WORK / name
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for link in (*PACKAGES, "tests"):
        (work / link).symlink_to(ROOT / link, target_is_directory=True)
    write_scratch_config(work, entry, project)
    return work


def write_scratch_config(work: Path, entry: dict, project: dict) -> None:
    """``work/pyproject.toml``: the project's, its ``[tool.mutmut]`` with the module's files and tests only."""
    config = dict(project)
    tool = dict(config["tool"])
    tool.pop("hearloop", None)
    tool["mutmut"] = {
        **tool["mutmut"],
        "only_mutate": list(entry["files"]),
        "pytest_add_cli_args_test_selection": list(entry["tests"]),
    }
    config["tool"] = tool
    (work / "pyproject.toml").write_text(tomli_w.dumps(config))


def mutmut(work: Path, *args: str, log=None) -> str:
    """Run the mutmut CLI of this interpreter in ``work``; returns its stdout (or streams it to ``log``)."""
    cmd = [sys.executable, "-m", "mutmut", *args]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if log is not None:
        proc = subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"mutmut {' '.join(args)} failed in {work} (exit {proc.returncode}); see {log.name}")
        return ""
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed in {work}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def parse_results(text: str) -> dict[str, str]:
    """``mutmut results --all true`` lines ``    name: status`` -> ``{name: status}``."""
    out = {}
    for line in text.splitlines():
        if ": " in line and line.startswith("    "):
            key, status = line.strip().rsplit(": ", 1)
            out[key] = status
    return out


def recheck(work: Path, entry: dict, statuses: dict[str, str]) -> dict[str, str]:
    """Run every "timeout", "survived" and "no tests" mutant again, outside mutmut: its wall-clock timer fires when the
    shared machine pauses the run, its fork-server workers have reported mutants as surviving that fail the module's
    tests when run on their own, and it runs no test at all for a function its stats do not map (new or changed since
    the stats were collected, as in a resumed copy). Each runs the module's current test files alone with the mutant
    active, under a CPU-time limit of ``VERIFY_CPU_S`` and no wall clock: the limit stopping it makes it a timeout, a
    failing test makes it killed, passing tests make it survived, anything else suspicious (a survivor). Results are
    kept in ``rechecked.json`` (``--rescore`` applies them again)."""
    path = work / "rechecked.json"
    checked = json.loads(path.read_text()) if path.is_file() else {}
    shutil.copytree(ROOT / "tests", work / "mutants" / "tests", dirs_exist_ok=True)  # the current tests
    for package in PACKAGES:  # and the current code beside the mutated files (mutmut copies it only when it runs)
        for source in (ROOT / package).rglob("*.py"):
            relative = source.relative_to(ROOT)
            if relative.as_posix() not in entry["files"]:
                (work / "mutants" / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, work / "mutants" / relative)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}

    def limit_cpu() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (VERIFY_CPU_S, VERIFY_CPU_S + 1))

    suspect = sorted(k for k, status in statuses.items() if status in RECHECKED and k not in checked)
    for key in suspect:
        cmd = [sys.executable, "-m", "pytest", "--rootdir=.", "-x", "-q", "-p", "no:cacheprovider", *entry["tests"]]
        proc = subprocess.run(cmd, cwd=work / "mutants", env={**env, "MUTANT_UNDER_TEST": key}, preexec_fn=limit_cpu,
                              capture_output=True, text=True, check=False)  # fmt: skip
        checked[key] = {0: "survived", 1: "killed", 3: "killed"}.get(proc.returncode, "suspicious")
        if proc.returncode in (-24, -9):  # SIGXCPU, or SIGKILL one second later
            checked[key] = "timeout"
        print(f"[{work.name}] {statuses[key]} {key} re-checked alone: {checked[key]}", flush=True)
        path.write_text(json.dumps(checked, indent=2) + "\n")
    return {k: v for k, v in checked.items() if statuses.get(k) in RECHECKED}


def summarise(name: str, entry: dict, statuses: dict[str, str], work: Path, seconds: float) -> dict:
    equivalent = entry["equivalent"]
    stale = {k: "killed" for k in equivalent if statuses.get(k, "survived") in DETECTED}
    stale |= {k: "no such mutant" for k in equivalent if k not in statuses}
    counted = {k: s for k, s in statuses.items() if k not in equivalent}
    detected = sorted(k for k, s in counted.items() if s in DETECTED)
    survivors = sorted(k for k, s in counted.items() if s not in DETECTED)
    denominator = len(counted)
    return {
        "module": name,
        "files": entry["files"],
        "tests": entry["tests"],
        "mutants": len(statuses),
        "equivalent": len(equivalent) - len(stale),
        "detected": len(detected),
        "survived": len(survivors),
        "score": len(detected) / denominator if denominator else float("nan"),
        "survivors": {k: counted[k] for k in survivors},
        "stale_equivalent": stale,
        "seconds": round(seconds, 1),
        "mutmut": mutmut_version(),
    }


def mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def write_report(summary: dict, entry: dict, work: Path) -> None:
    lines = [
        f"# Mutation testing: {summary['module']}",
        "",
        f"Files: {', '.join(summary['files'])}; tests: {', '.join(summary['tests'])}; mutmut {summary['mutmut']}.",
        "",
        f"Score {summary['score']:.1%}: {summary['detected']} detected of {summary['mutants']} mutants less "
        f"{summary['equivalent']} equivalent; {summary['survived']} survived; {summary['seconds']:.0f} s.",
        "",
        "## Surviving mutants",
        "",
    ]
    for key, status in summary["survivors"].items():
        lines += [f"### {key} ({status})", "", "```diff", mutmut(work, "show", key).strip(), "```", ""]
    lines += ["## Equivalent mutants (excluded by name)", ""]
    for key, why in entry["equivalent"].items():
        mark = f" **STALE: {summary['stale_equivalent'][key]}**" if key in summary["stale_equivalent"] else ""
        lines += [f"### {key}{mark}", "", why, ""]
        if key not in summary["stale_equivalent"] or summary["stale_equivalent"][key] == "killed":
            lines += ["```diff", mutmut(work, "show", key).strip(), "```", ""]
    (work / "report.md").write_text("\n".join(lines))


def resume(name: str, entry: dict, project: dict, max_children: int) -> Path:
    """Finish a run that stopped (time box, paused machine) in its scratch copy, on the current code and tests.

    Always runs ``mutmut run`` (no mutant names): it copies the current code and tests into the copy, re-mutates every
    function whose source changed since the stopped run (fresh mutants, results reset) and runs every mutant without a
    result, keeping the others. The scratch ``pyproject.toml`` is written again from the project's (a changed test
    selection makes mutmut re-run everything). Re-checks already made are kept, except those of mutants whose function
    changed (the same name may now be another mutant)."""
    work = WORK / name
    if not (work / "mutants").is_dir():
        raise SystemExit(f"--resume needs a started run of {name} in {work}")
    write_scratch_config(work, entry, project)
    before = function_hashes(work, entry)
    statuses = parse_results(mutmut(work, "results", "--all", "true"))
    unchecked = [k for k, status in statuses.items() if status == "not checked"]
    print(f"[{name}] resuming {work}: {len(statuses)} mutants, {len(unchecked)} unchecked before re-mutating changes")
    with open(work / "run.log", "a") as log:
        mutmut(work, "run", "--max-children", str(max_children), log=log)
    after = function_hashes(work, entry)
    changed = {f for f in before.keys() | after.keys() if before.get(f) != after.get(f)}
    if changed:
        print(f"[{name}] re-mutated the changed functions {sorted(changed)}")
    rechecked = work / "rechecked.json"
    if changed and rechecked.is_file():
        kept = {
            k: v
            for k, v in json.loads(rechecked.read_text()).items()
            if not any(k.startswith(f"{f}__mutmut_") for f in changed)
        }
        rechecked.write_text(json.dumps(kept, indent=2) + "\n")
    return work


def function_hashes(work: Path, entry: dict) -> dict[str, str]:
    """``{module.function: source hash}`` of the mutated files, from mutmut's ``.meta`` files in ``work/mutants``."""
    out = {}
    for file in entry["files"]:
        meta = work / "mutants" / f"{file}.meta"
        if meta.is_file():
            module = file.removesuffix(".py").replace("/", ".")
            hashes = json.loads(meta.read_text()).get("hash_by_function_name", {})
            out |= {f"{module}.{function}": h for function, h in hashes.items()}
    return out


def run_module(
    name: str,
    entry: dict,
    project: dict,
    max_children: int,
    retest: bool = False,
    rescore: bool = False,
    resumed: bool = False,
) -> dict:
    """Mutate one module from a fresh scratch copy; ``retest``: re-run only the last run's survivors there (after
    tests were added; the module's source must not have changed since); ``rescore``: run nothing, score the last
    run's results again against the current equivalent list; ``resumed``: finish a stopped run (:func:`resume`)."""
    t0 = time.perf_counter()
    if resumed:
        work = resume(name, entry, project, max_children)
    elif rescore:
        work = WORK / name
        if not (work / "summary.json").is_file():
            raise SystemExit(f"--rescore needs a finished run of {name} in {work}")
        t0 -= json.loads((work / "summary.json").read_text())["seconds"]
    elif retest:
        work = WORK / name
        if not (work / "summary.json").is_file():
            raise SystemExit(f"--retest needs a finished run of {name} in {work}")
        last = json.loads((work / "summary.json").read_text())
        statuses = parse_results(mutmut(work, "results", "--all", "true"))
        unchecked = [k for k, status in statuses.items() if status == "not checked"]
        names = sorted({*last["survivors"], *entry["equivalent"], *unchecked})
        print(f"[{name}] re-testing {len(names)} surviving, equivalent or unchecked mutants ({work}/retest.log)")
        with open(work / "retest.log", "w") as log:
            mutmut(work, "run", "--max-children", str(max_children), *names, log=log)
        rechecked = work / "rechecked.json"  # the tests changed: re-checks of these mutants are out of date
        if rechecked.is_file():
            kept = {k: v for k, v in json.loads(rechecked.read_text()).items() if k not in names}
            rechecked.write_text(json.dumps(kept, indent=2) + "\n")
        t0 -= last["seconds"]
    else:
        work = lay_out(name, entry, project)
        files, tests = ", ".join(entry["files"]), ", ".join(entry["tests"])
        print(f"[{name}] mutating {files} against {tests} (log: {work}/run.log)")
        with open(work / "run.log", "w") as log:
            mutmut(work, "run", "--max-children", str(max_children), log=log)
    statuses = parse_results(mutmut(work, "results", "--all", "true"))
    statuses |= recheck(work, entry, statuses)
    summary = summarise(name, entry, statuses, work, time.perf_counter() - t0)
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_report(summary, entry, work)
    print(
        f"[{name}] score {summary['score']:.1%} ({summary['detected']}/{summary['mutants'] - summary['equivalent']}, "
        f"{summary['equivalent']} equivalent); survivors {len(summary['survivors'])}; report {work}/report.md"
    )
    for key, why in summary["stale_equivalent"].items():
        print(f"[{name}] STALE equivalent entry {key}: {why}; re-check it by hand")
    return summary


def table(modules: dict) -> str:
    rows = [
        "| module | files | mutants | equivalent | detected | survived | score |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in modules:
        path = WORK / name / "summary.json"
        if not path.exists():
            rows.append(f"| {name} | {', '.join(modules[name]['files'])} | not run | | | | |")
            continue
        s = json.loads(path.read_text())
        rows.append(
            f"| {name} | {', '.join(f'`{f}`' for f in s['files'])} | {s['mutants']} | {s['equivalent']} | "
            f"{s['detected']} | {s['survived']} | {s['score']:.1%} |"
        )
    return "\n".join(rows)


def details(modules: dict) -> str:
    """Per module of the last runs: the surviving mutants and the equivalent ones, each with its reason (markdown)."""
    out = []
    for name, entry in modules.items():
        path = WORK / name / "summary.json"
        if not path.exists():
            continue
        s = json.loads(path.read_text())
        out += [f"### {name}: {s['score']:.1%}", ""]
        survivors = s["survivors"] or {"none": ""}
        out += ["Surviving: " + ", ".join(f"`{k}`" + (f" ({v})" if v else "") for k, v in survivors.items()), ""]
        for key, why in entry["equivalent"].items():
            stale = s["stale_equivalent"].get(key)
            out.append(f"- `{key}`: {why}" + (f" **(stale: {stale})**" if stale else ""))
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="modules of [tool.hearloop.mutation] to run")
    parser.add_argument("--all", action="store_true", help="run every module")
    parser.add_argument("--list", action="store_true", help="list the modules, their files and tests")
    parser.add_argument("--table", action="store_true", help="print the score table of the last runs")
    parser.add_argument("--details", action="store_true", help="print survivors and equivalent mutants with reasons")
    parser.add_argument("--retest", action="store_true", help="re-run only the last run's survivors (new tests)")
    parser.add_argument("--rescore", action="store_true", help="score the last run again (equivalent list edited)")
    parser.add_argument("--resume", action="store_true", help="finish a run that stopped, in its scratch copy")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant runs (default 2)")
    parser.add_argument("--min-score", type=float, default=0.85, help="exit 1 if a module scores below (0.85)")
    args = parser.parse_args(argv)
    project, modules = load_modules()
    if args.list:
        for name, entry in modules.items():
            print(f"{name}: {', '.join(entry['files'])}  <-  {', '.join(entry['tests'])}")
        return 0
    if args.table or args.details:
        print(table(modules) if args.table else details(modules))
        return 0
    names = list(modules) if args.all else args.modules
    unknown = [n for n in names if n not in modules]
    if unknown or not names:
        parser.error(f"name modules from: {', '.join(modules)} (or --all); unknown: {unknown}")
    low = []
    for name in names:
        summary = run_module(
            name, modules[name], project, args.max_children, args.retest, args.rescore, resumed=args.resume
        )
        if not summary["score"] >= args.min_score or summary["stale_equivalent"]:
            low.append(name)
    print(table({n: modules[n] for n in names}))
    if low:
        print(f"below {args.min_score:.0%} or with stale equivalent entries: {', '.join(low)}")
    return 1 if low else 0


if __name__ == "__main__":
    raise SystemExit(main())
