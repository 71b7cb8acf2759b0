"""The tags mlops-gitops computes, read by DVC's model registry itself (the ``gto`` package, a
dependency of DVC): made in a real Git repository with ``git tag -a NAME -m MESSAGE COMMIT`` as the
bot, exactly what the GitHub adapter sends, then listed by ``gto show --json``. And the names and
messages ``gto register`` / ``gto assign`` make for the same steps, which ours must equal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_gitops.delivery import registry
from mlops_gitops.delivery.registry import NewTag, Promoted, TagInfo
from mlops_gitops.pipeline.facts import Artifact

pytest.importorskip("gto", reason="gto comes with the dev extra (and with dvc)")

BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    outs: [models]
artifacts:
  clf:
    path: models/model.pkl
    type: model
"""
SUB_DVC_YAML = """\
artifacts:
  ranker:
    path: out/ranker.onnx
    type: model
"""
H1, H2 = "1" * 32, "2" * 32


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    ).stdout.strip()


def gto(root: Path, *args: str) -> str:
    exe = Path(sys.executable).parent / "gto"
    proc = subprocess.run(
        [str(exe), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "GTO_EMOJIS": "false"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def commit(root: Path, note: str) -> str:
    (root / "notes.txt").write_text(note + "\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", note)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "sub").mkdir()
    (root / "sub" / "dvc.yaml").write_text(SUB_DVC_YAML)
    return root, [commit(root, f"commit {i}") for i in range(3)]


def read_tags(root: Path) -> list[TagInfo]:
    """The repository's tags as the GitHub adapter reports them (name, commit, message, tagger)."""
    found = []
    for name in git(root, "tag", "-l").splitlines():
        target = git(root, "rev-parse", f"{name}^{{commit}}")
        if git(root, "cat-file", "-t", f"refs/tags/{name}") != "tag":
            found.append(TagInfo(name, target))
            continue
        message = git(root, "tag", "-l", "--format=%(contents)", name)
        email = git(root, "tag", "-l", "--format=%(taggeremail)", name).strip("<>")
        found.append(TagInfo(name, target, message, email))
    return found


def make(root: Path, new: NewTag, date: str) -> None:
    """What the adapter does through the API (tag object + ref), done by git."""
    ident = {"GIT_COMMITTER_NAME": BOT_NAME, "GIT_COMMITTER_EMAIL": BOT_EMAIL}
    git(root, "tag", "-a", new.name, "-m", new.message, new.commit, env={**ident, "GIT_COMMITTER_DATE": date})


def register(root: Path, artifact: str, digest: str, at: str, date: str) -> NewTag | None:
    plan = registry.plan_version(read_tags(root), artifact, digest, at, BOT_EMAIL)
    if plan.create is not None:
        make(root, plan.create, date)
    return plan.create


def assign(root: Path, artifact: str, prs: list[Promoted]) -> list[NewTag]:
    plan = registry.plan_stages(read_tags(root), artifact, prs, BOT_EMAIL)
    for new in plan.create:
        assert new.date is not None
        make(root, new, new.date)
    return list(plan.create)


def pr(number: int, env: str, digest: str, day: int) -> Promoted:
    return Promoted("acme/models", number, env, digest, f"2026-02-{day:02d}T12:00:00Z")


def test_gto_lists_the_versions_and_stages_we_tag(repo: tuple[Path, list[str]]) -> None:
    root, (c1, c2, c3) = repo
    entries = [
        Artifact(name="clf", path="models/model.pkl", dvcfile="dvc.yaml", type="model"),
        Artifact(name="ranker", path="sub/out/ranker.onnx", dvcfile="sub/dvc.yaml", type="model"),
    ]
    clf = registry.artifact_name(entries, "models/model.pkl")
    ranker = registry.artifact_name(entries, "sub/out/ranker.onnx")
    assert (clf, ranker) == ("clf", "sub:ranker")

    first = register(root, clf, H1, c1, "2026-01-01T00:00:00Z")
    assert first is not None and first.name == "clf@v0.0.1"
    assert register(root, clf, H1, c2, "2026-01-02T00:00:00Z") is None  # same model, later commit
    second = register(root, clf, H2, c3, "2026-01-03T00:00:00Z")
    assert second is not None and second.name == "clf@v0.0.2"
    sub = register(root, ranker, H1, c2, "2026-01-04T00:00:00Z")
    assert sub is not None and sub.name == "sub=ranker@v0.0.1"

    prs = [pr(5, "staging", H1, 1), pr(6, "staging", H2, 2), pr(7, "prod", H1, 3)]
    made = assign(root, clf, prs)
    assert [t.name for t in made] == ["clf#staging#1", "clf#staging#2", "clf#prod#3"]
    assert assign(root, clf, prs) == []  # a rerun: every merged PR is recorded

    shown = json.loads(gto(root, "show", "--json"))
    assert shown["clf"]["version"] == "v0.0.2"
    assert shown["clf"]["stage"] == {"staging": "v0.0.2", "prod": "v0.0.1"}
    assert shown["clf"]["registered"] and shown["clf"]["active"]
    assert shown["sub:ranker"]["version"] == "v0.0.1"

    versions = {v["version"]: v for v in json.loads(gto(root, "show", "clf", "--json"))}
    assert set(versions) == {"v0.0.1", "v0.0.2"}
    assert versions["v0.0.1"]["commit_hexsha"] == c1 and versions["v0.0.2"]["commit_hexsha"] == c3
    assert versions["v0.0.1"]["author_email"] == BOT_EMAIL
    assert versions["v0.0.1"]["message"].startswith("Registering artifact clf version v0.0.1")

    # A rollback: staging gets the first model again through a new promotion PR.
    (rollback,) = assign(root, clf, [*prs, pr(9, "staging", H1, 4)])
    assert rollback.name == "clf#staging#4" and rollback.commit == c1
    assert json.loads(gto(root, "show", "--json"))["clf"]["stage"] == {"staging": "v0.0.1", "prod": "v0.0.1"}
    assert gto(root, "show", "clf#staging", "--version").strip() == "v0.0.1"
    history = gto(root, "history", "clf", "--plain")
    assert all(t.name in history for t in [*made, rollback])


def test_our_names_and_messages_are_gtos_own(repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    """The same steps by `gto register` / `gto assign` in a copy make the same tags."""
    root, (c1, _, c3) = repo
    theirs = tmp_path / "theirs"
    git(tmp_path, "clone", "-q", str(root), str(theirs))

    register(root, "clf", H1, c1, "2026-01-01T00:00:00Z")
    register(root, "clf", H2, c3, "2026-01-02T00:00:00Z")
    assign(root, "clf", [pr(5, "staging", H1, 1), pr(6, "prod", H2, 2), pr(7, "staging", H2, 3)])
    register(root, "sub:ranker", H1, c1, "2026-01-03T00:00:00Z")

    gto(theirs, "register", "clf", c1)
    gto(theirs, "register", "clf", c3)
    gto(theirs, "assign", "clf", c1, "--stage", "staging")
    gto(theirs, "assign", "clf", c3, "--stage", "prod")
    gto(theirs, "assign", "clf", c3, "--stage", "staging")
    gto(theirs, "register", "sub:ranker", c1)

    def tags(where: Path) -> dict[str, tuple[str, str]]:
        return {t.name: (str(t.commit), str(t.message).splitlines()[0]) for t in read_tags(where)}

    assert tags(root) == tags(theirs)
    assert set(tags(root)) == {
        "clf@v0.0.1",
        "clf@v0.0.2",
        "clf#staging#1",
        "clf#prod#2",
        "clf#staging#3",
        "sub=ranker@v0.0.1",
    }


def test_our_grammar_is_gtos() -> None:
    from gto import constants
    from gto.versions import SemVer

    assert registry.TAG_RE.pattern == constants.tag_re.pattern
    assert registry.NAME_RE.pattern == constants.name_re.pattern
    assert SemVer.get_minimal().version == registry.FIRST_VERSION
