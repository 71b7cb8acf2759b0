"""DVC's model registry (GTO) as Git tags, without I/O: names, messages, the next version and counter.

GTO (``gto``, what ``gto show`` and DVC Studio's model registry read) records a model's life in
annotated Git tags; lightweight tags are ignored. Everything here matches what the installed ``gto``
(1.10) itself creates (``gto/tag.py``, ``gto/registry.py``, ``gto/api.py``, ``gto/constants.py``,
``gto/versions.py``):

* the artifact: the ``artifacts:`` entry of a ``dvc.yaml``, named ``NAME`` for the repository root's
  dvc.yaml and ``DIR:NAME`` for one in a folder (Git-root relative, as DVC's ``_reformat_name`` and
  Studio write it); in a tag name ``:`` becomes ``=`` (``name_to_tag``);
* a version: ``ARTIFACT@vX.Y.Z`` (``gto register`` makes "simple" version tags), message
  ``Registering artifact NAME version vX.Y.Z``; the first version is ``v0.0.1``
  (``SemVer.get_minimal``) and each next one bumps the patch of the highest (``gto register`` without a
  ``--bump-*`` flag bumps the patch). GTO holds one version per commit;
* a stage: ``ARTIFACT#STAGE#N`` on the commit of the version, message
  ``Assigning stage STAGE to artifact NAME version vX.Y.Z``; ``N`` is one more than the highest counter
  of any tag of that artifact, whatever its stage (``name_tag``), so it counts assignments per artifact.

mlops-gitops adds a trailer to each message so a rerun recognises its own work: the model hash
(``mlops-gitops-model-hash:``) and, on a stage, the promotion PR (``mlops-gitops-promotion:``). Only
tags its bot identity made are read back that way; every tag counts for names, versions and counters.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlops_gitops.adapters.github.tags import TagInfo
from mlops_gitops.errors import UsageError
from mlops_gitops.pipeline.facts import Artifact

# --- GTO's grammar, verbatim from gto/constants.py (a test compares them with the installed gto) -----
SEPARATOR_IN_NAME = ":"
SEPARATOR_IN_TAG = "="
_dirname = "[a-zA-Z0-9-_./]+"  # improve?
_name = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_semver = r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
_counter = "?P<counter>[0-9]+"
NAME_RE = re.compile(f"^{_name}$")
_fullname = f"(?P<dirname>{_dirname}{SEPARATOR_IN_NAME})?(?P<name>{_name})"
_fullname_in_tag = _fullname.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)
TAG_RE = re.compile(
    f"^(?P<artifact>{_fullname_in_tag})(((#(?P<stage>{_name})|@(?P<version>v{_semver}))(?P<cancel>!?))|@((?P<deprecated>deprecated)|(?P<created>created)))(#({_counter}))?$"
)
# What we accept as the folder part ourselves: a subset of GTO's (whose `9-_` is a character range)
# that is also a valid Git ref (no component starting with '.', no '..').
_SAFE_DIR = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")

FIRST_VERSION = "v0.0.1"
HASH_TRAILER = "mlops-gitops-model-hash"
PROMOTION_TRAILER = "mlops-gitops-promotion"
_HASH_LINE = re.compile(rf"^{HASH_TRAILER}: (\S+)[ \t]*$", re.MULTILINE)
_PROMOTION_LINE = re.compile(rf"^{PROMOTION_TRAILER}: (\S+)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class ParsedTag:
    """A tag name in GTO's grammar (``gto.tag.parse_name``)."""

    artifact: str  # with ':' (GTO's name, not the tag spelling)
    action: str  # register | deregister | assign | unassign | deprecate | create
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def parse_tag(name: str) -> ParsedTag | None:
    """``name`` parsed as GTO parses it, or None when GTO ignores it."""
    m = TAG_RE.search(name)
    if not m:
        return None
    cancel = m["cancel"] == "!"
    if m["version"]:
        action, version, stage = ("deregister" if cancel else "register"), m["version"], None
    elif m["stage"]:
        action, version, stage = ("unassign" if cancel else "assign"), None, m["stage"]
    else:
        action, version, stage = ("deprecate" if m["deprecated"] else "create"), None, None
    counter = int(m["counter"]) if m["counter"] else None
    artifact = m["artifact"].replace(SEPARATOR_IN_TAG, SEPARATOR_IN_NAME)
    return ParsedTag(artifact, action, version, stage, counter)


def tag_prefix(artifact: str) -> str:
    """How ``artifact`` is spelled at the start of its tags (``dir:name`` -> ``dir=name``)."""
    return artifact.replace(SEPARATOR_IN_NAME, SEPARATOR_IN_TAG)


# --- which artifact --------------------------------------------------------------------------------


def gto_name(artifact: Artifact, prefix: str = "") -> str:
    """GTO's name of an ``artifacts:`` entry: ``NAME``, or ``DIR:NAME`` for a dvc.yaml in folder DIR.

    ``prefix``: the project root relative to the Git work tree root (DVC in a subfolder of the
    repository); the folder GTO names is relative to the Git root."""
    folder = posixpath.normpath(posixpath.join(prefix, posixpath.dirname(artifact.dvcfile)))
    where = f"{artifact.dvcfile}: artifacts: {artifact.name}"
    if not NAME_RE.match(artifact.name):
        raise UsageError(
            f"{where}: DVC's model registry (GTO) takes only letters, digits, '-', '_' and '/' in an "
            "artifact name, starting and ending with a letter or digit: rename the entry"
        )
    if folder in ("", "."):
        return artifact.name
    if not _SAFE_DIR.match(folder):
        raise UsageError(f"{where}: its folder {folder!r} cannot be part of a Git tag name")
    return f"{folder}{SEPARATOR_IN_NAME}{artifact.name}"


def artifact_name(artifacts: Iterable[Artifact], model_path: str, prefix: str = "") -> str:
    """The GTO name of the ``artifacts:`` entry whose path is ``model_path`` (deploy.model.path,
    project-relative like the entries' paths)."""
    wanted = posixpath.normpath(model_path.strip().rstrip("/"))
    entries = list(artifacts)
    found = [a for a in entries if posixpath.normpath(a.path.rstrip("/")) == wanted]
    if not found:
        have = ", ".join(f"{a.name} ({a.path} in {a.dvcfile})" for a in entries) or "none"
        raise UsageError(
            f"record.registry: no dvc.yaml artifacts: entry has path {model_path} (deploy.model.path); "
            f"add one with `type: model` to the pipeline's dvc.yaml (artifacts now: {have})"
        )
    if len(found) > 1:
        models = [a for a in found if a.type == "model"]
        if len(models) != 1:
            names = ", ".join(f"{a.name} in {a.dvcfile}" for a in found)
            raise UsageError(
                f"record.registry: several artifacts: entries have path {model_path} ({names}); "
                "keep one, or give exactly one of them `type: model`"
            )
        found = models
    (entry,) = found
    if entry.type != "model":
        raise UsageError(
            f"{entry.dvcfile}: artifacts: {entry.name} has type {entry.type or 'none'}: DVC Studio's "
            "model registry lists only `type: model` entries: set it"
        )
    return gto_name(entry, prefix)


def check_stage(name: str) -> None:
    """A deploy environment's name is the GTO stage: GTO's name grammar applies to it."""
    if not NAME_RE.match(name):
        raise UsageError(
            f"deploy environment {name}: DVC's model registry (GTO) needs a stage name that starts and "
            "ends with a letter or digit (letters, digits, '-', '_' and '/' between): rename it"
        )


# --- versions, counters, messages ------------------------------------------------------------------


def _triple(version: str) -> tuple[int, int, int]:
    m = re.match(r"v(\d+)\.(\d+)\.(\d+)", version)
    assert m is not None, version  # only called on versions TAG_RE matched
    return int(m[1]), int(m[2]), int(m[3])


def next_version(names: Iterable[str], artifact: str) -> str:
    """The version ``gto register`` would give the next model: ``v0.0.1`` first, then the highest
    version's patch bumped (a pre-release ``v1.0.1-rc.1`` bumps to ``v1.0.2``, as ``semver`` does).
    Deregistered versions count too, so the name never collides with a tag that exists."""
    versions = [
        _triple(p.version)
        for p in (parse_tag(n) for n in names)
        if p is not None and p.artifact == artifact and p.version
    ]
    if not versions:
        return FIRST_VERSION
    major, minor, patch = max(versions)
    return f"v{major}.{minor}.{patch + 1}"


def next_counter(names: Iterable[str], artifact: str) -> int:
    """The ``N`` of the next ``#STAGE#N`` tag: one more than any counter of the artifact's tags."""
    counters = [
        p.counter
        for p in (parse_tag(n) for n in names)
        if p is not None and p.artifact == artifact and p.counter is not None
    ]
    return max(counters, default=0) + 1


def version_message(artifact: str, version: str, model_hash: str) -> str:
    return f"Registering artifact {artifact} version {version}\n\n{HASH_TRAILER}: {model_hash}\n"


def stage_message(artifact: str, stage: str, version: str, model_hash: str, promotion: str) -> str:
    return (
        f"Assigning stage {stage} to artifact {artifact} version {version}\n\n"
        f"{HASH_TRAILER}: {model_hash}\n{PROMOTION_TRAILER}: {promotion}\n"
    )


def message_hash(message: str | None) -> str | None:
    m = _HASH_LINE.search(message or "")
    return m.group(1) if m else None


def message_promotion(message: str | None) -> str | None:
    m = _PROMOTION_LINE.search(message or "")
    return m.group(1) if m else None


# --- plans -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTag:
    """An annotated tag to create on ``commit``. ``date``: the tagger date (ISO 8601), None for now."""

    name: str
    commit: str
    message: str
    version: str
    stage: str | None = None
    promotion: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class VersionPlan:
    """The version tag to create, or (``create`` None) why none is needed."""

    artifact: str
    create: NewTag | None
    detail: str


@dataclass(frozen=True)
class Promoted:
    """A merged promotion PR: where (``repo`` owner/name, ``number``), to which environment, which
    model hash, and when it merged (ISO 8601 UTC, ``YYYY-MM-DDTHH:MM:SSZ``)."""

    repo: str
    number: int
    env: str
    model_hash: str
    merged_at: str

    @property
    def id(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True)
class StagePlan:
    artifact: str
    create: tuple[NewTag, ...]
    done: tuple[Promoted, ...]  # promotions a tag already records
    waiting: tuple[str, ...]  # promotions whose model has no version tag yet


def _of(tags: Iterable[TagInfo], artifact: str, actions: set[str]) -> list[tuple[TagInfo, ParsedTag]]:
    found = []
    for tag in tags:
        parsed = parse_tag(tag.name)
        if parsed is not None and parsed.artifact == artifact and parsed.action in actions:
            found.append((tag, parsed))
    return found


def _versions_by_hash(
    tags: Sequence[TagInfo], artifact: str, bot_email: str
) -> dict[str, tuple[TagInfo, str]]:
    """Model hash -> (version tag, version) for the version tags the bot made (lowest version first)."""
    ours = [
        (tag, parsed)
        for tag, parsed in _of(tags, artifact, {"register"})
        if tag.annotated and tag.commit and _same(tag.tagger_email, bot_email) and message_hash(tag.message)
    ]
    ours.sort(key=lambda item: _triple(item[1].version or ""))
    found: dict[str, tuple[TagInfo, str]] = {}
    for tag, parsed in ours:
        found.setdefault(str(message_hash(tag.message)), (tag, str(parsed.version)))
    return found


def _same(email: str | None, bot_email: str) -> bool:
    return email is not None and email.lower() == bot_email.lower()


def plan_version(
    tags: Sequence[TagInfo], artifact: str, model_hash: str, commit: str, bot_email: str
) -> VersionPlan:
    """The version tag for the model ``model_hash`` recorded at ``commit``: none when the bot already
    tagged that hash (at this commit or an earlier one), or when the commit already has a version of
    this artifact (GTO allows one per commit); else the next version on ``commit``."""
    short = model_hash[:8]
    known = _versions_by_hash(tags, artifact, bot_email).get(model_hash)
    if known is not None:
        tag, version = known
        return VersionPlan(artifact, None, f"model {short} is already {version} ({tag.name})")
    for tag, parsed in _of(tags, artifact, {"register"}):
        if tag.annotated and tag.commit == commit:
            return VersionPlan(
                artifact, None, f"commit {commit[:7]} already has version {parsed.version} ({tag.name})"
            )
    version = next_version((t.name for t in tags), artifact)
    new = NewTag(
        name=f"{tag_prefix(artifact)}@{version}",
        commit=commit,
        message=version_message(artifact, version, model_hash),
        version=version,
    )
    return VersionPlan(artifact, new, f"model {short} at {commit[:7]} is {version}")


def plan_stages(
    tags: Sequence[TagInfo], artifact: str, promotions: Iterable[Promoted], bot_email: str
) -> StagePlan:
    """A ``#STAGE#N`` tag for each merged promotion that no tag records yet and whose model has a
    version tag, in the order they merged, dated when they merged (GTO orders assignments by date)."""
    versions = _versions_by_hash(tags, artifact, bot_email)
    recorded = {
        str(message_promotion(tag.message))
        for tag, _ in _of(tags, artifact, {"assign"})
        if tag.annotated and _same(tag.tagger_email, bot_email) and message_promotion(tag.message)
    }
    counter = next_counter((t.name for t in tags), artifact)
    create: list[NewTag] = []
    done: list[Promoted] = []
    waiting: list[str] = []
    for p in sorted(promotions, key=lambda p: (p.merged_at, p.repo, p.number)):
        check_stage(p.env)
        if p.id in recorded:
            done.append(p)
            continue
        known = versions.get(p.model_hash)
        if known is None:
            waiting.append(f"{p.id} ({p.env}): model {p.model_hash[:8]} has no version tag yet")
            continue
        tag, version = known
        assert tag.commit is not None
        create.append(
            NewTag(
                name=f"{tag_prefix(artifact)}#{p.env}#{counter}",
                commit=tag.commit,
                message=stage_message(artifact, p.env, version, p.model_hash, p.id),
                version=version,
                stage=p.env,
                promotion=p.id,
                date=p.merged_at,
            )
        )
        recorded.add(p.id)
        counter += 1
    return StagePlan(artifact, tuple(create), tuple(done), tuple(waiting))
