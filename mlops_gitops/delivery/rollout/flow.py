"""The ``rollout`` command's flow: look at every environment whose rollout is in progress, decide,
and act through one pull request per environment (or the status comment, for a hold).

The generated mlops-rollout workflow splits it in two, as mlops-monitor does: a read-only job
*looks* (``--measure-only --output DIR``: reads the deployment file and its history from the
checkout, the outcomes from the logs or Prometheus, decides, and writes one ``rollout-ENV.json`` per
environment), and a minimal job holding the write token *acts* on that directory (``--act-from``).
The act job takes from the file only the action and the evidence's Markdown, both checked as
untrusted input: it reads the deployment file on GitHub itself, refuses a decision made for another
state of it (the file moved on: the next look decides), builds the edit itself, and defangs the text.
``--rollback-now`` opens the rollback at once, without a look.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_gitops.adapters import git
from mlops_gitops.delivery.rollout import body, plan
from mlops_gitops.delivery.rollout.history import local_revisions, past
from mlops_gitops.delivery.rollout.measure import arm, look, measure, next_share
from mlops_gitops.delivery.rollout.traffic import Slots, State, read_state, slots
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Environment, Manifest

ARTIFACT = "rollout-{env}.json"
MAX_ARTIFACT = 2 << 20  # the evidence of one look is tens of kilobytes; more is not ours
DECISIONS = ("advance", "promote", "rollback", "hold", "idle")
TOKEN_VARS = ("MLOPS_GITOPS_TOKEN", "GITHUB_TOKEN")


@dataclass(frozen=True)
class Looked:
    """One environment's look, as handed from the measuring job to the acting one: the action, the
    rule and reason, the state it was decided for (share and both values), and the evidence."""

    env: str
    action: str  # advance | promote | rollback | hold | idle (no rollout in progress)
    rule: str
    reason: str
    share: float | None
    candidate: str | None
    control: str | None
    evidence: str

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Run:
    """What ``rollout`` prints (one line per environment and act), its step outputs and exit code."""

    lines: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0

    @property
    def stdout(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)

    @property
    def stderr(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class Checkouts:
    """Where deployment files and their history are read: this project's checkout (``root``, whose
    logs the looks read too), and clones of the other repositories environments deploy to, by
    ``owner/name`` (the workflow checks each out with its full history; ``--checkout``)."""

    root: Path
    others: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def parse(cls, root: Path, pairs: Sequence[str]) -> Checkouts:
        """From ``OWNER/NAME=DIR`` pairs (``--checkout``)."""
        others: dict[str, Path] = {}
        for pair in pairs:
            repo, sep, path = pair.partition("=")
            if not sep or repo.count("/") != 1 or not all(repo.split("/")) or not path:
                raise UsageError(f"--checkout {pair!r}: expected OWNER/NAME=DIR")
            others[repo] = Path(path)
        return cls(root, others)

    @functools.cached_property
    def top(self) -> Path:
        """The top folder of this checkout's work tree, found once per command."""
        return git.toplevel(self.root) or self.root

    @functools.cached_property
    def this_repository(self) -> str | None:
        """``owner/name`` of this checkout on GitHub (its origin), asked of git once per command."""
        return git.github_repository(self.top)

    def of(self, repo: str) -> Path | None:
        """The clone of ``repo`` (GitHub's names ignore case), or None."""
        wanted = repo.casefold()
        return next((path for name, path in self.others.items() if name.casefold() == wanted), None)


@dataclass(frozen=True)
class Local:
    """The deployment file as its branch's tip holds it (``rev`` in the clone at ``top``)."""

    top: Path
    rev: str
    text: str
    places: Slots
    state: State


def rollout(
    manifest_path: str,
    envs: Sequence[str] = (),
    measure_only: bool = False,
    output: str | None = None,
    act_from: str | None = None,
    rollback_now: bool = False,
    dry_run: bool = False,
    checkouts: Sequence[str] = (),
) -> Run:
    """The command's one call: look and act (the default), only look, only act, or roll back now.
    ``checkouts``: ``OWNER/NAME=DIR``, clones of other repositories holding deployment files."""
    from mlops_gitops.manifest.loader import load_manifest

    manifest = load_manifest(manifest_path)
    root = Checkouts.parse(Path(manifest_path).resolve().parent, checkouts)
    chosen = environments(manifest, envs)
    run = Run()
    if rollback_now:
        if len(envs) != 1:
            raise UsageError("--rollback-now needs one --env NAME")
        for env in chosen:
            act(manifest, env, None, root, run)
        return run
    if act_from is not None:
        for env, looked in read_looks(Path(act_from), manifest, chosen):
            act(manifest, env, looked, root, run)
        return run
    now = dt.datetime.now(dt.timezone.utc)
    looks = [(env, look_at(manifest, env, root, now)) for env in chosen]
    for env, looked in looks:
        reason = body.why(looked.action, looked.rule, looked.reason)
        run.lines.append(
            f"{env.name}: {looked.action}" + (f" ({looked.rule}): {reason}" if looked.rule else "")
        )
    if output is not None:
        write_looks(Path(output), [lk for _, lk in looks])
    _summary([lk for _, lk in looks])
    if dry_run:
        for env, looked in looks:
            run.lines += dry(manifest, env, looked, root)
        return run
    if measure_only:
        return run
    for env, looked in looks:
        act(manifest, env, looked, root, run, trusted=True)
    return run


def environments(manifest: Manifest, names: Sequence[str]) -> list[Environment]:
    """The environments to look at: those named (each must have a rollout), else every one with one."""
    envs = list(manifest.deploy.environments) if manifest.deploy else []
    if not names:
        chosen = [e for e in envs if e.rollout is not None]
        if not chosen:
            raise UsageError("no deploy environment has a rollout section: nothing to look at")
        return chosen
    by_name = {e.name: e for e in envs}
    out = []
    for name in names:
        env = by_name.get(name)
        if env is None or env.rollout is None:
            have = ", ".join(e.name for e in envs if e.rollout is not None) or "none"
            raise UsageError(f"--env {name}: not a deploy environment with a rollout (have: {have})")
        out.append(env)
    return out


# --- looking -------------------------------------------------------------------------------------


def local(root: Checkouts, env: Environment, default_branch: str) -> Local:
    """The deployment file at its branch's tip, in the clone that holds its history: this checkout
    (of the default branch: the workflow's schedule checks it out) or a clone of ``env.repo``; on
    ``env.branch`` when it names another branch (a full clone has every branch as ``origin/NAME``)."""
    assert env.rollout is not None
    other = env.repo is not None and env.repo.casefold() != (root.this_repository or "").casefold()
    if other:
        assert env.repo is not None
        clone = root.of(env.repo)
        if clone is None:
            raise UsageError(
                f"deploy environment {env.name}: its file is in {env.repo}; pass --checkout "
                f"{env.repo}=DIR, a clone of it with its full history (mlops-rollout checks it out)"
            )
        top = git.toplevel(clone) if clone.is_dir() else None
        if top is None or top.resolve() != clone.resolve():
            # Not the top of a clone (a folder inside this repository would find this one's top).
            raise UsageError(f"--checkout {env.repo}={clone}: not the top folder of a Git clone")
    else:
        top = root.top
    rev = _tip(top, env, None if other else default_branch)
    data = git.show(rev, env.file, top)
    if data is None:
        where = f"{env.repo}'s " if other else ""
        raise UsageError(f"deploy environment {env.name}: {env.file} is not in {where}{_named(rev)}")
    text = data.decode("utf-8")
    places = slots(text, env, env.rollout)
    return Local(top, rev, text, places, read_state(text, env, places))


def _tip(top: Path, env: Environment, checked_out: str | None) -> str:
    """The revision whose first parents are the environment's branch: what is checked out, unless
    the environment names another branch than ``checked_out`` (None: the clone's own branch)."""
    if env.branch is None or env.branch == checked_out:
        return "HEAD"
    for ref in (f"refs/remotes/origin/{env.branch}", f"refs/heads/{env.branch}"):
        if git.resolve(ref, top) is not None:
            return ref
    raise UsageError(
        f"deploy environment {env.name}: branch {env.branch} is not in {top}; fetch it "
        "(actions/checkout with fetch-depth: 0 fetches every branch)"
    )


def _named(rev: str) -> str:
    return (
        "the commit checked out"
        if rev == "HEAD"
        else rev.removeprefix("refs/remotes/").removeprefix("refs/heads/")
    )


def look_at(manifest: Manifest, env: Environment, root: Checkouts, now: dt.datetime) -> Looked:
    """Measure the step in progress and decide (``idle`` when no rollout is in progress)."""
    rollout, deploy = env.rollout, manifest.deploy
    assert rollout is not None and deploy is not None
    here = local(root, env, manifest.default_branch)
    state = here.state
    if state.share is None or state.candidate is None:
        return Looked(env.name, "idle", "", "no rollout in progress", None, None, state.control, "")
    history = past(local_revisions(here.top, env.file, here.rev), env, rollout, state)
    control_value = state.control or history.control
    if control_value is None:
        raise UsageError(
            f"deploy environment {env.name}: no commit before the rollout began holds the current "
            f"model's value in {env.file}; is the history complete (fetch-depth: 0)?"
        )
    control = arm(control_value, env, rollout, deploy.model.name)
    candidate = arm(state.candidate, env, rollout, deploy.model.name)
    measured = measure(rollout, control, candidate, history.step_start, now, root.root)
    decision = look(rollout, state.share, measured, now - history.step_start)
    where = _where(manifest, env, env.repo or root.this_repository or "this repository")
    shown = body.Evidence(
        control, candidate, state.share, history.step_commit, history.step_start, now, decision, measured
    )
    evidence = "\n".join(body.evidence(where, shown))
    return Looked(
        env.name,
        decision.action,
        decision.rule,
        decision.reason,
        state.share,
        state.candidate,
        control_value,
        evidence,
    )


def _where(manifest: Manifest, env: Environment, repo: str, branch: str | None = None) -> body.Where:
    assert manifest.deploy is not None and env.rollout is not None
    return body.Where(
        manifest.name,
        env.name,
        manifest.deploy.model.name,
        repo,
        branch or env.branch or manifest.default_branch,
        env.file,
        env.rollout,
    )


def write_looks(directory: Path, looks: Sequence[Looked]) -> None:
    from mlops_gitops.adapters.atomic import write_atomic

    directory.mkdir(parents=True, exist_ok=True)
    for looked in looks:
        text = json.dumps(looked.to_json(), indent=2, ensure_ascii=False) + "\n"
        write_atomic(directory / ARTIFACT.format(env=looked.env), text, "rollout decision")


def _summary(looks: Sequence[Looked]) -> None:
    from mlops_gitops.adapters import actions_runtime as gha

    parts = [f"## Rollout of {lk.env}: {lk.action}\n\n{lk.evidence or lk.reason}\n" for lk in looks]
    gha.append_summary("\n".join(parts))


def dry(manifest: Manifest, env: Environment, looked: Looked, root: Checkouts) -> list[str]:
    """What acting on ``looked`` would post, from the checkout's file: the PR's title, file diff and
    body, or the hold's status comment; nothing for an environment with no rollout in progress."""
    from mlops_gitops.delivery.promotion import file_diff

    if looked.action == "idle":
        return []
    assert manifest.deploy is not None and env.rollout is not None and looked.share is not None
    here = local(root, env, manifest.default_branch)
    where = _where(manifest, env, env.repo or root.this_repository or "this repository")
    if looked.action == "hold":
        return ["# status comment:", body.status_body(where, looked.share, _now(), looked.evidence)]
    control = here.state.control or looked.control or ""
    change = _change(looked.action, here.text, here.places, here.state, control, env)
    title, content = _titled(manifest, env, change, looked.candidate or "")
    diff = file_diff(here.text, change.text, env.file)
    return [diff.rstrip("\n"), f"# PR: {title}", body.move_body(where, change, content, looked.evidence)]


# --- the hand-over -------------------------------------------------------------------------------


def read_looks(
    directory: Path, manifest: Manifest, chosen: Sequence[Environment]
) -> list[tuple[Environment, Looked]]:
    """The measuring job's decisions, checked as untrusted input: one per chosen environment."""
    out = []
    for env in chosen:
        path = directory / ARTIFACT.format(env=env.name)
        try:
            raw = path.read_bytes()
        except OSError:
            raise UsageError(f"{path}: no decision for {env.name} (was the measuring job green?)") from None
        if len(raw) > MAX_ARTIFACT:
            raise UsageError(f"{path}: larger than {MAX_ARTIFACT >> 20} MiB: not a rollout decision")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise UsageError(f"{path}: not JSON") from None
        out.append((env, _looked(data, env, path)))
    return out


def _looked(data: object, env: Environment, path: Path) -> Looked:
    def text(key: str, optional: bool = False) -> Any:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise UsageError(f"{path}: {key} is not text")
        return value

    if not isinstance(data, dict) or data.get("env") != env.name:
        raise UsageError(f"{path}: not the decision for {env.name}")
    action = text("action")
    if action not in DECISIONS:
        raise UsageError(f"{path}: unknown action {action[:40]!r}")
    share = data.get("share")
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))):
        raise UsageError(f"{path}: share is not a number")
    return Looked(
        env.name,
        action,
        text("rule"),
        text("reason"),
        None if share is None else float(share),
        text("candidate", True),
        text("control", True),
        text("evidence"),
    )


# --- acting --------------------------------------------------------------------------------------


def act(
    manifest: Manifest,
    env: Environment,
    looked: Looked | None,
    root: Checkouts,
    run: Run,
    trusted: bool = False,
) -> None:
    """Publish what ``looked`` decided (None: the rollback at once) as the environment's one pull
    request, or the status comment for a hold; against the deployment file as GitHub has it now."""
    from mlops_gitops.adapters.github import client
    from mlops_gitops.adapters.github.pulls import read_file
    from mlops_gitops.delivery.rollout.github import Pull, post_status

    if looked is not None and looked.action == "idle":
        return
    assert manifest.deploy is not None and env.rollout is not None
    ctx = client.GitHubContext.from_env(token_vars=TOKEN_VARS)
    gh = client.connect(ctx, token_hint="MLOPS_GITOPS_TOKEN or GITHUB_TOKEN")
    with client.translated_errors(
        ctx, f"reading {env.file}", "contents: write and pull-requests: write"
    ) as step:
        repo = gh.get_repo(ctx.require_repository(env.repo))
        base = env.branch or str(repo.default_branch)
        text = read_file(repo, env.file, base)
        if text is None:
            raise UsageError(f"deploy environment {env.name}: {env.file} is not on {base}")
        places = slots(text, env, env.rollout)
        state = read_state(text, env, places)
        where = _where(manifest, env, str(repo.full_name), base)
        pull = Pull(repo, base, env.file, manifest.deploy.labels)
        evidence = _inert(looked.evidence) if looked is not None else ""
        if looked is not None and (state.share, state.candidate) != (looked.share, looked.candidate):
            run.lines.append(
                f"{env.name}: outdated: {env.file} on {base} changed since the look; the next look decides"
            )
            return
        if state.share is None or state.candidate is None:
            run.lines.append(
                f"{env.name}: no rollout in progress in {env.file} on {base}: nothing to roll back"
            )
            return
        if looked is not None and looked.action == "hold":
            step.action = f"commenting the hold on {env.name}'s rollout pull request"
            status = post_status(
                pull, manifest.name, env.name, body.status_body(where, state.share, _now(), evidence)
            )
            shown = f"#{status.number}" if status.number else "(no rollout pull request to comment on)"
            run.lines.append(f"{env.name}: hold: status comment {status.action} {shown}")
            return
        move = looked.action if looked is not None else "rollback"
        control = state.control or _control(manifest, env, root, state, looked if trusted else None)
        change = _change(move, text, places, state, control, env)
        step.action = f"opening the rollout PR ({move}) in {repo.full_name}"
        _publish(manifest, env, where, pull, change, state, evidence, looked, run)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _inert(evidence: str) -> str:
    """The measuring job's Markdown as text from outside: no mention, reference or hidden marker."""
    from mlops_gitops.reporters.markup import defang

    return defang(evidence[:200_000]).replace("<!--", "&lt;!--")


def _control(
    manifest: Manifest, env: Environment, root: Checkouts, state: State, looked: Looked | None
) -> str:
    """The current model's value when the candidate replaced it in place: from this checkout's history
    (never from the hand-over, which is untrusted), or from a look made in this process."""
    if looked is not None and looked.control:
        return looked.control
    assert env.rollout is not None
    here = local(root, env, manifest.default_branch)
    if (here.state.share, here.state.candidate) != (state.share, state.candidate):
        raise UsageError(
            f"deploy environment {env.name}: the checkout's {env.file} is not the file on GitHub; check out "
            "the branch the rollout runs on"
        )
    found = past(local_revisions(here.top, env.file, here.rev), env, env.rollout, here.state).control
    if found is None:
        raise UsageError(
            f"deploy environment {env.name}: no commit before the rollout began holds the current model's "
            f"value in {env.file}; is the history complete (fetch-depth: 0)?"
        )
    return found


def _change(move: str, text: str, places: Slots, state: State, control: str, env: Environment) -> plan.Change:
    assert env.rollout is not None and state.share is not None
    if move == "advance":
        share = next_share(env.rollout, state.share)
        if share is None:
            raise UsageError(
                f"deploy environment {env.name}: no step after {state.share:g}; the look said advance"
            )
        return plan.advance(text, places, state, share, env.file)
    if move == "promote":
        return plan.promote(text, places, state, env.file)
    return plan.rollback(text, places, state, control, env.file)


def _titled(manifest: Manifest, env: Environment, change: plan.Change, candidate: str) -> tuple[str, str]:
    """A move's pull-request title, and the content hash its body carries (see :mod:`plan`), for the
    candidate's value ``candidate``: what the dry run prints is what the act job publishes."""
    assert manifest.deploy is not None and env.rollout is not None
    version = arm(candidate, env, env.rollout, manifest.deploy.model.name).version
    title = plan.title(
        change.move, manifest.deploy.model.name, env.name, version, change, env.rollout.traffic.scale
    )
    return title, plan.content_hash(change.move, change.share_after, candidate)


def _publish(
    manifest: Manifest,
    env: Environment,
    where: body.Where,
    pull: Any,
    change: plan.Change,
    state: State,
    evidence: str,
    looked: Looked | None,
    run: Run,
) -> None:
    from mlops_gitops.delivery.rollout.github import publish_move

    assert state.candidate is not None
    title, content = _titled(manifest, env, change, state.candidate)
    if looked is None:
        import os

        actor = os.environ.get("GITHUB_ACTOR") or "someone"
        note = f"Rolled back at once by {actor} (workflow dispatch of mlops-rollout): no look decided it."
        text_body = body.move_body(where, change, content, "", note)
    else:
        text_body = body.move_body(where, change, content, evidence)
    published = publish_move(pull, manifest.name, env.name, change, title, text_body, content)
    number = f" #{published.number}" if published.number else ""
    detail = f": {published.detail}" if published.detail else ""
    run.lines.append(
        f"{env.name}: {change.move}: rollout PR{number} {published.action}{detail} {published.url or ''}".rstrip()
    )
