"""Small modules with one job each: no Python file over 400 lines, no function over 80 lines (docstring included)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("simulator", "listeners", "compensation", "audiometry", "runners", "benchmarks", "tests")
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 80


def oversized(paths) -> list[str]:
    found = []
    for path in paths:
        text = path.read_text()
        if len(text.splitlines()) > MAX_FILE_LINES:
            found.append(f"{path}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path}:{node.lineno} {node.name}: {length} lines")
    return found


def test_no_file_over_400_lines_and_no_function_over_80():
    assert oversized(p for tree in TREES for p in sorted((ROOT / tree).rglob("*.py"))) == []


def test_the_checker_finds_a_long_function_and_a_long_file(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(85))
    (tmp_path / "long.py").write_text(f"def f():\n{body}\n" + "\n" * 320)
    found = oversized([tmp_path / "long.py"])
    assert len(found) == 2 and "f: 86 lines" in found[1] and found[0].endswith(": 406 lines")
