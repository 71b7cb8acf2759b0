"""The gate review of a report, as Markdown and text: whose gates decided the verdict (the base's
manifest, or the head's with the one-sentence reason), what the pull request changes in them
(``old -> new``), and what its own gates would say, labelled as not the verdict. Pure: a Comparison in,
text out; :mod:`markdown` and :mod:`text` call it (the JSON report's ``gate_source`` is in :mod:`json`,
which imports no Markdown). Data: :mod:`mlops_gitops.metrics.gatediff`."""

from __future__ import annotations

from mlops_gitops.manifest.model import Gate
from mlops_gitops.metrics.compare import Comparison, GateOutcome
from mlops_gitops.metrics.flatten import Scalar
from mlops_gitops.metrics.gatediff import (
    MISSING,
    FieldChange,
    GateChange,
    GateReview,
    label,
    show,
    show_files,
)
from mlops_gitops.metrics.gates import describe
from mlops_gitops.reporters.markup import cell, code, message, span
from mlops_gitops.reporters.parts import Part, Table

TITLE = "This pull request changes the gates"
NOT_THE_VERDICT = "Not the verdict"
_MAX_REASONS = 3


def _shown(review: GateReview | None) -> bool:
    """Changes are listed when the base's gates decided and the head's differ."""
    return review is not None and review.from_base and review.changed


def _tally(review: GateReview) -> str:
    passed = sum(1 for g in review.head_gates if g.passed)
    total = len(review.head_gates)
    return f"{passed} of {total} gate{'s' if total != 1 else ''} pass"


# --- Markdown ---------------------------------------------------------------------------------------


def _gate_md(gate: Gate) -> str:
    scope = [code(gate.file)] if gate.file else []
    scope += [f"pipeline {code(gate.pipeline)}"] if gate.pipeline else []
    return code(gate.metric) + (f" ({', '.join(scope)})" if scope else "")


def _value_md(change: FieldChange, value: Scalar) -> str:
    if isinstance(value, str) and change.name in ("file", "pipeline"):
        return code(value)
    return cell(show(value))


def _field_md(change: FieldChange) -> str:
    return f"{change.name} {_value_md(change, change.old)} -> {_value_md(change, change.new)}"


def _change_md(change: GateChange) -> str:
    if change.kind == "added" and change.new is not None:
        text = f"added: {cell(describe(change.new))}"
    elif change.kind == "removed" and change.old is not None:
        text = f"removed (was {cell(describe(change.old))})"
    else:
        text = ", ".join(_field_md(f) for f in change.fields)
    return text + (" · ⚠️ looser" if change.looser else "")


def _would_md(outcome: GateOutcome) -> str:
    if outcome.passed:
        return "✅ pass"
    reasons = list(dict.fromkeys(f.reason for f in outcome.failures))
    more = f" (+{len(reasons) - _MAX_REASONS} more)" if len(reasons) > _MAX_REASONS else ""
    return "❌ " + cell("; ".join(reasons[:_MAX_REASONS])) + more


def markdown_parts(comparison: Comparison) -> list[Part]:
    """The fallback note (head's gates decided), and the gate-changes section when the base's did."""
    review = comparison.gate_review
    if review is None:
        return []
    out: list[Part] = []
    if review.reason:
        kind = "NOTE" if review.base_manifest == MISSING else "WARNING"
        out.append(f"\n> [!{kind}]\n> {message(review.reason, table=False)}\n")
    if not _shown(review):
        return out
    looser = any(c.looser for c in review.changes)
    out.append(
        f"\n### ⚠️ {TITLE}\n\n"
        f"The verdict above uses the gates of {span(review.manifest)} at the base "
        f"({span(comparison.base.label)}); these changes apply once this pull request is merged"
        + (", and some of them make the gates easier to pass" if looser else "")
        + ".\n\n"
    )
    rows = [f"| {_gate_md(c.gate)} | {_change_md(c)} |" for c in review.changes]
    if review.metrics_files is not None:
        old, new = (show_files(f) for f in (review.metrics_files.old, review.metrics_files.new))
        rows.append(f"| every gate | metrics.files {cell(old)} -> {cell(new)} |")
    out.append(
        Table(["| Gate | Change (base -> this pull request) |", "| --- | --- |"], rows, "gate changes")
    )
    if not review.head_gates:
        out.append(f"\n**{NOT_THE_VERDICT}:** this pull request's manifest has no gates.\n")
        return out
    out.append(
        f"\n**{NOT_THE_VERDICT}:** with this pull request's gates the report would "
        f"**{review.head_verdict}** ({_tally(review)}).\n\n"
    )
    out.append(
        Table(
            ["| Gate in this pull request | Rule | Would |", "| --- | --- | --- |"],
            [f"| {_gate_md(g.gate)} | {cell(g.rule)} | {_would_md(g)} |" for g in review.head_gates],
            "gates of this pull request",
        )
    )
    return out


# --- text -------------------------------------------------------------------------------------------


def text_lines(comparison: Comparison) -> list[str]:
    """The same for a terminal: the fallback sentence, the changes, the head's gates (not the verdict)."""
    review = comparison.gate_review
    if review is None:
        return []
    lines: list[str] = []
    if review.reason:
        lines.append(("note: " if review.base_manifest == MISSING else "warning: ") + review.reason)
    if not _shown(review):
        return lines
    lines += [
        "",
        f"{TITLE} (the verdict uses those of {review.manifest} at base {comparison.base.label}):",
    ]
    lines += [f"  {c}" + ("  (looser)" if c.looser else "") for c in review.changes]
    if review.metrics_files is not None:
        lines.append(f"  every gate: {review.metrics_files}")
    if not review.head_gates:
        lines.append(f"{NOT_THE_VERDICT}: this pull request's manifest has no gates.")
        return lines
    lines.append(
        f"{NOT_THE_VERDICT}: with this pull request's gates the report would "
        f"{review.head_verdict.upper()} ({_tally(review)}):"
    )
    for outcome in review.head_gates:
        lines.append(f"  {'ok  ' if outcome.passed else 'FAIL'}  {label(outcome.gate)}  {outcome.rule}")
        lines += [f"        {failure}" for failure in outcome.failures[:_MAX_REASONS]]
    return lines
