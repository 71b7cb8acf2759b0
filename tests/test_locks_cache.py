"""What the jobs that cache their environment run of `python -m mlops_gitops.locks`: `ready` on a
restored environment (whole, of this lock, or installed again), the marker a complete `install`
leaves, and `install` with a folder for uv (MLOPS_GITOPS_UV): uv from its wheel, checked against the
lock, never installed into the environment. tests/test_act_install.py runs them under act."""

from __future__ import annotations

import hashlib
import re
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


def environment(root: Path, files: dict[str, bytes]) -> Path:
    """A real virtual environment holding one installed package, ``files`` (site-relative) listed in
    its RECORD with their sizes, as pip and uv write it (the RECORD itself, and bytecode, unsized)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    (site,) = root.glob("lib/python3*/site-packages")
    info = "points-1.0.dist-info"
    rows = []
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
        rows.append(f"{name},sha256={hashlib.sha256(data).hexdigest()},{len(data)}")
    (site / info).mkdir(exist_ok=True)
    (site / info / "RECORD").write_text("\n".join([*rows, f"{info}/RECORD,,"]) + "\n")
    return site


def ready(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`locks ready` run by the environment's own python, as the generated step runs it."""
    source = Path(locks.__file__).parents[1].parent  # this checkout: the module is standard library only
    return subprocess.run(
        [str(root / "bin" / "python"), "-m", "mlops_gitops.locks", "ready", *args],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(source)},
        cwd=root,
    )


FILES = {
    "points/__init__.py": b"X = 1\n",
    "points/fit.py": b"def fit(): ...\n",
    "../../../bin/points": b"#!/bin/sh\n",
}


def test_a_whole_environment_of_the_lock_is_ready(tmp_path: Path) -> None:
    root = tmp_path / "env"
    environment(root, FILES)
    (root / locks.MARKER).write_text(locks.lock_digest(locks.lock_text(("dvc",))) + "\n")
    done = ready(root, "dvc")
    assert (done.returncode, done.stderr) == (0, "")
    assert re.fullmatch(
        r"installed: 1 package, every file in place, as the lock [0-9a-f]{12} installed them\n", done.stdout
    )


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("no marker", "not installed: no lock was installed into this environment"),
        ("another lock", "not installed: this environment holds another lock"),
        ("a file missing", "not installed: points/fit.py of points-1.0.dist-info is missing"),
        (
            "a file cut short",
            "not installed: points/__init__.py of points-1.0.dist-info is not the file installed",
        ),
        ("a script missing", "not installed: ../../../bin/points of points-1.0.dist-info is missing"),
    ],
)
def test_an_environment_restored_short_or_of_another_lock_is_installed_again(
    tmp_path: Path, damage: str, why: str
) -> None:
    """What a restore cut short, or another job's environment, looks like: one line, exit 1, and the
    step installs afresh (tests/test_act_install.py runs that under act)."""
    root = tmp_path / "env"
    site = environment(root, FILES)
    lock = locks.lock_text(("dvc",))
    if damage != "no marker":
        (root / locks.MARKER).write_text(locks.lock_digest(lock if damage != "another lock" else lock + "x"))
    if damage == "a file missing":
        (site / "points/fit.py").unlink()
    if damage == "a file cut short":
        (site / "points/__init__.py").write_bytes(b"X")
    if damage == "a script missing":
        (root / "bin" / "points").unlink()
    done = ready(root, "dvc")
    assert (done.returncode, done.stdout, done.stderr) == (1, why + "\n", "")


def test_a_complete_install_marks_the_environment_and_a_failed_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "environment_folder", lambda: tmp_path)
    codes = iter([0, 0, 0, 5])
    monkeypatch.setattr(locks.subprocess, "call", lambda command: next(codes))
    assert locks.main(["install", "github"]) == 0
    marker = (tmp_path / locks.MARKER).read_text()
    assert marker == locks.lock_digest(locks.lock_text(("github",))) + "\n"
    (tmp_path / locks.MARKER).unlink()
    assert locks.main(["install", "github"]) == 5
    assert not (tmp_path / locks.MARKER).exists()


def test_with_a_folder_for_uv_the_environment_gets_no_installer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uv runs from its checked wheel in the folder; only the build tools and the lock (uv left out)
    are installed, every hash checked, uv's cache in the folder."""
    folder = tmp_path / "uv-folder"
    wheel = fake_uv_wheel(folder / "wheels")
    text = locks.lock_text(("github",))
    found = locks.blocks(text)
    text = "\n".join([block_for(wheel), *(b for n, b in found.items() if n != "uv")]) + "\n"
    ran: list[tuple[list[str], str, str]] = []

    def call(command: list[str], env: dict[str, str]) -> int:
        ran.append((command, Path(command[-1]).read_text(), env["UV_CACHE_DIR"]))
        return 0

    monkeypatch.setattr(locks.subprocess, "call", call)
    monkeypatch.delenv("UV_CACHE_DIR", raising=False)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert locks.uv_install(text, folder, scratch, "github.txt") == 0
    (build, tools, cache1), (everything, rest, cache2) = ran
    assert build[:7] == [
        str(scratch / "uv"),
        "pip",
        "install",
        "--python",
        sys.executable,
        "--no-deps",
        "--require-hashes",
    ]
    assert list(locks.blocks(tools)) == ["setuptools"]
    assert "--no-build-isolation" in everything and Path(everything[-1]).name == "github.txt"
    assert "uv" not in locks.blocks(rest) and set(locks.blocks(rest)) == set(found) - {"uv"}
    assert cache1 == cache2 == str(folder / "uv")


def test_the_locks_are_read_from_the_tools_wheel_too(tmp_path: Path) -> None:
    """The locks are package data, read through importlib.resources: also from a zipped wheel."""
    wheel = tmp_path / "mlops_gitops-0.1.0-py3-none-any.whl"
    root = Path(locks.__file__).parents[1]
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in [root / "__init__.py", *sorted((root / "locks").rglob("*"))]:
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, f"mlops_gitops/{path.relative_to(root)}")
    code = "import sys; from mlops_gitops import locks; print(locks.__file__); sys.exit(locks.main(sys.argv[1:]))"
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
    assert first == str(wheel / "mlops_gitops" / "locks" / "__init__.py")
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


def test_in_actions_an_environment_not_whole_is_a_warning_on_the_runs_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(locks, "environment_folder", lambda: tmp_path)
    (tmp_path / locks.MARKER).write_text("another lock\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert locks.main(["ready", "dvc"]) == 1
    assert capsys.readouterr().out == (
        "::warning title=mlops-gitops::not installed: this environment holds another lock; "
        "installing afresh (delete this cache entry to keep a whole one)\n"
    )
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert locks.main(["ready", "dvc"]) == 1
    assert capsys.readouterr().out == "not installed: this environment holds another lock\n"
