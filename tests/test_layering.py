"""The rooms' import directions (docs/ARCHITECTURE.md): a forbidden import fails here.

Runtime imports only: ``if TYPE_CHECKING:`` blocks (annotations) are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seizure"

# room -> rooms it must not import (a room is a top-level module or package of seizure)
FORBIDDEN: dict[str, set[str]] = {
    "io": {"preprocess", "store", "corpus", "models", "training", "checkpoint", "evaluation", "scoring", "detect",
           "study", "demo", "synth", "commands", "cli"},
    "preprocess": {"store", "corpus", "models", "training", "checkpoint", "evaluation", "scoring", "detect", "study",
                   "demo", "synth", "commands", "cli"},
    "store": {"corpus", "models", "training", "checkpoint", "evaluation", "scoring", "detect", "study", "demo",
              "commands", "cli"},
    "models": {"io", "preprocess", "store", "corpus", "training", "checkpoint", "evaluation", "scoring", "detect",
               "study", "demo", "commands", "cli"},
    "training": {"scoring", "detect", "study", "demo", "commands", "cli"},
    "evaluation": {"training", "corpus", "detect", "study", "demo", "commands", "cli"},
    "scoring": {"preprocess", "store", "corpus", "models", "training", "checkpoint", "evaluation", "detect",
                "study", "demo", "commands", "cli"},
    "postprocess": {"io", "preprocess", "store", "models", "training", "evaluation", "scoring", "detect", "study",
                    "demo", "commands", "cli"},
    "synth": {"preprocess", "store", "models", "training", "evaluation", "scoring", "detect", "study", "demo",
              "commands", "cli"},
    "detect": {"training", "study", "demo", "commands", "cli"},
    "study": {"demo", "detect", "commands", "cli"},
    "parallel": {"io", "preprocess", "store", "corpus", "models", "training", "checkpoint", "evaluation", "scoring",
                 "detect", "study", "demo", "synth", "commands", "cli"},
}
BASE = {"errors", "events", "fsutil", "config", "registry"}  # import nothing but each other


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "seizure" and len(parts) > 1 else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(source: str) -> set[str]:
    """Modules (``seizure.x.y``) imported outside ``if TYPE_CHECKING:`` blocks."""
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return out


def violations(files: dict[str, str]) -> list[str]:
    """``file: room imports room`` for every forbidden import among ``{relative path: source}``."""
    found = []
    for rel, source in sorted(files.items()):
        room = rel.split("/")[0].removesuffix(".py")
        forbidden = FORBIDDEN.get(room, set())
        if room in BASE:
            forbidden = {r for r in {p.split("/")[0].removesuffix(".py") for p in files} if r not in BASE}
        for module in sorted(runtime_imports(source)):
            target = _room(module)
            if target and target != room and target in forbidden:
                found.append(f"{rel}: {room} imports {module}")
    return found


def package_sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")}


def test_rooms_import_only_downwards():
    assert violations(package_sources()) == []


@pytest.mark.parametrize("rel,line", [
    ("io/edf.py", "from seizure.preprocess.montage import plan\n"),
    ("models/network.py", "from seizure.scoring import det\n"),
    ("preprocess/montage.py", "import seizure.store\n"),
    ("scoring/report.py", "def f():\n    from seizure.evaluation import probabilities\n"),
    ("errors.py", "from seizure.io import channels\n"),
])
def test_a_forbidden_import_is_caught(rel, line):
    files = package_sources()
    files[rel] += "\n" + line
    assert violations(files)


def test_type_checking_imports_are_not_counted():
    files = package_sources()
    files["evaluation.py"] += "\nif TYPE_CHECKING:\n    from seizure.training.loop import train\n"
    assert violations(files) == []
    files["evaluation.py"] += "\nfrom seizure.training.loop import train\n"
    assert violations(files)


def test_no_import_cycle_between_io_and_preprocess():
    for rel, source in package_sources().items():
        if rel.startswith("io/"):
            assert not any(m.startswith("seizure.preprocess") for m in runtime_imports(source)), rel
