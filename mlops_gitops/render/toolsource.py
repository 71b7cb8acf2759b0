"""How the generated workflows install mlops-gitops: exactly the version that generated them, from
where it can be found.

In order: ``python.tool`` in the manifest (a pip requirement, or a wheel committed to the
repository); else what pip recorded for the running installation (PEP 610 ``direct_url.json``): the
Git URL and commit, or the archive URL and its hash; else, for an install from the package index,
``mlops-gitops==<version>``. A running tool installed from a local path (an editable checkout, a
wheel on disk) is something CI cannot reach: the index version is written and a warning says what to
set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlops_gitops import __version__

DIST = "mlops-gitops"
# The Python the generated jobs create the tool's own environment with, whatever the project's is: the
# newest release every locked dependency has wheels for. The project's Python is set up beside it.
TOOL_PYTHON = "3.12"


@dataclass(frozen=True)
class ToolSource:
    """``requirement`` without extras; ``kind``: manifest, wheel, vcs, archive or index."""

    kind: str
    requirement: str
    warning: str | None = None

    @property
    def pip_requirement(self) -> str:
        """What the job hands to ``pip install --no-deps``: the tool alone, its dependencies coming
        from the hash lock it ships (mlops_gitops/locks), never from pip's resolver."""
        return f"./{self.requirement}" if self.kind == "wheel" else self.requirement


def tool_source(
    manifest_tool: str | None, direct_url: str | None = None, version: str = __version__
) -> ToolSource:
    """Where CI gets this tool (``direct_url``: the text of the running install's direct_url.json)."""
    if manifest_tool:
        if (
            manifest_tool.strip().endswith(".whl")
            and "://" not in manifest_tool
            and " @ " not in manifest_tool
        ):
            return ToolSource("wheel", manifest_tool.strip().removeprefix("./"))
        return ToolSource("manifest", manifest_tool.strip())
    index = ToolSource("index", f"{DIST}=={version}")
    if not direct_url:
        return index
    try:
        data = json.loads(direct_url)
    except ValueError:
        return index
    url = str(data.get("url") or "")
    local = (
        f"the running mlops-gitops comes from {url}, a path on this machine that GitHub's runners cannot "
        "reach; set python.tool in mlops.yaml to a Git URL (mlops-gitops @ git+https://...@<commit>) or a "
        "wheel committed to the repository"
    )
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("commit_id"):
        subdirectory = f"#subdirectory={data['subdirectory']}" if data.get("subdirectory") else ""
        requirement = f"{DIST} @ {vcs.get('vcs', 'git')}+{url}@{vcs['commit_id']}{subdirectory}"
        return ToolSource("vcs", requirement, local if url.startswith("file:") else None)
    archive = data.get("archive_info")
    if isinstance(archive, dict) and url:
        hashes = archive.get("hashes") or {}
        digest = f"#sha256={hashes['sha256']}" if "sha256" in hashes else ""
        requirement = f"{DIST} @ {url.split('#', 1)[0]}{digest}"
        return ToolSource("archive", requirement, local if url.startswith("file:") else None)
    return ToolSource(
        "index",
        index.requirement,
        f"the running mlops-gitops comes from {url or 'a local path'}, which CI cannot reach: the workflows "
        f"install {index.requirement} from the package index; set python.tool in mlops.yaml to a Git URL "
        "(mlops-gitops @ git+https://...@<commit>) or a wheel committed to the repository",
    )


def running_source(manifest_tool: str | None) -> ToolSource:
    """:func:`tool_source` for this process's own installation."""
    direct_url = None
    if not manifest_tool:
        from importlib import metadata

        try:
            direct_url = metadata.distribution(DIST).read_text("direct_url.json")
        except metadata.PackageNotFoundError:
            direct_url = None
    return tool_source(manifest_tool, direct_url)


def dvc_plugins(root: Path) -> tuple[str, ...]:
    """The DVC remote plugins CI installs with the tool (``s3``, ``gdrive``, ...): one for each remote
    in the project's ``.dvc/config`` whose URL scheme needs one."""
    from mlops_gitops.adapters.dvcconfig import dvc_remotes
    from mlops_gitops.locks import remote_plugin

    remotes, _ = dvc_remotes(root)
    return tuple(sorted({p for p in map(remote_plugin, remotes.values()) if p}))
