"""The "retrained model" pull request, from what a retrain on the default branch handed over.

A scheduled, dispatched or drift-triggered run of ``mlops-train`` that reproduces a different
``dvc.lock`` uploads an artifact folder; a second, minimal job (``retrain-pr``) reads it here and
publishes it with :func:`mlops_gitops.adapters.github.pulls.publish`::

    DIR/run.json       {"sha": "<the commit trained, 40 hex>", "reason": "schedule" | "dispatch" | "drift" | "push",
                        "run_url": "https://HOST/OWNER/REPO/actions/runs/N[/attempts/M]"}
    DIR/report.json    mlops-gitops report --base HEAD --format json      (verdict, gates, lineage)
    DIR/report.md      mlops-gitops report --base HEAD --format markdown
    DIR/files/PATH     every changed dvc.lock at its repository path, e.g. files/pipelines/dvc.lock,
                       and every changed file Git tracks that one of them names as an output
                       (``cache: false`` metrics and plots), e.g. files/pipelines/metrics.json

The default branch's code made it (``dvc repro`` runs the project's stages), so it is read as untrusted
input all the same: nothing else in the folder, no symbolic links, bounded sizes, plain relative paths,
``dvc.lock`` files only beside a ``dvc.yaml`` the manifest governs, each loading (without YAML bombs)
as a DVC 3 lock, other files only where such a lock names an output (and, checked against GitHub by
:mod:`mlops_gitops.delivery.retrain_pr`, only files Git already tracks at the trained commit); ``run.json``
fields checked one by one, the report made for that very commit and project. Any refusal is one line
naming the file (exit 2). The report's Markdown is embedded with every mention, issue
reference and closing keyword defanged, and no HTML, link or image but the report's own
``<details>`` blocks left live (:func:`inert_markdown`).

Everything here is pure apart from reading the folder: no git, no DVC, no network.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from mlops_gitops.errors import UsageError
from mlops_gitops.manifest.model import Manifest
from mlops_gitops.names import DVC_FILE, DVC_LOCK, GITHUB_BODY_LIMIT
from mlops_gitops.reporters.markup import JOINER, cell, code, defang, plain, text

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adapters.github.pulls import BotPullRequest

REASONS = ("schedule", "dispatch", "drift", "push")
ENTRIES = ("files", "report.json", "report.md", "run.json")
MARKER_PREFIX = "<!-- mlops-gitops:retrain"
FAILED_PREFIX = "<!-- mlops-gitops:retrain-failed"
LABELS = ("mlops-gitops",)

MAX_RUN_BYTES = 16 << 10
MAX_REPORT_JSON_BYTES = 16 << 20  # history and data hashes of a large project: a few MB at most
MAX_REPORT_MD_BYTES = 1 << 20  # `report` keeps its Markdown within GitHub's 65,536-character limit
MAX_LISTED = 200  # gates, data hashes, failures shown in a body (the full list is in the report)

_SHA = re.compile(r"[0-9a-f]{40}")
_RUN_URL = re.compile(
    r"https://[A-Za-z0-9.-]+(?::\d{1,5})?/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/actions/runs/\d{1,20}"
    r"(?:/attempts/\d{1,6})?"
)


@dataclass(frozen=True)
class TrainingRun:
    """``run.json``: the commit the retrain trained, why it ran, and the run's page."""

    sha: str
    reason: str  # schedule | dispatch | drift | push
    url: str


@dataclass(frozen=True)
class GateLine:
    metric: str
    rule: str
    passed: bool
    value: str  # the head value the gate judged, as text ("" when none matched)


@dataclass(frozen=True)
class DataLine:
    path: str
    base: str
    head: str


@dataclass(frozen=True)
class Retrain:
    """A checked retrain artifact: what was trained, the verdict against the default branch, the
    report, and the ``dvc.lock`` files to record (``(path, text)``, sorted by path)."""

    project: str
    run: TrainingRun
    verdict: str  # pass | fail
    failed: tuple[str, ...]
    gates: tuple[GateLine, ...]
    subject: str  # the trained commit's subject, as the report read it
    data: tuple[DataLine, ...]  # data hashes from dvc.lock, base (committed) and head (reproduced)
    python: str
    packages: tuple[tuple[str, str], ...]
    markdown: str  # the report, already made inert
    files: tuple[tuple[str, str], ...]

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def content_hash(self) -> str:
        """SHA-256 of the paths and texts of the files: the same retrain result has the same hash."""
        digest = hashlib.sha256()
        for path, body in self.files:
            digest.update(path.encode() + b"\0" + body.encode() + b"\0")
        return digest.hexdigest()

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.files)

    @property
    def locks(self) -> tuple[str, ...]:
        return tuple(p for p in self.paths if posixpath.basename(p) == DVC_LOCK)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The files besides the locks: outputs a lock names that Git tracks (metrics, plots)."""
        return tuple(p for p in self.paths if posixpath.basename(p) != DVC_LOCK)

    def summary(self) -> str:
        """One line: the verdict and, when it fails, why."""
        if self.passed:
            return f"gates pass for {self.run.sha[:12]}"
        why = "; ".join(self.failed[:5]) or "see the report"
        more = f" (and {len(self.failed) - 5} more)" if len(self.failed) > 5 else ""
        return f"gates fail for {self.run.sha[:12]}: {why}{more}"


# --- reading the artifact ------------------------------------------------------------------------


def read_artifact(folder: Path, manifest: Manifest, repository: str | None = None) -> Retrain:
    """The checked contents of a retrain artifact ``folder`` (see the module docstring).

    ``repository`` (``owner/name``, when known) is the repository the run URL must belong to.
    """
    from mlops_gitops.pipeline.lockfiles import read_run_files

    if folder.is_symlink() or not folder.is_dir():
        raise UsageError(f"{folder}: not a retrain artifact folder")
    for entry in sorted(folder.iterdir()):
        if entry.name not in ENTRIES:
            raise UsageError(f"{entry}: not part of a retrain artifact ({', '.join(ENTRIES)}), refused")
        if entry.is_symlink():
            raise UsageError(f"{entry}: a symbolic link, refused")
    run = _run(folder / "run.json", repository)
    report = _report_json(folder / "report.json", manifest.name, run.sha)
    markdown = _report_markdown(folder / "report.md", manifest.name)
    found = read_run_files(folder / "files")
    if found.skipped:
        raise UsageError(
            f"{folder / 'files' / found.skipped[0]}: neither a dvc.lock nor an output one names, refused"
        )
    files = found.files
    locks = [path for path in files if posixpath.basename(path) == DVC_LOCK]
    if not locks:
        raise UsageError(f"{folder / 'files'}: no dvc.lock files: nothing to propose")
    for path in locks:
        _governed(path, manifest, folder / "files" / path)
    return Retrain(
        project=manifest.name,
        run=run,
        markdown=markdown,
        files=tuple(sorted(files.items())),
        **report,
    )


def _read(path: Path, limit: int) -> str:
    if path.is_symlink() or not path.is_file():
        raise UsageError(f"{path}: missing, or not a regular file")
    if path.stat().st_size > limit:
        raise UsageError(f"{path}: larger than {limit} bytes, refused")
    try:
        data = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {type(exc).__name__}") from None
    if "\x00" in data:
        raise UsageError(f"{path}: not text, refused")
    return data


def _json(path: Path, limit: int) -> dict[str, object]:
    """A JSON object from the artifact: untrusted, every field narrowed where it is read."""
    try:
        data = json.loads(_read(path, limit))
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{path}: not JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a JSON object")
    return data


def _run(path: Path, repository: str | None) -> TrainingRun:
    data = _json(path, MAX_RUN_BYTES)
    extra = sorted(set(data) - {"sha", "reason", "run_url"})
    if extra:
        raise UsageError(f"{path}: unknown field {extra[0]!r} (sha, reason, run_url)")
    sha, reason, url = data.get("sha"), data.get("reason"), data.get("run_url")
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise UsageError(f"{path}: sha must be the trained commit's full SHA (40 lowercase hex digits)")
    if reason not in REASONS:
        raise UsageError(f"{path}: reason must be one of {', '.join(REASONS)}")
    match = _RUN_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        raise UsageError(
            f"{path}: run_url must be a workflow run's page, https://HOST/OWNER/REPO/actions/runs/N"
        )
    if repository and match.group(1).lower() != repository.lower():
        raise UsageError(f"{path}: run_url is a run of {match.group(1)}, not of {repository}")
    return TrainingRun(sha, str(reason), str(url))


def _str(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


class _ReportFields(TypedDict):
    """The fields of :class:`Retrain` that ``report --format json`` gives."""

    verdict: str
    failed: tuple[str, ...]
    gates: tuple[GateLine, ...]
    subject: str
    data: tuple[DataLine, ...]
    python: str
    packages: tuple[tuple[str, str], ...]


def _report_json(path: Path, project: str, sha: str) -> _ReportFields:
    """The fields of :class:`Retrain` that ``report --format json`` gives."""
    data = _json(path, MAX_REPORT_JSON_BYTES)
    if data.get("project") != project:
        raise UsageError(f"{path}: a report of project {data.get('project')!r}, not {project!r}")
    base = data.get("base")
    if not isinstance(base, dict) or base.get("commit") != sha:
        raise UsageError(f"{path}: not a report against the trained commit {sha[:12]} (report --base HEAD)")
    verdict, failed = data.get("verdict"), data.get("failed")
    if verdict not in ("pass", "fail"):
        raise UsageError(f"{path}: verdict must be pass or fail")
    if not isinstance(failed, list) or not all(isinstance(f, str) for f in failed):
        raise UsageError(f"{path}: failed must be a list of strings")
    if verdict == "pass" and failed:
        raise UsageError(f"{path}: verdict pass, yet it lists failures")
    gates = data.get("gates")
    if not isinstance(gates, list) or not all(isinstance(g, dict) for g in gates):
        raise UsageError(f"{path}: gates must be a list of objects")
    lines = []
    for gate in gates:
        worst = gate.get("worst") if isinstance(gate.get("worst"), dict) else {}
        if not isinstance(gate.get("passed"), bool):
            raise UsageError(f"{path}: a gate without passed: true or false")
        if not gate["passed"] and verdict == "pass":
            raise UsageError(f"{path}: verdict pass, yet a gate failed")
        value = "" if not worst or worst.get("new") is None else _str(worst.get("new"))
        lines.append(GateLine(_str(gate.get("metric")), _str(gate.get("rule")), gate["passed"], value))
    lineage = data.get("lineage")
    if lineage is not None and not isinstance(lineage, dict):
        raise UsageError(f"{path}: lineage must be an object")
    lineage = lineage or {}
    data_hashes = [d for d in lineage.get("data") or [] if isinstance(d, dict)]
    found = lineage.get("packages")
    packages: Mapping[object, object] = found if isinstance(found, dict) else {}
    return {
        "verdict": verdict,
        "failed": tuple(failed),
        "gates": tuple(lines),
        "subject": _str(lineage.get("base_subject") or base.get("subject")),
        "data": tuple(
            DataLine(_str(d.get("path")), _str(d.get("base")), _str(d.get("head"))) for d in data_hashes
        ),
        "python": _str(lineage.get("python")),
        "packages": tuple(sorted((_str(k), _str(v)) for k, v in packages.items())),
    }


def _report_markdown(path: Path, project: str) -> str:
    from mlops_gitops.reporters.markdown import marker

    markdown = _read(path, MAX_REPORT_MD_BYTES)
    first, _, rest = markdown.partition("\n")
    if first.strip() != marker(project):
        raise UsageError(f"{path}:1:1: not a report of project {project} (its first line is the marker)")
    return inert_markdown(_without_stale_lock_warning(rest))


def _governed(path: str, manifest: Manifest, where: Path) -> None:
    from mlops_gitops.pipeline.project import governed

    sibling = posixpath.join(posixpath.dirname(path), DVC_FILE)
    if sibling not in governed(manifest, [sibling]):
        raise UsageError(f"{where}: {sibling} is not a pipeline mlops.yaml governs, refused")


def _without_stale_lock_warning(markdown: str) -> str:
    """The report warns that the commit's dvc.lock is stale: this pull request is what records it."""
    from mlops_gitops.reporters.markdown import STALE_LOCK

    return markdown.replace(f"> [!WARNING]\n> {STALE_LOCK}\n", "")


# --- making Markdown from the artifact inert -------------------------------------------------------

_TAG_OPEN = re.compile(f"<(?!{JOINER})")
_LINK_CLOSE = re.compile(r"\](?=[(\[:])")
# The HTML `report` itself writes around long tables, each line followed by a blank line (so that it
# is an HTML block of that one line): these stay HTML, in exactly this form.
_OWN_HTML = re.compile(r"<details><summary>[^<>\n]*</summary>|</details>")


def inert_markdown(markdown: str) -> str:
    """``markdown`` from an artifact, safe to post as the bot, and reading as it was written.

    :func:`~mlops_gitops.reporters.markup.defang` makes mentions, issue references and closing
    keywords inert; then an invisible word joiner (:data:`~mlops_gitops.reporters.markup.JOINER`)
    goes after every ``<`` (no tag, comment or autolink starts with ``<`` and a joiner), except on a
    line that is exactly one of the report's own ``<details><summary>...</summary>`` or
    ``</details>`` followed by a blank line; and after every ``]`` directly followed by ``(``, ``[`` or
    ``:`` (no inline link, image, reference link or definition). No Markdown parsing is involved, so
    no disagreement with GitHub's parser (code spans, tables, HTML blocks, fences) can leave a live
    tag; inside code spans and fences the joiners are invisible too. Idempotent."""
    lines = _LINK_CLOSE.sub("]" + JOINER, defang(markdown)).split("\n")
    for i, line in enumerate(lines):
        own = _OWN_HTML.fullmatch(line) and (i + 1 == len(lines) or not lines[i + 1].strip())
        if not own:
            lines[i] = _TAG_OPEN.sub("<" + JOINER, line)
    return "\n".join(lines)


# --- what is published -----------------------------------------------------------------------------


def marker(project: str) -> str:
    """The stable part of the retrained-model PR's hidden marker (one PR per project)."""
    return f"{MARKER_PREFIX} project={project}"


def full_marker(retrain: Retrain) -> str:
    return f"{marker(retrain.project)} hash={retrain.content_hash} commit={retrain.run.sha} -->"


_WHY = {
    "schedule": "the scheduled retrain",
    "dispatch": "a retrain started by hand (workflow_dispatch)",
    "drift": "the retrain that monitoring started when it found drift",
    # A push whose dvc.lock does not describe what it trains (a first adoption, a merge nobody
    # recorded): the default branch holds deployment until this PR records it.
    "push": "the default branch's training on a push whose dvc.lock did not record it",
}


def title(retrain: Retrain) -> str:
    return plain(f"Retrained model for {retrain.project}, trained at {retrain.run.sha[:7]}")


def commit_message(retrain: Retrain) -> str:
    """Lands on the default branch when the PR merges: every part of it is
    :func:`~mlops_gitops.reporters.markup.plain`, so nothing in it mentions or closes anything."""
    names = ", ".join(retrain.paths)
    return (
        f"{title(retrain)}\n\n"
        + plain(
            f"Records {names} as {_WHY[retrain.run.reason]} reproduced it from commit "
            f"{retrain.run.sha}, so that the default branch deploys that model."
        )
        + f"\n\nRun: {plain(retrain.run.url)}\n"
    )


def body(retrain: Retrain, base: str, limit: int = GITHUB_BODY_LIMIT) -> str:
    """The PR body: hidden marker, what changes and why, the gates, the lineage, then the report.
    Every value from the artifact goes through :mod:`~mlops_gitops.reporters.markup`."""
    run = retrain.run
    files = ", ".join(code(p) for p in retrain.paths)
    lines = [
        full_marker(retrain),
        f"## Retrained model for {code(retrain.project)}",
        "",
        f"{_WHY[run.reason].capitalize()} reproduced the pipelines of {code(base)} at {code(run.sha)} "
        f"and got a different {files}. Merging this pull request records that model in Git, and "
        f"{code(base)} deploys it through the usual path.",
        "",
        "| | |",
        "|---|---|",
        f"| Trained commit | {code(run.sha)} |",
        f"| Reason | {code(run.reason)} |",
        f"| Run | {run.url} |",
        f"| Files | {files} |",
        f"| Gates | ✅ pass, against {code(base)} at {code(run.sha[:12])} |",
        "",
    ]
    if retrain.gates:
        lines += ["### Gates", "", "| Metric | Value | Gate | |", "|---|---:|---|---|"]
        lines += [
            f"| {code(g.metric)} | {cell(g.value)} | {cell(g.rule)} | {'✅' if g.passed else '❌'} |"
            for g in retrain.gates[:MAX_LISTED]
        ]
        lines.append("")
    lines += ["### Lineage", "", f"- Trained commit: {code(run.sha)} {text(retrain.subject)}"]
    if retrain.python or retrain.packages:
        tools = [f"Python {text(retrain.python)}"] if retrain.python else []
        tools += [f"{text(k)} {text(v)}" for k, v in retrain.packages[:MAX_LISTED]]
        lines.append("- " + " · ".join(tools))
    changed = [d for d in retrain.data if d.base != d.head]
    if changed:
        lines += ["", "| Data or output (dvc.lock) | Committed | Reproduced |", "|---|---|---|"]
        lines += [
            f"| {code(d.path)} | {code(d.base or '-')} | {code(d.head or '-')} |"
            for d in changed[:MAX_LISTED]
        ]
    lines.append("")
    footer = [
        "---",
        "This pull request is managed by mlops-gitops: a newer retrain updates it in place. Pushing your "
        "own commit to the branch stops automatic updates; closing it unmerged skips this dvc.lock.",
    ]
    head = "\n".join(lines)
    tail = "\n" + "\n".join(footer) + "\n"
    report = retrain.markdown.strip()
    if report:
        section = (
            f"\n### Evaluation report against {code(base)}\n\n<details><summary>The full report"
            f"</summary>\n\n{report}\n\n</details>\n"
        )
        room = limit - len(head) - len(tail)
        if len(section) > room:
            note = "\n\n… (report truncated: see the workflow run's job summary)\n\n</details>\n"
            kept = section[: max(room - len(note), 0)]
            section = kept[: kept.rfind("\n") + 1] + note  # whole lines: no code span cut open
        head += section
    return head + tail


def pull_request(retrain: Retrain, manifest: Manifest) -> BotPullRequest:
    """The :class:`~mlops_gitops.adapters.github.pulls.BotPullRequest` for a retrain whose gates pass: its
    files as one bot commit on the trained commit, on ``record.retrain_branch``, into the default
    branch."""
    from mlops_gitops.adapters.github.pulls import BotPullRequest

    if not retrain.passed:
        raise UsageError(f"no pull request for a model that fails its gates ({retrain.summary()})")
    base = manifest.default_branch
    return BotPullRequest(
        base=base,
        branch=manifest.record.retrain_branch,
        files=retrain.files,
        commit_message=commit_message(retrain),
        title=title(retrain),
        body=body(retrain, base),
        labels=LABELS,
        marker=marker(retrain.project),
        content_hash=retrain.content_hash,
        parent=retrain.run.sha,
        hash_label="dvc.lock content",
    )


def failure_note(retrain: Retrain, base: str) -> tuple[str, str]:
    """The comment on the drift issue when the retrain drift started fails its gates: its marker
    (one comment per trained commit, so a rerun edits it) and its body."""
    mark = f"{FAILED_PREFIX} project={retrain.project} commit={retrain.run.sha} -->"
    failures = [f"- {text(f)}" for f in retrain.failed[:MAX_LISTED]] or ["- see the run's report"]
    lines = [
        mark,
        "### The retrain fails its gates",
        "",
        f"The retrain this drift started trained {code(retrain.run.sha)} on {code(base)} "
        f"({retrain.run.url}), and its model fails the gates against {code(base)}, so no pull request "
        "was opened and the deployed model stays as it is:",
        "",
        *failures,
        "",
        "Look at the run's report; fix the data or the pipeline, or change the gates in a reviewed pull "
        "request. This issue stays open while the drift lasts.",
    ]
    return mark, "\n".join(lines) + "\n"
