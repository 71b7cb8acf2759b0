"""Where the shipped data lives: inside the wheel, or at the repository root in a source checkout."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # mlops_gitops/, this file is in adapters/


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


def tool_signature() -> str:
    """A hash that changes whenever the running tool could answer differently: the version and the
    size and mtime of every file of the package and every template. Memos in ``.git`` (the validated
    manifest, the generate check, resolved pipeline facts) are keyed on it, so editing a render module
    or bumping a pinned action in a source checkout invalidates them without a version bump."""
    import hashlib
    import os

    from mlops_gitops import __version__

    parts = [__version__]
    roots = [str(PACKAGE_DIR)]
    templates = templates_dir()
    if PACKAGE_DIR not in templates.parents:
        roots.append(str(templates))
    while roots:
        with os.scandir(roots.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir():
                    if entry.name != "__pycache__":
                        roots.append(entry.path)
                elif not entry.name.endswith((".pyc", ".pyo")):
                    st = entry.stat()
                    parts.append(f"{entry.path}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
