"""The hash locks shipped for the generated jobs (mlops_gitops/locks): complete, consistent with
pyproject.toml, hash-pinned, and what every job holding a write token installs (security finding 3)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from mlops_gitops import locks

ROOT = Path(__file__).resolve().parents[1]
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(extras: tuple[str, ...]) -> dict[str, set[str]]:
    text = locks.lock_path(extras).read_text()
    found: dict[str, set[str]] = {}
    for name, version in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", text, re.M):
        found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), set()).add(version)
    return found


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PYPROJECT["optional-dependencies"][extra]]
    env = default_environment()
    return [r for r in reqs if r.marker is None or r.marker.evaluate({**env, "extra": ""})]


@pytest.mark.parametrize("extras", locks.LOCKED, ids=lambda e: locks.lock_name(e))
def test_each_lock_pins_what_pyproject_asks_for_with_hashes(extras: tuple[str, ...]) -> None:
    pinned = pins(extras)
    for req in declared(extras):
        versions = pinned.get(re.sub(r"[-_.]+", "-", req.name).lower())
        assert versions, f"{locks.lock_name(extras)}.txt lacks {req.name}: run `make locks`"
        assert any(req.specifier.contains(v, prereleases=True) for v in versions), (req, versions)
    text = locks.lock_path(extras).read_text()
    for block in locks.blocks(text).values():
        assert "--hash=sha256:" in block, block.splitlines()[0]
    assert "setuptools" in pinned, "the build backend of sdist-only packages is pinned too"


def test_every_lock_pins_the_versions_of_the_union() -> None:
    """The development environment is installed with the union as constraints, so the tests run
    exactly what each job installs."""
    union = pins(locks.EXTRAS)
    for extras in locks.LOCKED:
        for name, versions in pins(extras).items():
            assert versions <= union.get(name, set()), (locks.lock_name(extras), name, versions)


def test_the_light_locks_carry_no_dvc_pyarrow_or_scipy() -> None:
    for extras in ((), ("github",)):
        assert not {"dvc", "pyarrow", "scipy", "numpy"} & set(pins(extras)), locks.lock_name(extras)


def test_install_puts_the_build_tools_first_and_checks_every_hash(tmp_path: Path) -> None:
    first, second = locks.install_commands(locks.lock_path(("dvc", "github")), tmp_path)
    assert first[1:] == [
        "-m",
        "pip",
        "install",
        "--require-hashes",
        "--no-deps",
        "--only-binary",
        ":all:",
        "-r",
        str(tmp_path / "build-tools.txt"),
    ]
    assert (tmp_path / "build-tools.txt").read_text().startswith("setuptools==")
    assert second[-3:] == ["--no-build-isolation", "-r", str(locks.lock_path(("dvc", "github")))]
    assert "--require-hashes" in second and "--no-deps" in second


def test_unknown_extras_and_usage_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert locks.main(["install", "gpu"]) == 2
    assert "unknown extra 'gpu'" in capsys.readouterr().err
    assert locks.main([]) == 2
    assert locks.main(["path", "github", "dvc"]) == 0
    assert capsys.readouterr().out.strip().endswith("dvc-github.txt")


def test_constraints_drop_hashes_and_keep_markers() -> None:
    text = locks.constraints(locks.lock_path(locks.EXTRAS).read_text())
    assert "--hash" not in text and "\\" not in text
    assert all("==" in line for line in text.splitlines())
    assert any(";" in line for line in text.splitlines()), "environment markers survive"


def test_the_wheel_ships_every_lock() -> None:
    sys.path.insert(0, str(ROOT / ".ci"))
    import check_dist

    for extras in locks.LOCKED:
        assert f"mlops_gitops/locks/{locks.lock_name(extras)}.txt" in check_dist.REQUIRED_IN_WHEEL
