"""Where the numbers came from: both commits, data hashes from dvc.lock, Python and package versions."""

from __future__ import annotations

import posixpath
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Always shown: the tools that produce and judge the metrics, besides the project's own requirements.
_ALWAYS = ("dvc", "mlops-gitops")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass
class DataHash:
    path: str
    base: str | None
    head: str | None

    @property
    def changed(self) -> bool:
        return self.base != self.head


@dataclass
class Lineage:
    base_commit: str | None
    head_commit: str | None  # None: the work tree
    base_subject: str = ""
    head_subject: str = ""
    data: list[DataHash] = field(default_factory=list)
    python: str = ""
    packages: dict[str, str] = field(default_factory=dict)


def lock_hashes(
    lock: Mapping[str, object] | None, wdirs: Mapping[str, str] | None = None, base: str = ""
) -> dict[str, str]:
    """``{path: md5}`` for every dep and out in a dvc.lock (schema 2.0; ``md5`` or ``hash: md5``).

    dvc.lock writes paths relative to each stage's ``wdir`` without recording it: ``wdirs`` maps a
    stage name to its repo-relative wdir (from the pipeline facts); a stage not in it is taken to run
    in ``base``, the folder of its dvc.yaml."""
    out: dict[str, str] = {}
    stages = (lock or {}).get("stages") if isinstance(lock, dict) else None
    if not isinstance(stages, dict):
        return out
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        wdir = (wdirs or {}).get(str(name), base)
        for kind in ("deps", "outs"):
            for entry in stage.get(kind) or []:
                if not isinstance(entry, dict) or "path" not in entry:
                    continue
                digest = entry.get("md5") or entry.get("etag") or entry.get("checksum")
                if digest:
                    path = posixpath.normpath(posixpath.join(wdir, str(entry["path"])))
                    out.setdefault(path, str(digest))
    return out


def data_hashes(base: Mapping[str, str], head: Mapping[str, str]) -> list[DataHash]:
    """Hashes (``{path: md5}``, from :func:`lock_hashes`) at both revisions, changed ones first."""
    rows = [DataHash(p, base.get(p), head.get(p)) for p in dict.fromkeys([*head, *base])]
    rows.sort(key=lambda r: (not r.changed, r.path))
    return rows


def requirement_names(root: Path, files: tuple[str, ...] | list[str]) -> list[str]:
    """Distribution names listed in requirements*.txt files or a pyproject.toml's dependencies."""
    names: list[str] = []
    for name in files:
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name == "pyproject.toml":
            names.extend(_pyproject_names(text))
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            match = _REQUIREMENT.match(line)
            if match:
                names.append(match.group(1))
    return list(dict.fromkeys(names))


def _pyproject_names(text: str) -> list[str]:
    from mlops_gitops.adapters import toml

    try:
        tomllib = toml.tomllib()
    except ImportError:
        return []
    try:
        deps = tomllib.loads(text).get("project", {}).get("dependencies", [])
    except tomllib.TOMLDecodeError:
        return []
    return [m.group(1) for d in deps if isinstance(d, str) and (m := _REQUIREMENT.match(d))]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_from_dist_info() -> dict[str, str]:
    """Versions read from ``NAME-VERSION.dist-info`` folder names on sys.path (the wheel spec fixes
    that naming). It spares importing importlib.metadata, a sixth of a fast report's time."""
    import os

    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for folder in names:
            if folder.endswith(".dist-info") and "-" in folder:
                name, _, version = folder[: -len(".dist-info")].rpartition("-")
                found.setdefault(_canonical(name), version)
    return found


def package_versions(names: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    fast = _installed_from_dist_info()
    for name in [*names, *_ALWAYS]:
        version = fast.get(_canonical(name))
        if version is None:  # an egg-info or otherwise unusual install: ask importlib.metadata
            from importlib import metadata

            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                version = "not installed"
        out[name] = version
    return out


def python_version() -> str:
    return sys.version.split()[0]
