"""Every hearloop name that README.md and MODEL_CARD.md quote imports from where they say it does.

Dotted names in code spans (``simulator.data.recordings``, ``simulator.model.nuicnet.CPU_DECODE_LISTENER_BINS``,
``compensation.get_strategy(name)``) and the ``from X import a, b`` / ``import X`` lines of their Python code blocks.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "MODEL_CARD.md")
PACKAGES = "simulator|listeners|compensation|audiometry|runners"
SPAN = re.compile(rf"`((?:{PACKAGES})(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?`")
FROM_IMPORT = re.compile(rf"^\s*from ((?:{PACKAGES})(?:\.\w+)*) import ([\w, ]+)", re.M)
IMPORT = re.compile(rf"^\s*import ((?:{PACKAGES})(?:\.\w+)*)", re.M)


def resolve(dotted: str) -> object:
    """Import the longest importable module prefix of ``dotted`` and getattr the rest."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def documented_names() -> list[tuple[str, str]]:
    names = []
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        names += [(doc, m) for m in SPAN.findall(text)]
        python_blocks = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
        for module, imported in FROM_IMPORT.findall(python_blocks):
            names += [(doc, f"{module}.{n.strip()}") for n in imported.split(",") if n.strip()]
        names += [(doc, m) for m in IMPORT.findall(python_blocks)]
    return sorted(set(names))


def test_the_docs_quote_names_at_all():
    quoted = {name for _, name in documented_names()}
    assert {"simulator.model.nuicnet.CPU_DECODE_LISTENER_BINS", "simulator.data.recordings.write_cohort"} <= quoted


@pytest.mark.parametrize(("doc", "name"), documented_names())
def test_documented_name_imports(doc, name):
    assert resolve(name) is not None, f"{doc} quotes {name}"


def test_an_old_path_is_caught():
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        resolve("simulator.recordings.write_cohort")
