"""The Markdown of a rollout's pull requests and status comment: the evidence for each move. Pure.

Per metric and segment a reviewer sees both arms' outcomes and estimates, the difference with its
always-valid interval, the adjusted p-value and the verdict; above them the sample-ratio check, the
rule that decided with its reason, and what produced the numbers (the log file, the queries). Metric
names, segment labels (log values), model values and queries come from outside: each goes through
:mod:`mlops_gitops.reporters.markup` for where it lands, so no mention, reference, link or markup in
them acts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from mlops_gitops.delivery.rollout.decision import SRM_P, Decision, MetricResult
from mlops_gitops.delivery.rollout.measure import Arm, Measured
from mlops_gitops.delivery.rollout.plan import Change, marker, shown_share, status_marker
from mlops_gitops.delivery.rollout.traffic import Place
from mlops_gitops.manifest.rollout import Rollout
from mlops_gitops.names import GITHUB_BODY_LIMIT
from mlops_gitops.reporters.markup import code, defang, text

HEADINGS = {
    "start": "first step",
    "advance": "next step",
    "promote": "promote the candidate",
    "rollback": "roll back the candidate",
}
FOOTER = (
    "---\nThis pull request is managed by mlops-gitops (mlops-rollout): a newer decision for this "
    "environment updates it in place. Merging it applies the move; the next step is measured from the "
    "time it lands. Closing it unmerged declines this move; the `rollback_now` input of the "
    "mlops-rollout workflow opens the rollback at once."
)


@dataclass(frozen=True)
class Where:
    """The rollout a body speaks of: project, environment, model name, and the file it edits."""

    project: str
    env: str
    model: str
    repo: str
    branch: str
    file: str
    rollout: Rollout


@dataclass(frozen=True)
class Evidence:
    """One look: both arms, the step (its share, commit and start), the decision and its numbers."""

    control: Arm
    candidate: Arm
    share: float
    step_commit: str
    step_start: dt.datetime
    now: dt.datetime
    decision: Decision
    measured: Measured


def why(action: str, rule: str, reason: str) -> str:
    """The decision's reason without the ``action: rule:`` it starts with (shown beside it)."""
    return reason.removeprefix(f"{action}: {rule}: ")


def _place(place: Place) -> str:
    return code(place.path) + (f" (document {place.document})" if place.document else "")


def _change(where: Where, change: Change) -> list[str]:
    lines = [
        "| | |",
        "|---|---|",
        f"| File | {code(where.repo)}: {code(where.file)} (branch {code(where.branch)}) |",
    ]
    for edit in change.edits:
        old = "(absent)" if edit.old is None else code(edit.old)
        new = "(removed)" if edit.new is None else code(edit.new)
        lines.append(f"| {_place(edit.place)} | {old} → {new} |")
    return [*lines, ""]


def _duration(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _number(x: float) -> str:
    return f"{x:.4g}"


def _signed(x: float) -> str:
    return f"{x:+.4g}"


def _row(r: MetricResult) -> str:
    o, t = r.outcomes, r.test
    name = code(o.metric) + (" (guardrail)" if o.guardrail else "")
    segment = code(o.segment) if o.segment is not None else "all traffic"
    tolerance = f", tolerance {_number(o.tolerance)}" if o.tolerance else ""
    return (
        f"| {name} | {segment} | {o.control.n:,} | {_number(o.control.mean)} | {o.candidate.n:,} | "
        f"{_number(o.candidate.mean)} | {_signed(t.difference)} [{_signed(t.lower)}, {_signed(t.upper)}] | "
        f"{t.p_value:.3g} / {r.p_adjusted:.3g} | {r.verdict} ({o.direction} is better{tolerance}) |"
    )


def _sources(results: Sequence[MetricResult]) -> list[str]:
    seen = dict.fromkeys((r.outcomes.metric, r.outcomes.source) for r in results)
    lines = ["<details><summary>What produced the numbers</summary>", "", "| Metric | Source |", "|---|---|"]
    lines += [f"| {code(metric)} | {code(source)} |" for metric, source in seen]
    return [*lines, "", "</details>", ""]


def evidence(where: Where, look: Evidence) -> list[str]:
    """The decision and what it rests on, as Markdown lines."""
    d, m, r = look.decision, look.measured, where.rollout
    scale = r.traffic.scale
    srm = d.sample_ratio
    rows = len(d.results)
    lines = [
        f"**Decision: {d.action}** (rule `{d.rule}`): {text(why(d.action, d.rule, d.reason))}",
        "",
        "| | Current model (control) | Candidate |",
        "|---|---|---|",
        f"| Value | {code(look.control.value)} | {code(look.candidate.value)} |",
        f"| Version | {code(look.control.version)} | {code(look.candidate.version)} |",
        f"| Share of traffic | {shown_share(scale - look.share, scale)} | {shown_share(look.share, scale)} |",
        f"| Units | {m.units.control:,} | {m.units.candidate:,} |",
        "",
    ]
    if srm.p_value is None:
        lines.append("Sample ratio: not tested yet (an arm expects fewer than 8 units).")
    else:
        verdict = "**mismatch**" if srm.mismatch else "as configured"
        lines.append(
            f"Sample ratio: chi-square p = {srm.p_value:.3g} against the configured "
            f"{shown_share(look.share, scale)} ({verdict}; a mismatch is p < {SRM_P:g})."
        )
    lines += [
        "",
        f"Step: {shown_share(look.share, scale)} since {look.step_start:%Y-%m-%d %H:%M} UTC (commit "
        f"{code(look.step_commit[:12])}), {_duration(look.now - look.step_start)} ago; it lasts at least "
        f"{_duration(dt.timedelta(minutes=r.min_minutes))} and needs {r.min_outcomes:,} outcomes per arm. "
        f"Alpha {r.alpha:g} over {rows} metric × segment row(s): each interval is always valid at "
        f"alpha / {rows}, each p-value shown raw / adjusted (× {rows}).",
        "",
        f"Numbers from {code(m.source)}" + (f": {text(m.note)}." if m.note else "."),
        "",
    ]
    if d.results:
        lines += [
            "| Metric | Segment | Control n | Control | Candidate n | Candidate | Difference [always-valid interval] "
            "| p raw / adjusted | Verdict |",
            "|---|---|--:|--:|--:|--:|---|--:|---|",
            *(_row(result) for result in d.results),
            "",
            *_sources(d.results),
        ]
    return lines


def move_body(where: Where, change: Change, content: str, evidence_text: str, note: str = "") -> str:
    """The body of an ``advance``, ``promote`` or ``rollback`` PR: what changes, and why
    (``evidence_text``: :func:`evidence`'s lines, or a note for a move no look decided)."""
    scale = where.rollout.traffic.scale
    heading = HEADINGS[change.move]
    if change.move == "advance":
        heading += f", {shown_share(change.share_before, scale)} → {shown_share(change.share_after, scale)}"
    lines = [
        f"{marker(where.project, where.env)} hash={content} -->",
        f"## Rollout of {code(where.model, table=False)} in {code(where.env, table=False)}: {heading}",
        "",
    ]
    if note:
        lines += [text(note), ""]
    lines += [*_change(where, change), evidence_text.strip(), ""]
    return "\n".join([*lines, FOOTER]) + "\n"


def status_body(where: Where, share: float, now: dt.datetime, evidence_text: str) -> str:
    """The sticky comment a hold updates: the same evidence, no change."""
    scale = where.rollout.traffic.scale
    lines = [
        status_marker(where.project, where.env),
        f"### Rollout of {code(where.model, table=False)} in {code(where.env, table=False)}: holding at "
        f"{shown_share(share, scale)}",
        "",
        f"Looked at {now:%Y-%m-%d %H:%M} UTC; nothing changes until a look decides otherwise.",
        "",
        evidence_text.strip(),
    ]
    return "\n".join(lines) + "\n"


def start_body(
    where: Where,
    change: Change,
    content: str,
    control: Arm | None,
    candidate: Arm,
    gates: str,
    report: str | None,
    forced_reason: str | None = None,
    limit: int = GITHUB_BODY_LIMIT,
) -> str:
    """The first step's PR, opened by ``promote``: the plan of the rollout and the model's report.
    ``control`` None: a rollout in place restarts with a newer candidate; the model before it stays."""
    r = where.rollout
    before = "the model before the rollout (unchanged)"
    scale = r.traffic.scale
    steps = " → ".join(shown_share(s, scale) for s in r.steps) + " → promotion"
    lines = [
        f"{marker(where.project, where.env)} hash={content} -->",
        f"## Rollout of {code(where.model, table=False)} in {code(where.env, table=False)}: "
        f"{HEADINGS['start']}, {shown_share(change.share_after, scale)} of traffic",
        "",
        "| | Current model (control) | Candidate |",
        "|---|---|---|",
        f"| Value | {code(control.value) if control else before} | {code(candidate.value)} |",
        f"| Version | {code(control.version) if control else before} | {code(candidate.version)} |",
        "",
        *_change(where, change),
        f"Steps: {steps}. Each step lasts at least {_duration(dt.timedelta(minutes=r.min_minutes))} and "
        f"needs {r.min_outcomes:,} outcomes per arm; mlops-rollout looks on its schedule with an "
        f"always-valid test at alpha {r.alpha:g} and opens the next step's, the promotion's or the "
        "rollback's pull request.",
        "",
        "| Metric | Kind | Better | Guardrail | Tolerance | Read from |",
        "|---|---|---|---|--:|---|",
    ]
    for m in r.metrics:
        read = m.column if m.column is not None else "; ".join(f"{k}: {q}" for k, q in m.queries.items())
        lines.append(
            f"| {code(m.name)} | {m.kind} | {m.direction} | {'yes' if m.guardrail else 'no'} | "
            f"{_number(m.tolerance)} | {code(read)} |"
        )
    if r.segments:
        lines += ["", "Segments: " + ", ".join(code(s, table=False) for s in r.segments) + "."]
    lines += ["", f"Gates: {gates}"]
    if forced_reason is not None:
        lines += [
            "",
            "> [!WARNING]",
            f"> Promoted with `--force` although gates failed. Reason: {text(forced_reason)}",
        ]
    head = "\n".join(lines) + "\n"
    tail = "\n" + FOOTER + "\n"
    if report:
        body = "\n".join(line for line in report.splitlines() if not line.startswith("<!--")).strip()
        # The report escaped its own text; defang again, as a squash merge makes the commit from this body.
        section = "\n### Evaluation report\n\n" + defang(body) + "\n"
        room = limit - len(head) - len(tail)
        if len(section) > room:
            note = "\n\n… (report truncated: see the workflow run's job summary)\n"
            section = section[: max(room - len(note), 0)] + note
        head += section
    return head + tail
