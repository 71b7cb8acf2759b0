"""`python -m mlops_gitops.locks install` with a cache folder (MLOPS_GITOPS_CACHE): uv from a kept
wheel checked against the lock, the tool kept as a wheel and installed back with pip's PEP 610 record,
the lock read also when the module runs from that wheel. tests/test_act_install.py runs it under act."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlops_gitops import locks

UV = "0.13.9"


def fake_uv_wheel(folder: Path, payload: bytes = b"#!/bin/sh\necho uv\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"uv-{UV}-py3-none-manylinux_2_17_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"uv-{UV}.data/scripts/uv", payload)
        archive.writestr(f"uv-{UV}.dist-info/RECORD", "")
    return wheel


def block_for(*wheels: Path) -> str:
    hashes = " \\\n".join(f"    --hash=sha256:{hashlib.sha256(w.read_bytes()).hexdigest()}" for w in wheels)
    return f"uv=={UV} \\\n{hashes}\n    # via -r build.in"


def test_a_kept_uv_wheel_the_lock_lists_runs_without_pip(tmp_path: Path) -> None:
    wheel = fake_uv_wheel(tmp_path / "cache" / "wheels")
    binary = locks.uv_binary(block_for(wheel), tmp_path / "cache", tmp_path, sys.executable)
    assert binary.read_bytes() == b"#!/bin/sh\necho uv\n"
    assert subprocess.run([str(binary)], capture_output=True, text=True).stdout == "uv\n"


def test_a_kept_uv_wheel_the_lock_does_not_list_is_refused(tmp_path: Path) -> None:
    listed = fake_uv_wheel(tmp_path / "elsewhere")
    fake_uv_wheel(tmp_path / "cache" / "wheels", payload=b"#!/bin/sh\necho tampered\n")
    with pytest.raises(locks.HashMismatch, match=rf"uv-{UV}-\S+\.whl: sha256 [0-9a-f]{{64}} is not one"):
        locks.uv_binary(block_for(listed), tmp_path / "cache", tmp_path, sys.executable)
    assert not (tmp_path / "uv").exists(), "nothing of it was extracted"


def installed_tool(site: Path, direct_url: dict[str, object] | None) -> Path:
    """What pip leaves in site-packages for mlops-gitops: its files, bytecode, dist-info."""
    package = site / "mlops_gitops"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "0.1.0"\n')
    (package / "__pycache__" / "__init__.cpython-312.pyc").write_bytes(b"\0")
    info = site / "mlops_gitops-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: mlops-gitops\nVersion: 0.1.0\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    (info / "entry_points.txt").write_text("[console_scripts]\nmlops-gitops = mlops_gitops.cli:main\n")
    (info / "INSTALLER").write_text("pip\n")
    files = [
        "mlops_gitops/__init__.py",
        "mlops_gitops/__pycache__/__init__.cpython-312.pyc",
        *(f"{info.name}/{n}" for n in ("METADATA", "WHEEL", "entry_points.txt", "INSTALLER")),
        "../../../bin/mlops-gitops",
    ]
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))
        files.append(f"{info.name}/direct_url.json")
    (info / "RECORD").write_text("".join(f"{f},sha256=x,1\n" for f in files) + f"{info.name}/RECORD,,\n")
    return info


def test_the_kept_tool_is_its_wheel_without_what_the_installer_wrote(tmp_path: Path) -> None:
    site = tmp_path / "site"
    record = {
        "url": "https://github.com/acme/mlops-gitops",
        "vcs_info": {"vcs": "git", "commit_id": "ab" * 20},
    }
    installed_tool(site, record)
    wheel = locks.keep_tool(tmp_path / "cache", site)
    assert wheel.name == "mlops_gitops-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = sorted(archive.namelist())
        rows = archive.read("mlops_gitops-0.1.0.dist-info/RECORD").decode().splitlines()
    assert names == [
        "mlops_gitops-0.1.0.dist-info/METADATA",
        "mlops_gitops-0.1.0.dist-info/RECORD",
        "mlops_gitops-0.1.0.dist-info/WHEEL",
        "mlops_gitops-0.1.0.dist-info/entry_points.txt",
        "mlops_gitops/__init__.py",
    ]
    body = b'__version__ = "0.1.0"\n'
    assert f"mlops_gitops/__init__.py,{locks.record_hash(body)},{len(body)}" in rows
    assert json.loads((wheel.parent / "direct_url.json").read_text()) == record


@pytest.mark.parametrize("record", [None, {"url": "file:///w/mlops_gitops.whl", "archive_info": {}}])
def test_installing_the_kept_wheel_puts_back_pips_record(
    tmp_path: Path, record: dict[str, object] | None
) -> None:
    """uv records the kept wheel's path; `generate` must read where the tool really came from (none:
    an index install)."""
    kept = locks.keep_tool(tmp_path / "cache", installed_tool(tmp_path / "first", record).parent)
    site = tmp_path / "second"
    info = installed_tool(site, {"url": kept.as_uri(), "archive_info": {}})
    locks.restore_record(site, kept)
    target = info / "direct_url.json"
    rows = (info / "RECORD").read_text().splitlines()
    if record is None:
        assert not target.exists()
        assert not any(r.startswith(f"{info.name}/direct_url.json,") for r in rows)
    else:
        assert json.loads(target.read_text()) == record
        data = target.read_bytes()
        assert f"{info.name}/direct_url.json,{locks.record_hash(data)},{len(data)}" in rows


def test_the_locks_are_read_from_the_tools_wheel_too(tmp_path: Path) -> None:
    """The warm step runs `python -m mlops_gitops.locks` with only the kept wheel on PYTHONPATH."""
    wheel = tmp_path / "mlops_gitops-0.1.0-py3-none-any.whl"
    root = Path(locks.__file__).parents[1]
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in [root / "__init__.py", *sorted((root / "locks").rglob("*"))]:
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"mlops_gitops/{path.relative_to(root)}")
    code = "import sys; from mlops_gitops import locks; print(locks.own_wheel()); sys.exit(locks.main(sys.argv[1:]))"
    # PYTHONPATH comes before site-packages, where this checkout is installed; the cwd has no package.
    done = subprocess.run(
        [sys.executable, "-c", code, "lock", "dvc", "github", "--remote", "s3"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(wheel)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    first, rest = done.stdout.split("\n", 1)
    assert first == str(wheel)
    assert rest == locks.lock_text(("dvc", "github"), ["s3"])


def closure(names: list[str]) -> set[str]:
    """What installing ``names`` pulls in here, by the installed packages' metadata (markers evaluated
    for this interpreter, no extras)."""
    import importlib.metadata as metadata
    import re

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def test_the_dvc_set_is_the_core_and_dvcs_tree_without_data_or_github() -> None:
    """A training job without data checks installs the blocks data-dvc.txt and dvc-github.txt share:
    everything mlops-gitops and DVC need, at the locks' versions and hashes, and no pyarrow, NumPy,
    SciPy or PyGithub."""
    text = locks.lock_text(("dvc",))
    found = locks.blocks(text)
    full = locks.blocks(locks.lock_text(("data", "dvc")))
    assert all(full[name] == block for name, block in found.items()), "data-dvc.txt's blocks, as they are"
    assert not {"pyarrow", "numpy", "scipy", "pygithub", "pyjwt"} & set(found)
    assert {"uv", "setuptools"} <= set(found), "the installer and the build backend too"
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    pyproject = tomllib.loads((Path(locks.__file__).parents[2] / "pyproject.toml").read_text())["project"]
    from packaging.requirements import Requirement

    declared = [
        Requirement(r) for r in [*pyproject["dependencies"], *pyproject["optional-dependencies"]["dvc"]]
    ]
    needed = [r.name for r in declared if r.marker is None or r.marker.evaluate({"extra": ""})]
    missing = closure(needed) - set(found)
    assert not missing, f"the dvc set lacks {sorted(missing)}"
    # With a remote plugin: the plugin lock holds what every dvc lock does not pin alike.
    with_s3 = locks.blocks(locks.lock_text(("dvc",), ["s3"]))
    assert not closure(["dvc-s3"]) - set(with_s3)


def test_the_dvc_set_installs_and_reads_as_one_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert locks.main(["lock", "dvc"]) == 0
    assert capsys.readouterr().out == locks.lock_text(("dvc",))
    assert locks.main(["path", "dvc"]) == 0
    assert capsys.readouterr().out.split() == [
        str(locks.lock_path(("data", "dvc"))),
        str(locks.lock_path(("dvc", "github"))),
    ]


def test_the_checks_set_is_the_data_dvc_lock_without_scipy(capsys: pytest.CaptureFixture[str]) -> None:
    """A training job that validates data, and a rollout's look, install data-dvc.txt without SciPy
    (only the drift statistics use it): every other block as it is, and all that pyproject's checks
    and dvc extras need."""
    found = locks.blocks(locks.lock_text(("checks", "dvc")))
    full = locks.blocks(locks.lock_text(("data", "dvc")))
    assert set(full) - set(found) == {"scipy"}
    assert all(full[name] == block for name, block in found.items())
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((Path(locks.__file__).parents[2] / "pyproject.toml").read_text())["project"]
    extras = pyproject["optional-dependencies"]
    assert {Requirement(r).name for r in extras["checks"]} < {Requirement(r).name for r in extras["data"]}
    declared = [Requirement(r) for r in [*pyproject["dependencies"], *extras["checks"], *extras["dvc"]]]
    needed = closure([r.name for r in declared if r.marker is None or r.marker.evaluate({"extra": ""})])
    assert not needed - set(found), f"the checks set lacks {sorted(needed - set(found))}"
    assert "scipy" not in needed, "nothing the checks and dvc extras pull in needs SciPy"
    assert locks.main(["path", "checks", "dvc"]) == 0
    assert capsys.readouterr().out.split() == [str(locks.lock_path(("data", "dvc")))]
    assert locks.main(["lock", "checks"]) == 2
    assert "the locked sets are" in capsys.readouterr().err
