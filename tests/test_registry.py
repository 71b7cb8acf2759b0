"""The model registry's tag names, messages, versions and counters (pure; gto itself in
test_registry_gto.py)."""

from __future__ import annotations

import pytest

from mlops_gitops.delivery import registry
from mlops_gitops.delivery.registry import Promoted, TagInfo
from mlops_gitops.errors import UsageError
from mlops_gitops.pipeline.facts import Artifact

BOT = "41898282+github-actions[bot]@users.noreply.github.com"
H1, H2, H3 = "1" * 32, "2" * 32, "3" * 32
C1, C2, C3 = "a" * 40, "b" * 40, "c" * 40


def art(name: str, path: str, dvcfile: str = "dvc.yaml", type: str | None = "model") -> Artifact:
    return Artifact(name=name, path=path, dvcfile=dvcfile, type=type)


def ours(name: str, commit: str, message: str) -> TagInfo:
    return TagInfo(name, commit, message, BOT)


def version_tag(artifact: str, version: str, commit: str, digest: str) -> TagInfo:
    prefix = registry.tag_prefix(artifact)
    return ours(f"{prefix}@{version}", commit, registry.version_message(artifact, version, digest))


# --- names -----------------------------------------------------------------------------------------


def test_the_artifact_is_the_entry_whose_path_is_the_model() -> None:
    entries = [art("data", "data/clean", type="dataset"), art("clf", "models/model.pkl")]
    assert registry.artifact_name(entries, "models/model.pkl") == "clf"
    assert registry.artifact_name(entries, "./models//model.pkl/") == "clf"


def test_a_dvc_yaml_in_a_folder_names_it_dir_colon_name() -> None:
    entry = art("clf", "pipelines/train/models/model.pkl", "pipelines/train/dvc.yaml")
    assert registry.artifact_name([entry], "pipelines/train/models/model.pkl") == "pipelines/train:clf"
    # DVC in a subfolder of the Git repository: GTO's folder is relative to the Git root.
    assert registry.artifact_name([art("clf", "m.pkl")], "m.pkl", prefix="ml") == "ml:clf"
    assert registry.tag_prefix("pipelines/train:clf") == "pipelines/train=clf"


def test_no_entry_names_the_model() -> None:
    with pytest.raises(UsageError, match=r"no dvc.yaml artifacts: entry has path models/model.pkl") as e:
        registry.artifact_name([art("other", "models/other.pkl")], "models/model.pkl")
    assert "other (models/other.pkl in dvc.yaml)" in str(e.value)
    with pytest.raises(UsageError, match=r"artifacts now: none"):
        registry.artifact_name([], "m.pkl")


def test_the_entry_must_be_a_model_and_unambiguous() -> None:
    with pytest.raises(UsageError, match=r"artifacts: clf has type none: .*`type: model`"):
        registry.artifact_name([art("clf", "m.pkl", type=None)], "m.pkl")
    with pytest.raises(UsageError, match="several artifacts: entries"):
        registry.artifact_name([art("a", "m.pkl"), art("b", "m.pkl")], "m.pkl")
    picked = registry.artifact_name([art("a", "m.pkl", type="blob"), art("b", "m.pkl")], "m.pkl")
    assert picked == "b"


@pytest.mark.parametrize("bad", ["-clf", "clf-", "my model", "clf@1", "a:b"])
def test_names_gto_refuses_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="rename the entry"):
        registry.artifact_name([art(bad, "m.pkl")], "m.pkl")


def test_a_folder_that_cannot_be_in_a_tag_is_refused() -> None:
    with pytest.raises(UsageError, match="cannot be part of a Git tag name"):
        registry.artifact_name([art("clf", ".hidden/m.pkl", ".hidden/dvc.yaml")], ".hidden/m.pkl")


def test_stage_names() -> None:
    registry.check_stage("prod")
    registry.check_stage("eu/prod-2")
    with pytest.raises(UsageError, match=r"deploy environment prod-: .*rename it"):
        registry.check_stage("prod-")


def test_parse_tag_follows_gto() -> None:
    assert registry.parse_tag("clf@v1.2.3") == registry.ParsedTag("clf", "register", "v1.2.3")
    assert registry.parse_tag("clf@v1.2.3!") == registry.ParsedTag("clf", "deregister", "v1.2.3")
    assert registry.parse_tag("dir/x=clf#prod#7") == registry.ParsedTag(
        "dir/x:clf", "assign", None, "prod", 7
    )
    assert registry.parse_tag("clf#prod!#8") == registry.ParsedTag("clf", "unassign", None, "prod", 8)
    assert registry.parse_tag("clf@deprecated") == registry.ParsedTag("clf", "deprecate")
    assert registry.parse_tag("v1.0.0") is None and registry.parse_tag("clf@1.0.0") is None


# --- versions and counters -------------------------------------------------------------------------


def test_first_version_and_patch_bumps() -> None:
    assert registry.next_version([], "clf") == "v0.0.1"
    names = ["clf@v0.0.1", "clf@v0.1.0", "clf@v0.0.9", "clf2@v5.0.0", "other@v9.9.9", "v3.0.0"]
    assert registry.next_version(names, "clf") == "v0.1.1"
    # semver's bump of a pre-release drops it; a deregistered version still holds its name
    assert registry.next_version(["clf@v1.0.1-rc.1", "clf@v1.0.0"], "clf") == "v1.0.2"
    assert registry.next_version(["clf@v0.0.1", "clf@v0.0.2!"], "clf") == "v0.0.3"


def test_counter_counts_every_tag_of_the_artifact() -> None:
    assert registry.next_counter([], "clf") == 1
    names = ["clf#prod#3", "clf#staging#5", "clf@v0.0.1", "clf#dev", "clf2#prod#9", "clf#prod!#4"]
    assert registry.next_counter(names, "clf") == 6


def test_messages_read_back() -> None:
    message = registry.version_message("clf", "v0.0.1", H1)
    assert message.splitlines()[0] == "Registering artifact clf version v0.0.1"
    assert registry.message_hash(message) == H1 and registry.message_promotion(message) is None
    stage = registry.stage_message("d:clf", "prod", "v0.0.1", H1, "acme/deploy#12")
    assert stage.splitlines()[0] == "Assigning stage prod to artifact d:clf version v0.0.1"
    assert registry.message_hash(stage) == H1
    assert registry.message_promotion(stage) == "acme/deploy#12"
    assert registry.message_hash(None) is None


# --- plans -----------------------------------------------------------------------------------------


def test_version_plan_tags_a_new_model_once() -> None:
    plan = registry.plan_version([], "clf", H1, C1, BOT)
    assert plan.create is not None
    assert (plan.create.name, plan.create.commit, plan.create.version) == ("clf@v0.0.1", C1, "v0.0.1")
    assert registry.message_hash(plan.create.message) == H1

    tags = [version_tag("clf", "v0.0.1", C1, H1)]
    again = registry.plan_version(tags, "clf", H1, C1, BOT)
    assert again.create is None and "already v0.0.1 (clf@v0.0.1)" in again.detail
    # the same model at a later commit (nothing retrained): no new version
    assert registry.plan_version(tags, "clf", H1, C2, BOT).create is None

    nxt = registry.plan_version(tags, "clf", H2, C2, BOT).create
    assert nxt is not None and nxt.name == "clf@v0.0.2" and nxt.commit == C2


def test_version_plan_leaves_a_commit_that_has_a_version() -> None:
    human = TagInfo("clf@v1.0.0", C1, "Registering artifact clf version v1.0.0", "alice@example.com")
    plan = registry.plan_version([human], "clf", H1, C1, BOT)
    assert plan.create is None and "commit aaaaaaa already has version v1.0.0" in plan.detail
    # at another commit the human's version is bumped from, its message (no hash) identifies nothing
    nxt = registry.plan_version([human], "clf", H1, C2, BOT).create
    assert nxt is not None and nxt.name == "clf@v1.0.1"


def test_only_the_bots_tags_identify_a_model() -> None:
    forged = TagInfo("clf@v0.0.1", C1, registry.version_message("clf", "v0.0.1", H2), "eve@example.com")
    plan = registry.plan_version([forged], "clf", H2, C2, BOT)
    assert plan.create is not None and plan.create.name == "clf@v0.0.2"
    lightweight = TagInfo("clf@v0.0.7", C1)
    plan = registry.plan_version([lightweight], "clf", H1, C1, BOT)  # GTO ignores it; its name is taken
    assert plan.create is not None and plan.create.name == "clf@v0.0.8"


def promoted(number: int, env: str, digest: str, when: str, repo: str = "acme/models") -> Promoted:
    return Promoted(repo, number, env, digest, f"2026-01-0{when}T00:00:00Z")


def test_stage_plan_in_merge_order_with_counters() -> None:
    tags = [version_tag("clf", "v0.0.1", C1, H1), version_tag("clf", "v0.0.2", C2, H2)]
    prs = [
        promoted(7, "prod", H1, "3"),
        promoted(5, "staging", H1, "1"),
        promoted(6, "staging", H2, "2"),
        promoted(2, "prod", H3, "4", repo="acme/deploy"),
    ]
    plan = registry.plan_stages(tags, "clf", prs, BOT)
    assert [(t.name, t.commit, t.version, t.date) for t in plan.create] == [
        ("clf#staging#1", C1, "v0.0.1", "2026-01-01T00:00:00Z"),
        ("clf#staging#2", C2, "v0.0.2", "2026-01-02T00:00:00Z"),
        ("clf#prod#3", C1, "v0.0.1", "2026-01-03T00:00:00Z"),
    ]
    assert plan.create[2].message.startswith("Assigning stage prod to artifact clf version v0.0.1\n")
    assert registry.message_promotion(plan.create[2].message) == "acme/models#7"
    assert plan.waiting == ("acme/deploy#2 (prod): model 33333333 has no version tag yet",)

    # Rerun with those tags: nothing new; a rollback (a new PR for an older model) is a new assignment.
    made = [ours(t.name, t.commit, t.message) for t in plan.create]
    again = registry.plan_stages(tags + made, "clf", prs, BOT)
    assert again.create == () and {p.number for p in again.done} == {5, 6, 7}
    rollback = registry.plan_stages(tags + made, "clf", [*prs, promoted(9, "staging", H1, "5")], BOT)
    assert [t.name for t in rollback.create] == ["clf#staging#4"]


def test_stage_plan_counts_after_every_tag_and_refuses_bad_stages() -> None:
    tags = [version_tag("clf", "v0.0.1", C1, H1), TagInfo("clf#qa#41", C1, "by hand", "bob@example.com")]
    plan = registry.plan_stages(tags, "clf", [promoted(1, "prod", H1, "1")], BOT)
    assert [t.name for t in plan.create] == ["clf#prod#42"]
    with pytest.raises(UsageError, match="deploy environment prod_"):
        registry.plan_stages(tags, "clf", [promoted(1, "prod_", H1, "1")], BOT)
