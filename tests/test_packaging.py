"""The wheel the Dockerfile installs alone: it must carry everything `gateway` needs at run time (the
migrations with alembic's template, GraphiQL's files) and nothing of the tests or benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The folders the Dockerfile copies into its build stage.
PACKAGES = ("cli", "gateway", "graph", "jobs", "loaders", "migrations", "models", "resolvers", "services")


def test_the_wheel_holds_what_the_service_runs(tmp_path: Path) -> None:
    # Built from a copy of what the Dockerfile copies: setuptools writes build/ next to its sources.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    vendored = (ROOT / "graph" / "ide_assets").iterdir()
    assert {f"graph/ide_assets/{path.name}" for path in vendored} <= names
    assert {"migrations/env.py", "migrations/script.py.mako", "cli/main.py"} <= names
    versions = {f"migrations/versions/{path.name}" for path in (ROOT / "migrations" / "versions").glob("*.py")}
    assert versions <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "gateway = cli.main:app" in zipfile.ZipFile(wheel).read(entry_points).decode()
