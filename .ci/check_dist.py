"""Check what `make dist` and the release workflow built before anything is published: one sdist and
one wheel of the version mlops_gitops/__init__.py defines (and the tag names, when given), the wheel
carrying the templates, the schema and the bundled example with its data.

    python .ci/check_dist.py DIST_DIR [TAG]
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from pathlib import Path

REQUIRED_IN_WHEEL = (
    "mlops_gitops/templates/github/workflows/mlops-pr.yml.j2",
    "mlops_gitops/templates/github/workflows/_steps.yml.j2",
    "mlops_gitops/manifest/schema.json",
    "mlops_gitops/examples/iris/mlops.example.yaml",
    "mlops_gitops/examples/iris/data/iris.csv",
    # The hash locks the generated jobs install their dependencies from.
    "mlops_gitops/locks/core.txt",
    "mlops_gitops/locks/github.txt",
    "mlops_gitops/locks/dvc-github.txt",
    "mlops_gitops/locks/data-dvc.txt",
    "mlops_gitops/locks/data-dvc-github.txt",
)
REQUIRED_IN_SDIST = ("templates/github/workflows/mlops-pr.yml.j2", "examples/iris/data/iris.csv")


def main(dist: Path, tag: str | None) -> list[str]:
    source = (Path(__file__).resolve().parents[1] / "mlops_gitops" / "__init__.py").read_text()
    found = re.search(r'^__version__ = "([^"]+)"', source, re.M)
    version = found.group(1) if found else "?"
    problems = []
    if tag is not None and tag.removeprefix("refs/tags/").removeprefix("v") != version:
        problems.append(f"tag {tag} does not name version {version} (mlops_gitops/__init__.py)")
    wheels = sorted(dist.glob("mlops_gitops-*.whl"))
    sdists = sorted(dist.glob("mlops_gitops-*.tar.gz"))
    if [w.name for w in wheels] != [f"mlops_gitops-{version}-py3-none-any.whl"]:
        problems.append(f"expected one wheel of {version}, found {[w.name for w in wheels]}")
    if [s.name for s in sdists] != [f"mlops_gitops-{version}.tar.gz"]:
        problems.append(f"expected one sdist of {version}, found {[s.name for s in sdists]}")
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            names = set(archive.namelist())
        problems += [f"{wheel.name} lacks {name}" for name in REQUIRED_IN_WHEEL if name not in names]
    for sdist in sdists:
        with tarfile.open(sdist) as archive:
            names = {n.split("/", 1)[-1] for n in archive.getnames()}
        problems += [f"{sdist.name} lacks {name}" for name in REQUIRED_IN_SDIST if name not in names]
    return problems


if __name__ == "__main__":
    problems = main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)
