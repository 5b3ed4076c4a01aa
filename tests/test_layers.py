"""Import rules between the top-level packages, read from the source (ast): graph/ (the API) and jobs/
(the worker) both stand on resolvers/ and services/, never on each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # needs neither PostgreSQL nor Redis

ROOT = Path(__file__).resolve().parent.parent


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports, wherever the import sits (also inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def offenders(package: str, forbidden: str) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT)) for path in (ROOT / package).rglob("*.py") if forbidden in imported_packages(path)
    )


def test_graph_does_not_import_jobs() -> None:
    assert offenders("graph", "jobs") == []


def test_jobs_does_not_import_graph() -> None:
    assert offenders("jobs", "graph") == []


def test_the_rule_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from graph.node import column_values\n    import jobs.tasks\n")
    assert imported_packages(module) == {"graph", "jobs"}
