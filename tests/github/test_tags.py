"""Model registry tags on GitHub: the adapter against the fake GitHub over HTTP, and `register` end to
end (a real git repository with dvc.lock, the fake as the remote)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlops_gitops.adapters.github import client, tags
from mlops_gitops.cli import cli
from mlops_gitops.delivery import register as register_flow
from mlops_gitops.delivery import registry
from mlops_gitops.delivery.promotion import ModelIdentity, full_marker
from mlops_gitops.delivery.registry import NewTag, TagInfo
from tests.fakegithub import BOT_EMAIL, BOT_LOGIN, BOT_NAME, NOW, Commit, FakeGitHub, env_for

REPO = "acme/models"
DEPLOY = "acme/deploy"
BOT = client.BotIdentity()
MD5_A = "a" * 32
MD5_B = "b" * 32

MANIFEST = """\
version: 1
project:
  name: iris
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    outs: [models]
dvc:
  artifacts:
    iris-clf:
      path: models/model.pkl
      type: model
record:
  registry: true
deploy:
  model:
    name: iris-clf
    path: models/model.pkl
  environments:
    - name: staging
      file: deploy/staging.yaml
      field: model
      value: "{model_hash}"
    - name: production
      repo: acme/deploy
      file: deploy/production.yaml
      field: model
      value: "{model_hash}"
      after: [staging]
"""

LOCK = """\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    outs:
    - path: models
      hash: md5
      md5: {md5}.dir
      size: 20
      nfiles: 1
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def known_to(fake: FakeGitHub, sha: str) -> str:
    """The commit ``sha`` of the local repository exists on the fake (as if pushed)."""
    r = fake.repo(REPO)
    root = r.commits[r.refs["heads/main"]]
    r.commits[sha] = Commit(sha, root.tree, [], "pushed", root.author, root.committer)
    return sha


def commit_model(fake: FakeGitHub, project: Path, md5: str, note: str = "") -> str:
    (project / "dvc.lock").write_text(LOCK.format(md5=md5))
    (project / "notes.txt").write_text(note or md5)
    git(project, "add", "-A")
    git(project, "commit", "-qm", f"model {md5[:4]} {note}")
    return known_to(fake, git(project, "rev-parse", "HEAD"))


@pytest.fixture
def gh(fake_github: FakeGitHub) -> FakeGitHub:
    fake_github.add_repo(REPO)
    fake_github.add_repo(DEPLOY)
    return fake_github


@pytest.fixture
def project(tmp_path: Path, gh: FakeGitHub) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "mlops.yaml").write_text(MANIFEST)
    (root / "train.py").write_text("print('train')\n")
    commit_model(gh, root, MD5_A)
    return root


def register(
    fake: FakeGitHub, project: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str]:
    full_env = {**env_for(fake, REPO), "GITHUB_ACTIONS": "", "GITHUB_REF": "refs/heads/main", **(env or {})}
    old = Path.cwd()
    os.chdir(project)
    try:
        result = CliRunner().invoke(cli, ["register", *args], env=full_env)
    finally:
        os.chdir(old)
    if result.exception and not isinstance(result.exception, SystemExit):
        from mlops_gitops.errors import MlopsError

        if isinstance(result.exception, MlopsError):
            return result.exception.exit_code, result.output + str(result.exception)
        raise result.exception
    return result.exit_code, result.output


def tag_of(fake: FakeGitHub, name: str, repo: str = REPO) -> dict[str, object]:
    r = fake.repo(repo)
    return r.tag_objects[r.refs[f"tags/{name}"]]


def merged_promotion(fake: FakeGitHub, repo: str, env: str, md5: str, user: str = BOT_LOGIN) -> int:
    model = ModelIdentity("iris-clf", "models/model.pkl", md5, "f" * 40)
    body = full_marker("iris", env, model) + f"\n## Promote iris-clf to {env}\n"
    number = fake.add_pull(repo, f"mlops/promote/{env}/iris-clf", body=body, user=user, state="closed")
    fake.repo(repo).issues[number].merged = True
    return number


# --- the adapter -----------------------------------------------------------------------------------


def connect_repo(fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> object:
    for key, value in env_for(fake, REPO).items():
        monkeypatch.setenv(key, value)
    return client.connect(client.GitHubContext.from_env()).get_repo(REPO)


def test_list_tags_reads_annotated_and_lightweight_tags_of_the_artifact_only(
    gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = gh.repo(REPO).refs["heads/main"]
    gh.add_tag(
        REPO,
        "iris-clf@v0.0.1",
        main,
        "Registering\n\nmlops-gitops-model-hash: abc\n",
        tagger=(BOT_NAME, BOT_EMAIL),
    )
    gh.add_tag(REPO, "iris-clf#prod#2", main, "by hand")
    gh.add_tag(REPO, "iris-clf@v0.0.9", main)  # lightweight
    gh.add_tag(REPO, "iris-clf2@v1.0.0", main, "another artifact")
    gh.add_tag(REPO, "v1.0.0", main, "a release")
    repo = connect_repo(gh, monkeypatch)
    found = {t.name: t for t in register_flow.artifact_tags(repo, "iris-clf")}
    assert set(found) == {"iris-clf@v0.0.1", "iris-clf#prod#2", "iris-clf@v0.0.9"}
    assert found["iris-clf@v0.0.1"] == TagInfo(
        "iris-clf@v0.0.1", main, "Registering\n\nmlops-gitops-model-hash: abc\n", BOT_EMAIL
    )
    assert found["iris-clf#prod#2"].tagger_email == "alice@example.com"
    assert found["iris-clf@v0.0.9"] == TagInfo("iris-clf@v0.0.9", main)


def test_create_tag_is_an_annotated_tag_by_the_bot_and_never_moves_one(
    gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    main = gh.repo(REPO).refs["heads/main"]
    repo = connect_repo(gh, monkeypatch)
    new = NewTag(
        "iris-clf#prod#1",
        main,
        "Assigning stage prod\n",
        "v0.0.1",
        "prod",
        "acme/models#3",
        "2026-02-01T12:00:00Z",
    )
    assert tags.create_tag(repo, new.name, new.message, new.commit, BOT, date=new.date) is True
    obj = tag_of(gh, "iris-clf#prod#1")
    assert obj["tag"] == "iris-clf#prod#1" and obj["object"] == main and obj["type"] == "commit"
    assert obj["message"] == "Assigning stage prod\n"
    assert obj["tagger"] == {"name": BOT_NAME, "email": BOT_EMAIL, "date": "2026-02-01T12:00:00Z"}

    before = gh.repo(REPO).refs["tags/iris-clf#prod#1"]
    other = gh.add_file(REPO, "main", "x.txt", "x\n")
    assert tags.create_tag(repo, "iris-clf#prod#1", "again\n", other, BOT) is False
    assert gh.repo(REPO).refs["tags/iris-clf#prod#1"] == before
    assert not gh.matching("PATCH", "/git/refs") and not gh.matching("DELETE", "/git/refs")


def test_a_name_taken_by_another_run_is_planned_again(
    gh: FakeGitHub, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading the tags and creating ours, another run registered v0.0.1 for another model."""
    from mlops_gitops.manifest.loader import load_manifest
    from mlops_gitops.pipeline.project import load_project

    other = gh.add_file(REPO, "main", "x.txt", "x\n")
    gh.add_tag(
        REPO,
        "iris-clf@v0.0.1",
        other,
        registry.version_message("iris-clf", "v0.0.1", MD5_B),
        tagger=(BOT_NAME, BOT_EMAIL),
    )
    real = register_flow.artifact_tags
    calls: list[int] = []

    def stale_first(repo: object, artifact: str) -> list[TagInfo]:
        calls.append(1)
        return [] if len(calls) == 1 else real(repo, artifact)

    monkeypatch.setattr(register_flow, "artifact_tags", stale_first)
    for key, value in env_for(gh, REPO).items():
        monkeypatch.setenv(key, value)
    project_ = load_project(project, load_manifest(project / "mlops.yaml"))
    recorded = register_flow.record_version(project_, "HEAD", client.GitHubContext.from_env())
    assert [t.name for t in recorded.created] == ["iris-clf@v0.0.2"] and len(calls) == 2
    assert tag_of(gh, "iris-clf@v0.0.1")["object"] == other  # the other run's tag is untouched


# --- register --------------------------------------------------------------------------------------


def test_register_version_tags_each_new_model_once(gh: FakeGitHub, project: Path) -> None:
    first = git(project, "rev-parse", "HEAD")
    code, out = register(gh, project, "--version")
    assert code == 0, out
    assert f"created tag iris-clf@v0.0.1: v0.0.1 at commit {first[:7]}" in out
    obj = tag_of(gh, "iris-clf@v0.0.1")
    assert obj["object"] == first and obj["type"] == "commit"
    assert (
        obj["message"]
        == f"Registering artifact iris-clf version v0.0.1\n\nmlops-gitops-model-hash: {MD5_A}\n"
    )
    assert obj["tagger"]["email"] == BOT_EMAIL  # type: ignore[index]

    writes = len(gh.writes())
    code, out = register(gh, project, "--version")
    assert code == 0 and "model aaaaaaaa is already v0.0.1 (iris-clf@v0.0.1)" in out, out
    assert len(gh.writes()) == writes

    commit_model(gh, project, MD5_A, "docs only")  # nothing retrained: the same model
    code, out = register(gh, project, "--version")
    assert code == 0 and "already v0.0.1" in out and len(gh.writes()) == writes

    second = commit_model(gh, project, MD5_B)
    code, out = register(gh, project, "--version")
    assert code == 0 and "created tag iris-clf@v0.0.2" in out, out
    assert tag_of(gh, "iris-clf@v0.0.2")["object"] == second


def test_register_stages_tags_merged_bot_promotions_once(gh: FakeGitHub, project: Path) -> None:
    first = git(project, "rev-parse", "HEAD")
    assert register(gh, project, "--version")[0] == 0
    staging = merged_promotion(gh, REPO, "staging", MD5_A)
    production = merged_promotion(gh, DEPLOY, "production", MD5_A)
    merged_promotion(gh, REPO, "staging", MD5_A, user="mallory")  # not the bot's: never counts
    open_pr = merged_promotion(gh, REPO, "staging", MD5_A)
    gh.repo(REPO).issues[open_pr].merged = False  # closed without merging
    waiting = merged_promotion(gh, REPO, "staging", MD5_B)  # its model has no version yet

    code, out = register(gh, project, "--stages")
    assert code == 0, out
    # In the order they merged (the fake merges all at once: then by repository and number).
    assert f"created tag iris-clf#staging#2: stage staging of v0.0.1 (PR acme/models#{staging})" in out
    assert (
        f"created tag iris-clf#production#1: stage production of v0.0.1 (PR acme/deploy#{production})" in out
    )
    assert f"acme/models#{waiting} (staging): model bbbbbbbb has no version tag yet" in out
    refs = sorted(r for r in gh.repo(REPO).refs if r.startswith("tags/"))
    assert refs == ["tags/iris-clf#production#1", "tags/iris-clf#staging#2", "tags/iris-clf@v0.0.1"]
    obj = tag_of(gh, "iris-clf#staging#2")
    assert obj["object"] == first
    assert obj["tagger"] == {"name": BOT_NAME, "email": BOT_EMAIL, "date": NOW}  # when the PR merged
    assert str(obj["message"]).startswith("Assigning stage staging to artifact iris-clf version v0.0.1\n")
    assert not [r for r in gh.repo(DEPLOY).refs if r.startswith("tags/")]  # tags live with the model

    writes = len(gh.writes())
    code, out = register(gh, project, "--stages")
    assert code == 0 and f"acme/models#{staging} (staging): recorded already" in out, out
    assert len(gh.writes()) == writes

    # The waiting model gets its version: the next run records its promotion.
    commit_model(gh, project, MD5_B)
    assert register(gh, project, "--version")[0] == 0
    code, out = register(gh, project, "--stages")
    assert code == 0 and "created tag iris-clf#staging#3: stage staging of v0.0.2" in out, out


def test_without_the_manifest_key_register_does_nothing(gh: FakeGitHub, project: Path) -> None:
    (project / "mlops.yaml").write_text(MANIFEST.replace("record:\n  registry: true\n", ""))
    for mode in ("--version", "--stages"):
        code, out = register(gh, project, mode)
        assert code == 0 and out == "record.registry is not enabled in mlops.yaml: no model registry tags\n"
    assert gh.requests == []


def test_register_refuses_bad_input_before_any_api_call(gh: FakeGitHub, project: Path) -> None:
    code, out = register(gh, project)
    assert code == 2 and "give --version or --stages" in out
    code, out = register(gh, project, "--version", env={"GITHUB_REF": "refs/pull/3/merge"})
    assert code == 2 and "records models of main only (this run is for refs/pull/3/merge)" in out
    (project / "mlops.yaml").write_text(
        MANIFEST.replace(
            "path: models/model.pkl\n      type: model", "path: models/other.pkl\n      type: model"
        )
    )
    code, out = register(gh, project, "--version")
    assert code == 2 and "no dvc.yaml artifacts: entry has path models/model.pkl" in out, out
    assert gh.requests == []


def test_a_missing_permission_is_one_line(gh: FakeGitHub, project: Path) -> None:
    gh.fail("POST", r"/git/tags$", kind="permission", permissions="contents=write")
    code, out = register(gh, project, "--version")
    assert code == 1 and "creating tag iris-clf@v0.0.1" in out and "contents: write" in out, out
    assert gh.token not in out and "Traceback" not in out
