"""``promote`` of an environment with a rollout: instead of the whole promotion, the pull request of
the first step, the candidate at the first share beside the current model (delivery/deployment.py
hands over here once the model passed its gates and the order of environments)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mlops_gitops.delivery import promotion
from mlops_gitops.delivery.promotion import ModelIdentity
from mlops_gitops.delivery.rollout import body, plan
from mlops_gitops.delivery.rollout.measure import arm
from mlops_gitops.delivery.rollout.traffic import read_state, slots
from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Environment, Manifest

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.github.client import Step
    from mlops_gitops.adapters.github.pulls import Published


class Source(Protocol):
    """Where the deployment file is read (delivery.deployment's targets)."""

    def read(self, env: Environment) -> str | None: ...

    def where(self, env: Environment) -> tuple[str, str]: ...


@runtime_checkable
class OnGitHub(Protocol):
    """delivery.deployment's GitHub target: the repository to publish to, and the step to name."""

    step: Step

    def repo_of(self, e: Environment) -> Any: ...

    def base_of(self, e: Environment) -> str: ...


@dataclass(frozen=True)
class Started:
    """What the first step did: ``action`` dry-run, current (already this candidate, or already the
    model) or the publication's; the value written, the PR, the file's diff (dry run)."""

    action: str
    value: str
    title: str
    body: str
    diff: str = ""
    published: Published | None = None


def first_step(
    manifest: Manifest,
    env: Environment,
    model: ModelIdentity,
    verdict: str,
    report: str | None,
    reason: str | None,
    target: Source,
    publish: bool,
) -> Started:
    """The first step's edit and PR; published when ``publish`` (``target`` is then the GitHub one)."""
    rollout, deploy = env.rollout, manifest.deploy
    assert rollout is not None and deploy is not None
    text = target.read(env)
    if text is None:
        raise UsageError(f"deploy environment {env.name}: {env.file} does not exist in the target repository")
    places = slots(text, env, rollout)
    state = read_state(text, env, places)
    value = promotion.render_value(env.value, model, env.name)
    current = state.candidate if state.rolling else (state.control or _field(text, env))
    if current == value:
        what = "already rolls out" if state.rolling else "already runs"
        return Started("current", value, f"{env.name} {what} {model.name} {model.short_hash}", "")
    candidate = arm(value, env, rollout, deploy.model.name)
    # In place, the file holds the model before the rollout only while no rollout is in progress; a
    # newer candidate during one restarts it at the first step, and the history keeps that model.
    control = (
        None
        if state.rolling and places.in_place
        else arm(state.control or _field(text, env), env, rollout, deploy.model.name)
    )
    change = plan.start(text, places, state, value, rollout.steps[0], env.file)
    title = plan.title("start", deploy.model.name, env.name, candidate.version, change, rollout.traffic.scale)
    content = plan.content_hash("start", change.share_after, value)
    repo, branch = target.where(env)
    where = body.Where(manifest.name, env.name, deploy.model.name, repo, branch, env.file, rollout)
    gates = "✅ pass" if verdict == "pass" else "❌ fail"
    text_body = body.start_body(where, change, content, control, candidate, gates, report, reason)
    if not publish:
        return Started("dry-run", value, title, text_body, promotion.file_diff(text, change.text, env.file))
    if not isinstance(target, OnGitHub):
        raise TypeError("publishing needs delivery.deployment's GitHub target")
    from mlops_gitops.delivery.rollout.github import Pull, publish_move

    target.step.action = f"opening the rollout PR in {repo}"
    pull = Pull(target.repo_of(env), target.base_of(env), env.file, deploy.labels)
    published = publish_move(pull, manifest.name, env.name, change, title, text_body, content)
    return Started(published.action, value, title, text_body, published=published)


def _field(text: str, env: Environment) -> str:
    from mlops_gitops.delivery import yamledit

    return yamledit.get_scalar(text, env.field, env.document, source=env.file) or ""
