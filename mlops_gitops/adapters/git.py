"""Thin wrappers over git plumbing. Every call runs ``git`` in ``cwd``; failures raise GitError."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from mlops_gitops.errors import GitError


def run(args: list[str], cwd: str | Path = ".", *, check: bool = True, input: bytes | None = None) -> bytes:
    """Run ``git ARGS`` and return stdout bytes; raise GitError with git's own first line on failure."""
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False)
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {' '.join(args)}: {message[0] if message else f'exit {proc.returncode}'}")
    return proc.stdout


def text(args: list[str], cwd: str | Path = ".") -> str:
    return run(args, cwd).decode("utf-8", "replace").strip()


# What changes where git finds a repository: with any of these set, git is asked.
_DISCOVERY_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM")


def toplevel(cwd: str | Path = ".") -> Path | None:
    """The work tree root, or None outside a repository. The common case (the nearest folder above
    holding a ``.git`` folder whose config sets no ``core.worktree``) is read from the disk, a
    process less for every command; anything else (a ``.git`` file of a worktree or submodule, the
    discovery variables) is git's answer."""
    found = _toplevel_on_disk(Path(cwd))
    return found if found is not None else _toplevel_by_git(cwd)


def _toplevel_on_disk(cwd: Path) -> Path | None:
    if any(name in os.environ for name in _DISCOVERY_ENV):
        return None
    try:
        here = cwd.resolve()
    except OSError:
        return None
    if ".git" in here.parts or not here.is_dir():
        return None  # inside a .git folder (no work tree), or no folder at all: as git says
    for folder in (here, *here.parents):
        dot = folder / ".git"
        if dot.is_dir() and (dot / "HEAD").is_file():
            try:
                config = (dot / "config").read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            return None if "worktree" in config.lower() else folder
        if dot.exists():
            return None  # a .git file (worktree, submodule) or something odd: git knows
        if (folder / "HEAD").is_file() and (folder / "objects").is_dir():
            return None  # a bare repository (or a .git folder by another name): git knows
    return None


def _toplevel_by_git(cwd: str | Path) -> Path | None:
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True, text=True, check=False
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


def resolve(rev: str, cwd: str | Path = ".") -> str | None:
    """Full commit SHA of ``rev``, or None when it does not name a commit here."""
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def show(rev: str, path: str, cwd: str | Path = ".") -> bytes | None:
    """Content of ``path`` (repo-relative) at ``rev``, or None when the file does not exist there."""
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=cwd, capture_output=True, check=False)
    return proc.stdout if proc.returncode == 0 else None


def merge_base(a: str, b: str, cwd: str | Path = ".") -> str | None:
    """The best common ancestor of two revisions (what ``a...b`` diffs from), or None."""
    proc = subprocess.run(["git", "merge-base", a, b], cwd=cwd, capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def is_shallow(cwd: str | Path = ".") -> bool:
    return text(["rev-parse", "--is-shallow-repository"], cwd) == "true"


def current_branch(cwd: str | Path = ".") -> str | None:
    proc = subprocess.run(
        ["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None


def default_branch(cwd: str | Path = ".") -> str | None:
    """origin's HEAD branch when known, else the current branch, else init.defaultBranch."""
    proc = subprocess.run(
        ["git", "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip().split("/", 1)[-1]
    branch = current_branch(cwd)
    if branch:
        return branch
    proc = subprocess.run(
        ["git", "config", "init.defaultBranch"], cwd=cwd, capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or None


_GITHUB_REMOTE = re.compile(r"github\.com[:/]([A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?:\.git)?/?$")


def github_repository(cwd: str | Path = ".") -> str | None:
    """``owner/name`` of the repository: ``GITHUB_REPOSITORY`` in Actions, else origin's GitHub URL."""
    import os

    if os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    proc = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=cwd, capture_output=True, text=True, check=False
    )
    found = _GITHUB_REMOTE.search(proc.stdout.strip())
    return found.group(1) if found else None


def changed_files(base: str, head: str, cwd: str | Path = ".") -> list[str]:
    """Paths changed between the merge base of ``base`` and ``head``, and ``head``."""
    out = text(["diff", "--name-only", "--no-renames", f"{base}...{head}"], cwd)
    return [line for line in out.splitlines() if line]


def log(rev: str, n: int, cwd: str | Path = ".", paths: list[str] | None = None) -> list[str]:
    """Up to ``n`` commit SHAs reachable from ``rev``, newest first (optionally touching ``paths``)."""
    args = ["log", f"-n{n}", "--format=%H", rev]
    if paths:
        args += ["--", *paths]
    return text(args, cwd).splitlines()
