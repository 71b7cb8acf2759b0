"""Evaluate a head revision against a base: collect both, compare, apply the gates, add lineage and
the data-validation result. Used by ``report`` and, for the model it promotes, by ``promote``.

With several pipelines the report has a section per pipeline: each compares that pipeline's metrics
files with the gates scoped to it (``pipeline:``) and the unscoped gates that match its metrics.
A metrics file that exists but cannot be read (DVC cannot provide it, it does not parse) makes the
gates that need it fail with the reason; the report is still written.

The gates that decide a pull request's verdict are those of the manifest at the *base* revision, so a
pull request cannot loosen its own bar; what it changes in them is in ``Comparison.gate_review``
(:mod:`mlops_gitops.metrics.gatediff`)."""

from __future__ import annotations

import json
import posixpath
from typing import TYPE_CHECKING, Literal

from mlops_gitops.adapters import git
from mlops_gitops.errors import MlopsError, UsageError, YamlBombError
from mlops_gitops.metrics import collect, history, lineage
from mlops_gitops.metrics import gatediff as D
from mlops_gitops.metrics import gates as G
from mlops_gitops.metrics.compare import (
    Comparison,
    Failure,
    GateOutcome,
    Row,
    Section,
    compare,
    compare_params,
)
from mlops_gitops.metrics.flatten import Scalar
from mlops_gitops.metrics.gatediff import BASE, GateReview
from mlops_gitops.names import MANIFEST_FILE, VALIDATION_REPORT
from mlops_gitops.pipeline.project import Project

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.data.results import ValidationReport
    from mlops_gitops.manifest.model import Gate
    from mlops_gitops.metrics.plots import Plots
    from mlops_gitops.pipeline.facts import PipelineFacts


def evaluate(
    project: Project,
    base: str,
    head: str = collect.WORKSPACE,
    *,
    gates_from: Literal["base", "manifest"] = "base",
    manifest_file: str = MANIFEST_FILE,
    plots: bool = False,
) -> Comparison:
    """Collect both revisions of the project, compare, gate, add lineage.

    ``gates_from``: ``"base"`` (a pull request's report) judges with the gates of ``manifest_file`` as
    committed at ``base``, and falls back to the project's manifest (the head's) only when the base has
    none or an invalid one, saying so in ``Comparison.gate_review``; ``"manifest"`` judges with the
    project's manifest as loaded (``promote``: the checked-out default branch's).

    ``plots``: also read the pipelines' DVC plots at both revisions (``report``), through DVC, which
    is imported only then and only when some pipeline declares plots."""
    manifest = project.manifest
    reader = collect.Reader(project.root)
    base_rev, head_rev = _revisions(reader, base, head)
    files = project.metrics_files()
    before, after = (_snapshot(project, reader, rev, files) for rev in (base_rev, head_rev))
    review, deciding = _deciding_gates(project, reader, base_rev, gates_from, manifest_file)
    rows, outcomes, sections = _judge(project, deciding, before, after, files)
    if review is not None:
        # The head's gates on the same metrics: what they would say (the verdict when they decide).
        changed = bool(review.changes)
        review.head_gates = _judge(project, manifest.gates, before, after, files)[1] if changed else outcomes
    # In this order, so the first thing that cannot be read is the one reported.
    hist = _history(project, reader, base_rev, files, deciding)
    lin = _lineage(project, base_rev, head_rev, before, after)
    validation = _validation(project, reader, head_rev)
    drawn = _plots(project, base_rev, head_rev) if plots else None
    unavailable = {
        side: snap.unavailable for side, snap in (("base", before), ("head", after)) if snap.unavailable
    }
    return Comparison(
        stale_lock=head_rev.sha is None and lock_differs_from_head(reader, locks_of(project)),
        data_validation=validation,
        project=manifest.name,
        base=base_rev,
        head=head_rev,
        metrics_files=files,
        rows=rows,
        gates=outcomes,
        params=compare_params(before.params, after.params),
        lineage=lin,
        history=hist,
        first_run=not any(before.metrics.values()) and not before.unavailable,
        from_dvc=sorted(set(before.from_dvc) | set(after.from_dvc)),
        sections=sections,
        unavailable=unavailable,
        gate_review=review,
        plots=drawn,
    )


def _revisions(reader: collect.Reader, base: str, head: str) -> tuple[collect.Revision, collect.Revision]:
    """Both revisions resolved; the base must be a commit (the head may be the work tree)."""
    base_rev = collect.resolve_revision(base, reader.top)
    head_rev = collect.resolve_revision(head, reader.top)
    if base_rev.sha is None:
        raise UsageError("--base must name a commit, not the work tree")
    return base_rev, head_rev


def locks_of(project: Project) -> list[str]:
    return [project.lock_of(p) for p in project.pipelines]


def _snapshot(
    project: Project, reader: collect.Reader, rev: collect.Revision, files: list[str]
) -> collect.Snapshot:
    """The metrics and params at ``rev``, read where each pipeline's dvc.lock says they are."""
    layout = collect.Layout(
        locks={
            project.lock_of(p): (posixpath.dirname(p.dvcfile), {s.name: s.wdir for s in p.stages})
            for p in project.pipelines
        },
        pointers=tuple(t.dvcfile for t in project.facts.tracked),
        uncached=frozenset(u for s in project.facts.stages() for u in s.uncached),
    )
    return collect.snapshot(reader, rev, files, project.params_files(), layout)


def _deciding_gates(
    project: Project,
    reader: collect.Reader,
    base: collect.Revision,
    gates_from: Literal["base", "manifest"],
    manifest_file: str,
) -> tuple[GateReview | None, tuple[Gate, ...]]:
    """The gates that decide, and (judged by those at ``base``) the review of what the head changes."""
    if gates_from != BASE:
        return None, project.manifest.gates
    review, base_gates = gates_at_base(project, reader, base, manifest_file)
    return review, project.manifest.gates if base_gates is None else base_gates


def _history(
    project: Project,
    reader: collect.Reader,
    base: collect.Revision,
    files: list[str],
    deciding: tuple[Gate, ...],
) -> history.History:
    """The deciding gates' metrics at the last first-parent commits up to ``base``."""
    assert base.sha is not None  # _revisions refused a base that is the work tree
    wanted = history.charted(deciding, files)
    return history.collect_history(reader, base.sha, project.manifest.history, files, wanted, deciding)


def _lineage(
    project: Project,
    base: collect.Revision,
    head: collect.Revision,
    before: collect.Snapshot,
    after: collect.Snapshot,
) -> lineage.Lineage:
    """Both commits, the data hashes of both dvc.lock files, and this Python's packages."""
    return lineage.Lineage(
        base_commit=base.sha,
        head_commit=head.sha,
        base_subject=base.subject,
        head_subject=head.subject,
        data=lineage.data_hashes(_hashes(project, before), _hashes(project, after)),
        python=lineage.python_version(),
        packages=lineage.package_versions(
            lineage.requirement_names(project.root, project.manifest.requirements)
        ),
    )


def _validation(project: Project, reader: collect.Reader, head: collect.Revision) -> ValidationReport | None:
    """What `validate-data` wrote at ``head``, when the manifest has data checks."""
    if not project.manifest.data_checks:
        return None
    return read_validation(reader.read_many(head, [VALIDATION_REPORT])[VALIDATION_REPORT])


def _plots(project: Project, base: collect.Revision, head: collect.Revision) -> Plots | None:
    """Every DVC plot at both revisions, from Git where the pipeline facts suffice, else through DVC."""
    if not any(p.all_plots() for p in project.pipelines):
        return None
    from mlops_gitops.metrics import plots as P

    return P.collect(project.root, base, head, project)


def gates_at_base(
    project: Project, reader: collect.Reader, base: collect.Revision, manifest_file: str = MANIFEST_FILE
) -> tuple[GateReview, tuple[Gate, ...] | None]:
    """The gates of ``manifest_file`` as committed at ``base`` (validated like any manifest: schema and
    semantic rules), and the review of what the project's manifest changes in them. No valid manifest
    at base: None, and a review that says the head's gates decide and why."""
    from mlops_gitops.manifest.loader import ValidationMemo, build, load_manifest_text

    assert base.sha is not None
    head = project.manifest
    blob = reader.read_many(base, [manifest_file])[manifest_file]
    where = f"{manifest_file}@{base.short}"
    problem: str | None = None
    if blob is None:
        state = D.MISSING
    else:
        state = D.INVALID
        try:
            text = blob.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"{where}: not UTF-8 text ({exc.reason})"
        else:
            memo = ValidationMemo.beside(project.root / manifest_file)
            data = memo.recall(text) if memo is not None else None
            try:
                old = build(data) if data is not None else load_manifest_text(text, where)
            except YamlBombError:
                raise  # hostile, not merely invalid: refused like every YAML bomb (exit 2)
            except MlopsError as exc:  # every problem of the manifest: not valid
                lines = exc.lines()
                problem = lines[0] + (f" (and {len(lines) - 1} more)" if len(lines) > 1 else "")
            else:
                if memo is not None and data is None:
                    memo.remember(text, old.raw)
                review = D.GateReview(
                    D.BASE,
                    manifest_file,
                    D.VALID,
                    changes=D.diff_gates(old.gates, head.gates),
                    metrics_files=D.files_change(old.metrics_files, head.metrics_files),
                )
                return review, old.gates
    reason = D.fallback_reason(manifest_file, base.label, state, problem)
    return D.GateReview(D.HEAD, manifest_file, state, reason=reason), None


def _judge(
    project: Project,
    gates: tuple[Gate, ...],
    before: collect.Snapshot,
    after: collect.Snapshot,
    files: list[str],
) -> tuple[list[Row], list[GateOutcome], list[Section]]:
    """Rows, gate outcomes and (with several pipelines) one section per pipeline, for ``gates``."""
    sections: list[Section] = []
    if len(project.pipelines) <= 1:
        rows, outcomes = compare(before.metrics, after.metrics, gates, files)
        _unavailable(outcomes, files, before.unavailable, after.unavailable)
        return rows, outcomes, sections
    rows, outcomes = [], []
    matched: set[int] = set()
    for pipeline in project.pipelines:
        own = project.metrics_files(pipeline)
        mine = [
            (i, g) for i, g in enumerate(gates) if _applies(g, pipeline, own, before.metrics, after.metrics)
        ]
        matched.update(i for i, _ in mine)
        s_rows, s_gates = compare(
            _only(before.metrics, own), _only(after.metrics, own), [g for _, g in mine], own
        )
        _unavailable(s_gates, own, before.unavailable, after.unavailable)
        sections.append(Section(pipeline.dvcfile, own, s_rows, s_gates))
        rows += s_rows
        outcomes += s_gates
    # A gate no pipeline's metrics answer: judged against all of them, so it fails as missing.
    orphans = [g for i, g in enumerate(gates) if i not in matched]
    if orphans:
        _, lost = compare(before.metrics, after.metrics, orphans, files)
        _unavailable(lost, files, before.unavailable, after.unavailable)
        outcomes += lost
    return rows, outcomes, sections


def _only(metrics: dict[str, dict[str, Scalar]], files: list[str]) -> dict[str, dict[str, Scalar]]:
    return {f: v for f, v in metrics.items() if f in files}


def _applies(
    gate: Gate,
    pipeline: PipelineFacts,
    files: list[str],
    base: dict[str, dict[str, Scalar]],
    head: dict[str, dict[str, Scalar]],
) -> bool:
    """A gate scoped to ``pipeline``, or an unscoped one matching one of its metrics."""
    if gate.pipeline is not None:
        return gate.pipeline == pipeline.dvcfile
    return any(
        G.matches(gate, file, key) for side in (base, head) for file in files for key in side.get(file, {})
    )


def _unavailable(
    outcomes: list[GateOutcome], files: list[str], base: dict[str, str], head: dict[str, str]
) -> None:
    """A gate cannot be judged on a file that exists but could not be read: say so, and fail it."""
    for outcome in outcomes:
        gate = outcome.gate
        added: list[Failure] = []
        for file in (f for f in files if gate.file in (None, f)):
            if file in head and not any(r.file == file and r.head is not None for r in outcome.rows):
                added.append(Failure(file, gate.metric, f"cannot be evaluated: {head[file]}"))
            has_regression = gate.regression_absolute is not None or gate.regression_relative is not None
            if file in base and has_regression:
                reason = f"regression cannot be evaluated (base): {base[file]}"
                added.append(Failure(file, gate.metric, reason))
                for row in outcome.rows:  # shown on the row too, where reviewers look
                    if row.file == file and row.reason is None:
                        row.reason, row.status = reason, "fail"
        if added:
            # "missing at head" is the wrong reason when the file is there but could not be read.
            outcome.failures[:] = [f for f in outcome.failures if f.reason != "missing at head"] + added


def _hashes(project: Project, snap: collect.Snapshot) -> dict[str, str]:
    """Data hashes from every pipeline's dvc.lock, as repo-relative paths."""
    out: dict[str, str] = {}
    for pipeline in project.pipelines:
        lock = snap.locks.get(project.lock_of(pipeline))
        wdirs = {s.name: s.wdir for s in pipeline.stages}
        for path, digest in lineage.lock_hashes(lock, wdirs, posixpath.dirname(pipeline.dvcfile)).items():
            out.setdefault(path, digest)
    return out


def lock_differs_from_head(reader: collect.Reader, locks: list[str]) -> bool:
    """After `dvc repro` in the work tree: does a dvc.lock differ from the one committed at HEAD? Then
    what would merge is not what was evaluated (promotion reads dvc.lock from Git)."""
    head = collect.Revision("HEAD", git.resolve("HEAD", reader.top))
    if head.sha is None:
        return False
    committed = reader.read_many(head, locks)
    here = reader.read_many(collect.Revision(collect.WORKSPACE, None), locks)
    return any(here[lock] is not None and committed[lock] != here[lock] for lock in locks)


def read_validation(blob: bytes | None) -> ValidationReport | None:
    """What `validate-data` wrote (before the pipeline runs), or None when it did not run."""
    if blob is None:
        return None
    from mlops_gitops.data.results import ValidationReport

    try:
        data = json.loads(blob)
    except ValueError:
        return ValidationReport([], error=f"{VALIDATION_REPORT} is not valid JSON")
    return ValidationReport.from_json(data, VALIDATION_REPORT)
