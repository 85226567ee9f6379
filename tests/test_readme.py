"""README.md cannot rot: every Python block runs, and the "Train on your own recordings" commands train and evaluate the
cohort its converter writes.

Each Python block runs on its own (a fresh namespace, in an empty working directory). A block may be exempted with an
HTML comment on the line before it, ``<!-- readme-test: skip REASON -->``, for what needs the full bundled model and
minutes of CPU; the exemptions are few and each says why.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\s*(.*?)\s*-->")
MAX_SKIPPED = 1


@dataclass
class Block:
    language: str
    line: int  # 1-based line of the opening fence
    section: str
    code: str
    skip: str | None  # the reason, when exempted


def readme_blocks(text: str) -> list[Block]:
    """Every fenced code block of the README, with its section and exemption."""
    blocks, section, lines = [], "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            m = SKIP.search(before)
            blocks.append(Block(fence.group(1), i + 1, section, "\n".join(lines[i + 1 : end]) + "\n",
                                m.group(1) if m else None))  # fmt: skip
            i = end
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text())
PYTHON = [b for b in BLOCKS if b.language == "python"]


def test_the_readme_has_python_blocks_and_few_exemptions():
    assert len(PYTHON) >= 3
    skipped = [b for b in PYTHON if b.skip is not None]
    assert len(skipped) <= MAX_SKIPPED, [f"line {b.line}" for b in skipped]
    assert all(len(b.skip) > 20 for b in skipped), "an exemption must say why"


@pytest.mark.parametrize("block", PYTHON, ids=[f"L{b.line}-{b.section.split()[0].lower()}" for b in PYTHON])
def test_readme_python_block_runs(block, tmp_path, monkeypatch):
    if block.skip is not None:
        pytest.skip(block.skip)
    monkeypatch.chdir(tmp_path)
    exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "__readme__"})


def _own_recordings() -> tuple[Block, list[list[str]]]:
    """The converter block and the `hearloop` commands of "Train on your own recordings"."""
    section = [b for b in BLOCKS if b.section == "Train on your own recordings"]
    (converter,) = [b for b in section if b.language == "python"]
    (commands,) = [b for b in section if b.language == "bash"]
    argv = [shlex.split(line)[1:] for line in commands.code.splitlines() if line.startswith(".venv/bin/hearloop ")]
    return converter, argv


def test_own_recordings_train_and_evaluate_in_one_command_each(tmp_path, monkeypatch, capsys):
    """The section's converter writes a cohort; its two commands, as written plus the quick-check options the section
    names (tiny preset, one epoch per stage), train every stage of the recipe and evaluate them."""
    import json

    from runners.cli import main

    converter, argv = _own_recordings()
    assert [a[:2] for a in argv] == [["train", "--recipe"], ["evaluate", "--cohort"]]
    monkeypatch.chdir(tmp_path)
    exec(compile(converter.code, f"README.md:{converter.line}", "exec"), {"__name__": "__readme__"})
    quick = ["--preset", "tiny", "--epoch-cap", "1"]
    assert f"`{' '.join(quick)}`" in " ".join(README.read_text().split())  # the quick check the section names
    assert main([*argv[0], *quick, "--quiet"]) == 0
    train_dir = tmp_path / "runs" / "my-train"
    for stage in ("multibranch", "nuicnet6", "nuicnet3", "abrnet"):
        assert (train_dir / stage / "best" / "config.json").is_file(), stage
    assert {p.name for p in (train_dir / "icnet").iterdir()} == {"NH01", "NH02", "HI01", "HI02"}
    capsys.readouterr()
    assert main([*argv[1], "--quiet"]) == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "runs" / "my-eval" / "summary.json").read_text())
    must = summary["must_show"]
    for model in ("ICNet", "nu-ICNet-3", "nu-ICNet-6", "ABRNet"):
        assert f"| {model} |" in (tmp_path / "runs" / "my-eval" / "table1.md").read_text()
    # HI02 has no ground-truth severity: the rho runs over the other three animals and says so; nothing reads NaN
    assert must["spearman_rho"] is not None and "3 of 4 animals" in must["spearman_rho_note"]
    assert not re.search(r"\bnan\b", out, re.IGNORECASE), out
    assert "| HI02 | HI | not available |" in (tmp_path / "runs" / "my-eval" / "table1.md").read_text()
