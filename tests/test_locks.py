"""The hash locks shipped for the generated jobs (mlops_gitops/locks): complete, consistent with
pyproject.toml, hash-pinned, and what every job holding a write token installs (security finding 3)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
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
    return pins_of(locks.lock_path(extras).read_text())


def pins_of(text: str) -> dict[str, set[str]]:
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


@pytest.fixture(autouse=True)
def _marked_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A complete `install` marks the environment it ran in: here, not this test run's own."""
    monkeypatch.setattr(locks, "environment_folder", lambda: tmp_path)


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
    assert "uv" in pinned, "the installer is pinned too"


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


def test_install_puts_the_build_tools_first_then_uv_checks_every_hash(tmp_path: Path) -> None:
    lock = locks.lock_path(("dvc", "github"))
    first, second = locks.install_commands(lock, tmp_path)
    assert first == [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--require-hashes",
        "--no-deps",
        "--only-binary",
        ":all:",
        "-r",
        str(tmp_path / "build-tools.txt"),
    ]
    assert list(pins_of((tmp_path / "build-tools.txt").read_text())) == ["uv", "setuptools"]
    assert second == [
        sys.executable,
        "-m",
        "uv",
        "pip",
        "install",
        "--python",
        sys.executable,
        "--require-hashes",
        "--no-deps",
        "--no-build-isolation",
        "-r",
        str(lock),
    ]


def test_a_lock_without_uv_is_installed_by_pip_as_before(tmp_path: Path) -> None:
    found = locks.blocks(locks.lock_path(()).read_text())
    old = tmp_path / "old.txt"
    old.write_text("\n".join(block for name, block in found.items() if name != "uv") + "\n")
    first, second = locks.install_commands(old, tmp_path, python="/venv/bin/python")
    assert first[:3] == ["/venv/bin/python", "-m", "pip"] and first[-4:-2] == ["--only-binary", ":all:"]
    assert list(pins_of((tmp_path / "build-tools.txt").read_text())) == ["setuptools"]
    assert second[:3] == ["/venv/bin/python", "-m", "pip"]
    assert second[-3:] == ["--no-build-isolation", "-r", str(old)]
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


# Remote plugins: a lock each, holding only what the dvc locks lack, merged in at install time.

DVC_LOCKS = [extras for extras in locks.LOCKED if "dvc" in extras]


def test_every_locked_remote_has_a_hashed_lock_of_its_plugin() -> None:
    assert set(locks.LOCKED_REMOTES) <= set(locks.REMOTE_PLUGINS)
    shipped = {p.stem for p in (locks.HERE / "plugins").glob("*.txt")}
    assert shipped == set(locks.LOCKED_REMOTES), "plugins/ holds exactly the locked remotes"
    for scheme in locks.LOCKED_REMOTES:
        text = locks.plugin_lock_path(scheme).read_text()
        assert locks.REMOTE_PLUGINS[scheme] in pins_of(text), scheme
        for block in locks.blocks(text).values():
            assert "--hash=sha256:" in block, (scheme, block.splitlines()[0])


@pytest.mark.parametrize("scheme", locks.LOCKED_REMOTES)
def test_a_plugin_lock_pins_the_versions_of_the_union_and_leaves_out_what_dvc_locks_share(
    scheme: str,
) -> None:
    plugin = pins_of(locks.plugin_lock_path(scheme).read_text())
    union = pins(locks.EXTRAS)
    for name, versions in plugin.items():
        if name in union:
            assert versions == union[name], (scheme, name, versions, union[name])
    shared = set.intersection(*(set(pins(extras)) for extras in DVC_LOCKS))
    assert not shared & set(plugin), f"{scheme}.txt repeats what every dvc lock pins"
    assert not {"dvc", "uv", "setuptools"} & set(plugin)


@pytest.mark.parametrize("extras", DVC_LOCKS, ids=lambda e: locks.lock_name(e))
def test_the_merged_lock_is_the_base_plus_the_plugin_only_blocks(extras: tuple[str, ...]) -> None:
    base = locks.lock_path(extras).read_text()
    merged = locks.lock_text(extras, ["s3", "gdrive", "s3"])
    pinned = [line for line in merged.splitlines() if re.match(r"[A-Za-z0-9]", line)]
    assert len(pinned) == len(set(pinned)), "no requirement twice"
    base_blocks = locks.blocks(base)
    merged_blocks = locks.blocks(merged)
    for name, block in base_blocks.items():
        assert merged_blocks[name] == block, name
    extra = set(merged_blocks) - set(base_blocks)
    plugin_only = set()
    for scheme in ("s3", "gdrive"):
        plugin_only |= set(locks.blocks(locks.plugin_lock_path(scheme).read_text())) - set(base_blocks)
    assert extra == plugin_only and {"dvc-s3", "dvc-gdrive"} <= extra
    assert locks.lock_text(extras) == base, "no remote: the lock itself"


def test_install_with_remotes_installs_the_merged_lock(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[tuple[list[str], str]] = []

    def call(command: list[str]) -> int:
        ran.append((command, Path(command[-1]).read_text()))
        return 0

    monkeypatch.setattr(locks.subprocess, "call", call)
    assert locks.main(["install", "dvc", "--remote", "gcs", "--remote=s3", "github"]) == 0
    (first, tools), (second, merged) = ran
    assert second[1:3] == ["-m", "uv"] and Path(second[-1]).name == "dvc-github+gs+s3.txt"
    assert merged == locks.lock_text(("dvc", "github"), ["gs", "s3"])
    assert list(pins_of(tools)) == ["uv", "setuptools"]
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["+ " + " ".join(first[1:]), "+ " + " ".join(second[1:])]


def test_install_stops_at_the_first_failing_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(locks.subprocess, "call", lambda command: calls.append(command) or 7)
    assert locks.main(["install", "github"]) == 7
    assert len(calls) == 1
    assert len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["install", "dvc", "github", "--remote", "nope"], "unknown remote 'nope': choose from s3, gs,"),
        (["install", "data", "github"], "no lock for the extras data-github: the locked sets are core,"),
        (["install", "github", "--remote", "s3"], "--remote needs the dvc extra"),
        (["install", "dvc", "--remote"], "--remote needs a scheme"),
        (["path", "dvc", "--remotes", "s3"], "unknown option '--remotes'"),
        (["ready", "gpu"], "unknown extra 'gpu'"),
        (["ready", "dvc", "--remote", "nope"], "unknown remote 'nope': choose from s3, gs,"),
    ],
)
def test_bad_remotes_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert locks.main(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert len(out.err.splitlines()) == 1 and message in out.err, out.err


def test_path_and_constraints_take_remotes(capsys: pytest.CaptureFixture[str]) -> None:
    assert locks.main(["path", "data", "dvc", "--remote", "s3", "--remote", "s3"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        str(locks.lock_path(("data", "dvc"))),
        str(locks.plugin_lock_path("s3")),
    ]
    assert locks.main(["constraints", "dvc", "github", "--remote", "s3"]) == 0
    assert "dvc-s3==" in capsys.readouterr().out
    assert locks.main(["lock", "dvc", "github", "--remote", "s3"]) == 0
    assert capsys.readouterr().out == locks.lock_text(("dvc", "github"), ["s3"])


KNOWN = sorted({*locks.REMOTE_PLUGINS, *locks._SCHEME_ALIASES})


def key_of(scheme: str) -> str:
    return locks._SCHEME_ALIASES.get(scheme, scheme)


@given(
    scheme=st.sampled_from(KNOWN),
    upper=st.lists(st.booleans(), min_size=12, max_size=12),
    pad=st.text(" \t\n", max_size=3),
    rest=st.text(),
)
def test_a_url_with_a_known_scheme_maps_to_its_plugin(
    scheme: str, upper: list[bool], pad: str, rest: str
) -> None:
    spelled = "".join(c.upper() if upper[i] else c for i, c in enumerate(scheme))
    assert locks.remote_plugin(f"{pad}{spelled}://{rest}") == key_of(scheme)


@given(
    scheme=st.from_regex(r"[A-Za-z][A-Za-z0-9+.-]{0,12}", fullmatch=True).filter(
        lambda s: s.lower() not in KNOWN
    ),
    rest=st.text(),
)
def test_a_url_with_another_scheme_maps_to_none(scheme: str, rest: str) -> None:
    assert locks.remote_plugin(f"{scheme}://{rest}") is None


@given(st.text())
def test_remote_plugin_never_raises_and_names_a_known_scheme_or_none(url: str) -> None:
    found = locks.remote_plugin(url)
    if found is None:
        return
    assert found in locks.REMOTE_PLUGINS
    head = url.strip().split("://", 1)[0].lower()
    assert "://" in url and key_of(head) == found


@pytest.mark.parametrize(
    "url", ["data/store", "/mnt/cache", "https://h/x", "http://h", "file:///x", "s3:/x", ""]
)
def test_local_paths_and_http_need_no_plugin(url: str) -> None:
    assert locks.remote_plugin(url) is None


@pytest.mark.slow
def test_a_tool_env_installs_offline_from_the_warm_uv_cache(tmp_path: Path) -> None:
    """What a generated job does, offline as the act tests run it: a fresh venv, the build tools, then
    the trainer's lock with the s3 plugin through `python -m uv`, from the cache `make` warmed."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is not installed: `make .venv/.installed`"
    env = {**os.environ, "UV_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)
    lock = tmp_path / "data-dvc+s3.txt"
    lock.write_text(locks.lock_text(("data", "dvc"), ["s3"]))
    venv = tmp_path / "tool-env"
    python = str(venv / "bin" / "python")
    tools, install = locks.install_commands(lock, tmp_path, python=python)
    cache = subprocess.run([uv, "cache", "dir"], capture_output=True, text=True, env=env).stdout.strip()
    hint = f"uv's cache ({cache}) lacks a locked package: `make .venv/.installed` warms it"
    started = time.perf_counter()
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env)
    # pip is not in a uv venv, and offline it could not fetch anyway: uv installs the same file.
    assert tools[3:5] == ["install", "--disable-pip-version-check"]
    stand_in = [uv, "pip", "install", "--quiet", "--python", python, *tools[5:]]
    done = subprocess.run(stand_in, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{hint}\n{done.stderr}"
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    assert done.returncode == 0, f"{hint}\n{done.stderr}"
    elapsed = time.perf_counter() - started
    check = "import dvc, dvc_s3, pyarrow, scipy; print(dvc.__version__)"
    out = subprocess.run([python, "-c", check], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == pins(("data", "dvc"))["dvc"].pop()
    print(f"offline tool environment (data dvc + s3) installed in {elapsed:.2f} s")
