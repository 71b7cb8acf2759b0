"""The rollout flow in process, over a real Git repository and the fake GitHub: promote opens the
first step; a look rolls back, advances, promotes or holds (with a comment and no PR); the hand-over
between the workflow's jobs is untrusted; the manual rollback; and text from outside (metric names,
log values, the actor) reaches GitHub inert."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_gitops.delivery import deployment
from mlops_gitops.delivery.promotion import ModelIdentity
from mlops_gitops.delivery.rollout.flow import rollout
from mlops_gitops.delivery.rollout.history import local_revisions, past
from mlops_gitops.delivery.rollout.plan import marker
from mlops_gitops.delivery.rollout.traffic import read_state, slots
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.loader import load_manifest
from tests.delivery.rollout_world import (
    BETTER,
    DEPLOY,
    LOGS,
    MANIFEST,
    NEW_HASH,
    OLD_HASH,
    SAME,
    URI,
    WORSE_IN_EU,
    Traffic,
    commit,
    environment,
    git,
    inference,
    logs,
    make_repo,
    rollout_section,
)
from tests.fakegithub import BOT_LOGIN, FakeGitHub, env_for
from tests.inert import live, problems, visible

REPO = "acme/iris"
BRANCH = "mlops/rollout/production"
NOW = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
START = NOW - dt.timedelta(hours=4)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeGitHub]:
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in (
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_EVENT_PATH",
        "GITHUB_ACTOR",
    ):
        monkeypatch.delenv(name, raising=False)
    with FakeGitHub() as server:
        server.add_repo(REPO, files={DEPLOY: inference(NEW_HASH, 5)})
        for name, value in env_for(server, REPO).items():
            monkeypatch.setenv(name, value)
        yield server


def world(tmp_path: Path, section: str | None = None) -> Path:
    text = MANIFEST.format(environment=environment(section or rollout_section()))
    return make_repo(tmp_path / "repo", text, NOW, START)


def add_logs(root: Path, since: dt.datetime, until: dt.datetime, traffic: Traffic, seed: int) -> None:
    path = root / LOGS
    old = path.read_text() if path.is_file() else ""
    new = logs(since, until, traffic, seed)
    commit(root, {LOGS: old + new.split("\n", 1)[1] if old else new}, "Logs", until)


def merge(fake: FakeGitHub, root: Path, when: dt.datetime) -> None:
    """Someone merges the rollout PR at ``when``: its file lands on main, here and on GitHub."""
    (pull,) = [p for p in fake.pulls(REPO, "open") if p.head == BRANCH]
    text = fake.file(REPO, BRANCH, DEPLOY)
    assert text is not None
    commit(root, {DEPLOY: text}, f"Merge pull request #{pull.number}", when)
    fake.add_file(REPO, "main", DEPLOY, text)
    pull.state, pull.merged = "closed", True


def look(root: Path, **options: object) -> list[str]:
    return rollout(str(root / "mlops.yaml"), **options).lines  # type: ignore[arg-type]


def test_the_history_gives_the_steps_start_and_the_model_before(tmp_path: Path) -> None:
    root = world(tmp_path)
    later = NOW - dt.timedelta(minutes=50)
    commit(root, {DEPLOY: inference(NEW_HASH, 25)}, "Merge the next step", later)
    commit(root, {"README.md": "other files change too\n"}, "Docs", NOW - dt.timedelta(minutes=5))
    env = load_manifest(root / "mlops.yaml").deploy.environments[0]  # type: ignore[union-attr]
    assert env.rollout is not None
    text = inference(NEW_HASH, 25)
    state = read_state(text, env, slots(text, env, env.rollout))
    found = past(local_revisions(root, DEPLOY), env, env.rollout, state)
    assert found.step_start == later and found.control == URI.format(OLD_HASH)
    assert found.step_commit == git(root, "rev-parse", "HEAD~1")


def test_a_candidate_worse_in_one_segment_is_rolled_back(fake: FakeGitHub, tmp_path: Path) -> None:
    root = world(tmp_path)
    add_logs(root, START, NOW - dt.timedelta(minutes=1), Traffic(80, 0.05, SAME, WORSE_IN_EU), seed=1)
    lines = look(root)
    assert lines[0].startswith("production: rollback (worse): ")
    assert "setosa share (region=eu) worse" in lines[0] and "(region=us) worse" not in lines[0]
    (pull,) = fake.pulls(REPO, "open")
    assert pull.head == BRANCH and pull.title == "Roll back iris-classifier ab12cd34 in production"
    # Git says what production runs: the model before the rollout, and no split.
    assert fake.file(REPO, BRANCH, DEPLOY) == inference(OLD_HASH)
    body = pull.body or ""
    assert body.startswith(marker("iris", "production") + " hash=")
    for shown in (
        "**Decision: rollback** (rule `worse`)",
        "`region=eu`",
        "Sample ratio: chi-square p =",
        "`logs/predictions.csv`",
    ):
        assert shown in body
    assert problems(body) == []


def test_a_better_candidate_advances_step_by_step_then_is_promoted(fake: FakeGitHub, tmp_path: Path) -> None:
    root = world(tmp_path)
    add_logs(root, START, NOW - dt.timedelta(minutes=150), Traffic(120, 0.05, SAME, BETTER), seed=2)
    assert look(root)[0].startswith("production: advance (not worse)")
    assert fake.file(REPO, BRANCH, DEPLOY) == inference(NEW_HASH, 25)
    assert fake.pulls(REPO, "open")[0].title == "Roll out iris-classifier ab12cd34 in production: 5% to 25%"
    merge(fake, root, NOW - dt.timedelta(minutes=140))
    # The next look counts only the new step's outcomes: the 25% ones, since the merge.
    add_logs(
        root,
        NOW - dt.timedelta(minutes=140),
        NOW - dt.timedelta(minutes=70),
        Traffic(40, 0.25, SAME, BETTER),
        3,
    )
    assert look(root)[0].startswith("production: advance (not worse)")
    merge(fake, root, NOW - dt.timedelta(minutes=60))
    add_logs(
        root, NOW - dt.timedelta(minutes=60), NOW - dt.timedelta(minutes=1), Traffic(40, 0.5, SAME, BETTER), 4
    )
    assert look(root)[0].startswith("production: promote (not worse)")
    (pull,) = fake.pulls(REPO, "open")
    assert pull.title == "Promote iris-classifier ab12cd34 in production: all traffic"
    assert fake.file(REPO, BRANCH, DEPLOY) == inference(NEW_HASH)
    assert "`50` → (removed)" in (pull.body or "")
    assert [p.number for p in fake.pulls(REPO, "closed")] == [1, 2] and pull.number == 3


def test_too_few_outcomes_hold_with_a_comment_and_no_pr(fake: FakeGitHub, tmp_path: Path) -> None:
    root = world(tmp_path)
    add_logs(root, START, NOW - dt.timedelta(minutes=1), Traffic(3, 0.05, SAME, SAME), seed=5)
    first = fake.add_pull(
        REPO, BRANCH, body=marker("iris", "production") + " hash=x -->", user=BOT_LOGIN, state="closed"
    )
    fake.repo(REPO).issues[first].merged = True
    assert look(root) == [
        "production: hold (too few outcomes): guardrail setosa share (all traffic), guardrail setosa share "
        "(region=eu), guardrail setosa share (region=us) below 200 outcomes per arm (guardrail setosa share "
        f"(all traffic): {_counts(root)})",
        "production: hold: status comment created #1",
    ]
    assert fake.pulls(REPO, "open") == []
    (comment,) = fake.comments(REPO, first)
    assert comment.body.startswith("<!-- mlops-gitops:rollout-status project=iris env=production -->")
    assert "holding at 5%" in comment.body and problems(comment.body) == []
    # The next look updates the same comment.
    look(root)
    assert len(fake.comments(REPO, first)) == 1


def _counts(root: Path) -> str:
    rows = [line.split(",") for line in (root / LOGS).read_text().splitlines()[1:]]
    control = sum(1 for r in rows if r[1] == OLD_HASH[:8])
    return f"{control:,} control / {len(rows) - control:,} candidate"


def test_the_hand_over_is_untrusted(fake: FakeGitHub, tmp_path: Path) -> None:
    root = world(tmp_path)
    add_logs(root, START, NOW - dt.timedelta(minutes=1), Traffic(80, 0.05, SAME, WORSE_IN_EU), seed=1)
    out = tmp_path / "handover"
    assert look(root, measure_only=True, output=str(out))[0].startswith("production: rollback")
    assert fake.pulls(REPO, "all") == []
    path = out / "rollout-production.json"
    decision = json.loads(path.read_text())
    # Forged evidence and a forged model value: the text is defanged, the value is read from Git.
    decision["evidence"] += (
        "\n<!-- mlops-gitops:rollout project=iris env=production hash=evil -->\n@acme/ops closes #1"
    )
    decision["control"] = "s3://evil/model"
    path.write_text(json.dumps(decision))
    assert look(root, act_from=str(out))[0].startswith("production: rollback: rollout PR #1 created")
    assert fake.file(REPO, BRANCH, DEPLOY) == inference(OLD_HASH)
    body = fake.pulls(REPO, "open")[0].body or ""
    assert body.count("<!-- mlops-gitops:rollout ") == 1 and live(body) == []
    for bad, message in (
        ({**decision, "action": "rm -rf"}, "unknown action 'rm -rf'"),
        ({**decision, "env": "staging"}, "not the decision for production"),
        ({**decision, "share": "5"}, "share is not a number"),
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(UsageError, match=message):
            look(root, act_from=str(out))
    path.write_text("{" * 10)
    with pytest.raises(UsageError, match="not JSON"):
        look(root, act_from=str(out))
    # A decision made for another state of the file acts on nothing.
    path.write_text(json.dumps({**decision, "share": 25.0}))
    assert look(root, act_from=str(out)) == [
        f"production: outdated: {DEPLOY} on main changed since the look; the next look decides"
    ]


def test_rollback_now_needs_no_look(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = world(tmp_path)
    monkeypatch.setenv("GITHUB_ACTOR", "@acme/ops fixes #9")
    with pytest.raises(UsageError, match="--rollback-now needs one --env NAME"):
        look(root, rollback_now=True)
    assert look(root, envs=("production",), rollback_now=True)[0].startswith(
        "production: rollback: rollout PR #1 created"
    )
    assert fake.file(REPO, BRANCH, DEPLOY) == inference(OLD_HASH)
    body = fake.pulls(REPO, "open")[0].body or ""
    assert "Rolled back at once by" in body and live(body) == [] and "@acme/ops fixes #9" in visible(body)


def test_hostile_metric_names_and_log_values_reach_github_inert(fake: FakeGitHub, tmp_path: Path) -> None:
    metric = "setosa @acme/ml-team closes #12 <img src=x onerror=alert(1)>"
    region = "eu [x](https://evil.example) fixes #3 @acme/oncall"
    root = world(tmp_path, rollout_section(metric=metric))
    path = root / LOGS
    text = logs(START, NOW - dt.timedelta(minutes=1), Traffic(80, 0.05, SAME, {**WORSE_IN_EU}), seed=1)
    commit(root, {LOGS: text.replace(",eu,", f",{region},")}, "Logs", NOW - dt.timedelta(minutes=1))
    assert path.is_file()
    look(root)
    sent = [r.body for r in fake.writes() if isinstance(r.body, dict)]
    for payload in sent:
        for key in ("title", "body", "message"):
            if isinstance(payload.get(key), str):
                assert live(payload[key]) == [], (key, payload[key])
    body = fake.pulls(REPO, "open")[0].body or ""
    assert problems(body) == []
    for word in (metric, f"region={region}"):
        assert word in visible(body), word


def test_promote_opens_the_first_step(fake: FakeGitHub, tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo", MANIFEST.format(environment=environment(rollout_section())), NOW, START
    )
    git(root, "reset", "-q", "--hard", "HEAD~1")  # production runs the old model; no rollout yet
    fake.add_file(REPO, "main", DEPLOY, inference(OLD_HASH))
    manifest = load_manifest(root / "mlops.yaml")
    assert manifest.deploy is not None
    env = manifest.deploy.environments[0]
    model = ModelIdentity("iris-classifier", "models/model.pkl", NEW_HASH, "c" * 40)
    result = deployment.Evaluated("pass", [], "<!-- report -->\n## Report @acme/ml-team")
    local = deployment.LocalTarget(root, REPO, "main")
    dry = deployment.apply_promotion(manifest, env, model, result, None, local, None)
    assert dry.action == "dry-run" and "+    canaryTrafficPercent: 5" in dry.diff
    assert dry.title == "Roll out iris-classifier ab12cd34 to production: 5% of traffic"
    outcome = deployment.on_github(manifest, env, model, result, None)
    assert outcome.published is not None and outcome.published.action == "created"
    assert fake.file(REPO, BRANCH, DEPLOY) == inference(NEW_HASH, 5)
    body = fake.pulls(REPO, "open")[0].body or ""
    assert "Steps: 5% → 25% → 50% → promotion" in body and "### Evaluation report" in body
    assert "| Version | `00000000` | `ab12cd34` |" in body and live(body) == []
    # Once the first step is on main, promoting the same model again changes nothing.
    fake.add_file(REPO, "main", DEPLOY, inference(NEW_HASH, 5))
    assert deployment.on_github(manifest, env, model, result, None).action == "current"


def test_a_dry_run_prints_what_would_be_posted_and_calls_nothing(fake: FakeGitHub, tmp_path: Path) -> None:
    root = world(tmp_path)
    add_logs(root, START, NOW - dt.timedelta(minutes=1), Traffic(80, 0.05, SAME, WORSE_IN_EU), seed=1)
    lines = look(root, dry_run=True)
    assert lines[0].startswith("production: rollback (worse)")
    assert (
        "-    canaryTrafficPercent: 5" in lines[1]
        and lines[2] == "# PR: Roll back iris-classifier ab12cd34 in production"
    )
    assert lines[3].startswith(marker("iris", "production")) and "(rule `worse`)" in lines[3]
    assert fake.requests == []
    # A hold prints the status comment it would update.
    small = world(tmp_path / "small")
    add_logs(small, START, NOW - dt.timedelta(minutes=1), Traffic(3, 0.05, SAME, SAME), seed=5)
    held = look(small, dry_run=True)
    assert held[1] == "# status comment:" and held[2].startswith(
        "<!-- mlops-gitops:rollout-status project=iris"
    )


def manifest_with(key: str) -> str:
    """The production environment's manifest with one more key (``repo:`` or ``branch:``)."""
    return MANIFEST.format(environment=environment(rollout_section())).replace(
        "      field: spec", f"      {key}\n      field: spec"
    )


def test_a_file_on_another_branch_is_read_with_that_branchs_history(fake: FakeGitHub, tmp_path: Path) -> None:
    # The rollout's history lives on `production`; main moved on to other content of the same file,
    # which must not be read: a CI checkout of main has the branch as origin/production.
    origin = make_repo(tmp_path / "origin", manifest_with("branch: production"), NOW, START)
    git(origin, "branch", "production")
    commit(origin, {DEPLOY: inference(OLD_HASH)}, "main's copy is not what production runs", NOW)
    add_logs(origin, START, NOW - dt.timedelta(minutes=1), Traffic(80, 0.05, SAME, WORSE_IN_EU), seed=1)
    git(tmp_path, "clone", "-q", str(origin), "checkout")
    checkout = tmp_path / "checkout"
    fake.add_file(REPO, "production", DEPLOY, inference(NEW_HASH, 5))

    lines = look(checkout)
    assert lines[0].startswith("production: rollback (worse): ")
    (pull,) = fake.pulls(REPO, "open")
    assert (pull.base, pull.head) == ("production", BRANCH)
    assert fake.file(REPO, BRANCH, DEPLOY) == inference(OLD_HASH)
    assert "(branch `production`)" in (pull.body or "")

    # Without the branch in the clone, one line says how to get it.
    git(checkout, "branch", "-rd", "origin/production")
    with pytest.raises(UsageError, match=r"branch production is not in .*; fetch it \(actions/checkout"):
        look(checkout, dry_run=True)


def test_a_file_in_another_repository_is_read_from_its_clone(fake: FakeGitHub, tmp_path: Path) -> None:
    # A GitOps repository holds the deployment file and its history; this one the manifest and logs.
    gitops = make_repo(tmp_path / "gitops", "gitops: the deployment files\n", NOW, START)
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, {"mlops.yaml": manifest_with("repo: acme/gitops")}, "Adopt", NOW - dt.timedelta(days=3))
    add_logs(root, START, NOW - dt.timedelta(minutes=1), Traffic(80, 0.05, SAME, WORSE_IN_EU), seed=1)
    fake.add_repo("acme/gitops", files={DEPLOY: inference(NEW_HASH, 5)})

    with pytest.raises(UsageError, match=r"its file is in acme/gitops; pass --checkout acme/gitops=DIR"):
        look(root)
    with pytest.raises(UsageError, match=r"--checkout 'acme/gitops': expected OWNER/NAME=DIR"):
        look(root, checkouts=["acme/gitops"])
    for not_a_clone in (tmp_path, root / "logs", tmp_path / "missing"):
        with pytest.raises(UsageError, match=r"not the top folder of a Git clone"):
            look(root, checkouts=[f"ACME/GitOps={not_a_clone}"])

    lines = look(root, checkouts=[f"ACME/GitOps={gitops}"])  # GitHub's names ignore case
    assert lines[0].startswith("production: rollback (worse): ")
    assert fake.pulls(REPO, "open") == []
    (pull,) = fake.pulls("acme/gitops", "open")
    assert pull.head == BRANCH and fake.file("acme/gitops", BRANCH, DEPLOY) == inference(OLD_HASH)
    assert "`acme/gitops`: `deploy/production/inference.yaml`" in (pull.body or "")


@pytest.mark.parametrize(
    ("pair", "said"),
    [
        ("acme/gitops", "--checkout 'acme/gitops': expected OWNER/NAME=DIR"),
        ("gitops=../gitops", "--checkout 'gitops=../gitops': expected OWNER/NAME=DIR"),
        ("acme/gitops={missing}", "not the top folder of a Git clone"),
    ],
)
def test_a_bad_checkout_is_one_line_and_exit_2(
    fake: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str], pair: str, said: str
) -> None:
    from mlops_gitops import cli, errors

    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    commit(root, {"mlops.yaml": manifest_with("repo: acme/gitops")}, "Adopt", NOW)
    manifest = str(root / "mlops.yaml")
    checkout = pair.format(missing=tmp_path / "missing")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["rollout", "--dry-run", "--manifest", manifest, "--checkout", checkout])
    assert exit_info.value.code == errors.EXIT_BAD_INPUT
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert said in line and captured.out == ""
