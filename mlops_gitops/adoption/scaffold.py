"""Set up a directory for mlops-gitops: copy a bundled example, make it a Git and DVC repository,
track its data with DVC. Everything here shells out to ``git`` and ``dvc``; DVC is never imported."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mlops_gitops.errors import UsageError

EXAMPLE_MANIFEST = "mlops.example.yaml"
# Left behind by running an example in place; never part of a scaffold.
_NOT_COPIED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".dvc", ".git", "dvc.lock", "metrics.json", "models", "plots", "prepared"
)


def available_examples() -> list[str]:
    from mlops_gitops.adapters.resources import examples_dir

    try:
        base = examples_dir()
    except FileNotFoundError:
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and (p / EXAMPLE_MANIFEST).is_file())


def example_dir(name: str) -> Path:
    """The bundled example ``name``; UsageError naming the available ones when there is no such example."""
    from mlops_gitops.adapters.resources import examples_dir

    names = available_examples()
    if name not in names:
        raise UsageError(f"unknown example '{name}'; available: {', '.join(names) or 'none'}")
    return examples_dir() / name


def is_empty(root: Path) -> bool:
    """True when ``root`` is missing or holds nothing but (possibly) an empty clone's ``.git``."""
    return not root.exists() or all(p.name == ".git" for p in root.iterdir())


def copy_example(name: str, dest: Path) -> str:
    """Copy example ``name`` into ``dest`` (created if needed), without its curated manifest.
    Returns that manifest's text, which init writes as mlops.yaml."""
    source = example_dir(name)
    shutil.copytree(source, dest, ignore=_ignore_with_manifest, dirs_exist_ok=True)
    return (source / EXAMPLE_MANIFEST).read_text(encoding="utf-8")


def _ignore_with_manifest(directory: str, names: list[str]) -> set[str]:
    ignored = set(_NOT_COPIED(directory, names))
    if EXAMPLE_MANIFEST in names:
        ignored.add(EXAMPLE_MANIFEST)
    return ignored


def git_init(root: Path) -> None:
    """``git init``; on ``main`` unless the user configured another initial branch name."""
    configured = subprocess.run(
        ["git", "config", "--get", "init.defaultBranch"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    _run(["git", "init", "-q", *([] if configured else ["-b", "main"])], root)


def dvc_init(root: Path) -> None:
    guard_dvc_files(root)  # the DVC commands that follow read them: refuse a YAML bomb first
    _run(dvc_command("init"), root)


def dvc_command(*args: str) -> list[str]:
    """DVC from the interpreter running mlops-gitops, so a venv's dvc is used even when not on PATH."""
    return [sys.executable, "-m", "dvc", *args]


def pointer_outs(root: Path, pointers: list[str]) -> list[str]:
    """Workspace paths (relative to root) of the data the ``.dvc`` pointers describe that exist on disk."""
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe

    found: list[str] = []
    for pointer in pointers:
        try:
            data = load_safe((root / pointer).read_text(encoding="utf-8"), pointer)
        except (OSError, YAMLError, UnicodeDecodeError):
            continue
        for out in (data or {}).get("outs") or [] if isinstance(data, dict) else []:
            if isinstance(out, dict) and isinstance(out.get("path"), str):
                rel = (Path(pointer).parent / out["path"]).as_posix()
                if (root / rel).exists():
                    found.append(rel)
    return found


def track_data(root: Path, pointers: list[str], echo: Callable[[str], None]) -> list[str]:
    """``dvc add`` the data behind ``pointers``, so a fresh DVC repo's cache holds it (``dvc push``
    needs that) and each pointer records the data actually present."""
    outs = pointer_outs(root, pointers)
    if outs:
        guard_dvc_files(root)
        _run(dvc_command("add", *outs), root)
        echo(f"tracked with DVC: {', '.join(outs)}")
    return outs


def guard_dvc_files(root: Path) -> None:
    """Refuse the YAML bombs among what a ``dvc`` subprocess reads, before it runs (it parses them
    outside the guard that wraps DVC in this process): every dvc.yaml and ``.dvc`` file Git sees, the
    dvc.lock beside each dvc.yaml, and the params files their ``vars`` load."""
    import posixpath

    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import guard
    from mlops_gitops.pipeline.fingerprint import fingerprint, listing

    listed = listing(root)
    dvcfiles = [p for p in listed if posixpath.basename(p) == "dvc.yaml"]
    fingerprint(root, dvcfiles, listed=listed)  # refuses a bomb in each dvc.yaml and its vars files
    pointers = [p for p in listed if p not in dvcfiles]
    locks = [posixpath.join(posixpath.dirname(p), "dvc.lock") for p in dvcfiles]
    for rel in [*pointers, *locks]:
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # DVC says what is wrong with it
        with contextlib.suppress(YAMLError):  # not YAML: likewise
            guard(text, rel)


def _run(args: list[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UsageError(f"cannot run {args[0]}: {exc.strerror}") from None
    if proc.returncode != 0:
        shown = " ".join(a for a in args if a not in (sys.executable, "-m"))
        lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        # DVC puts the reason on its ERROR line, or on the first line when it prints a report.
        reason = next((line for line in lines if line.startswith("ERROR")), lines[0] if lines else "")
        raise UsageError(f"{shown} failed: {reason or f'exit {proc.returncode}'}")
