"""Where the shipped data lives: inside the wheel, or at the repository root in a source checkout."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # A wheel force-includes templates/ and examples/ into the package; an editable install or a
    # source checkout keeps them at the repository root.
    for candidate in (PACKAGE_DIR / name, PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mlops-gitops installation is missing its {name}/ directory")


def templates_dir() -> Path:
    return _find("templates")


def examples_dir() -> Path:
    return _find("examples")
