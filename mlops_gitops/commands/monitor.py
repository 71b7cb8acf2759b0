"""``mlops-gitops monitor``: compare the latest production window with the training baseline.

Exit codes: 0 no drift, 1 drift (after the issue and retrain dispatch are taken care of),
2 bad input (missing or unreadable logs/baseline, unknown columns, no monitoring section).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from mlops_gitops.commands.options import manifest_option
from mlops_gitops.errors import UsageError

REPORT_LIMIT = 60_000  # below GitHub's 65,536-character issue body


@click.command("monitor")
@manifest_option("whose monitoring section applies")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="Format of the report on stdout (or in --output).",
)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write the report to FILE.")
@click.option(
    "--json-output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the JSON report to FILE (whatever --format is).",
)
@click.option("--no-github", is_flag=True, help="Never open, update or close the GitHub issue.")
def command(
    manifest_path: str, fmt: str, output: str | None, json_output: str | None, no_github: bool
) -> int:
    """Drift of production logs against the training baseline: PSI, KS, chi-square, prediction shares."""
    from mlops_gitops.data.alerting import marker
    from mlops_gitops.data.drift import Thresholds, compare, select_window
    from mlops_gitops.data.read import data_files, read_many
    from mlops_gitops.manifest.loader import load_manifest

    manifest = load_manifest(manifest_path)
    config = manifest.monitoring
    if not config:
        raise UsageError(
            f"{manifest_path}: no monitoring section; add monitoring.logs and monitoring.baseline"
        )
    base_dir = Path(manifest_path).parent
    logs_path = ensure_present(base_dir / config["logs"], config["logs"])
    baseline_path = ensure_present(base_dir / config["baseline"], config["baseline"])
    fmt_declared = config.get("format")
    logs = read_many(data_files(logs_path, fmt_declared), fmt_declared)
    baseline = read_many(data_files(baseline_path, fmt_declared), fmt_declared)
    if logs.num_rows == 0:
        raise UsageError(f"{config['logs']}: the logs hold no rows")
    if baseline.num_rows == 0:
        raise UsageError(f"{config['baseline']}: the baseline holds no rows")
    window, window_info = select_window(logs, config)
    if window.num_rows == 0:
        raise UsageError(f"{config['logs']}: no rows in the monitoring window")
    thresholds = Thresholds.from_manifest(config.get("thresholds"))
    result = compare(baseline, window, config, thresholds)
    report: dict[str, Any] = {
        "project": manifest.name,
        "drift": result["drift"],
        "logs": {"path": config["logs"], **window_info},
        "baseline": {"path": config["baseline"], "rows": baseline.num_rows},
        **{k: v for k, v in result.items() if k != "drift"},
    }
    markdown = render_markdown(report, marker(manifest.name))

    alert = None
    if not no_github and os.environ.get("GITHUB_ACTIONS") == "true":
        alert = alert_github(report, markdown, manifest.monitoring or {}, manifest.default_branch)
    report["alert"] = alert

    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n" if fmt == "json" else markdown
    if output:
        write(Path(output), text)
    else:
        click.echo(text, nl=False)
    if json_output:
        write(Path(json_output), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    if output:
        drifted = sum(1 for g in report["groups"] if g["drift"])
        state = f"drift in {drifted} of {len(report['groups'])} groups" if report["drift"] else "no drift"
        click.echo(f"monitor: {state}; report written to {output}", err=True)
    return 1 if report["drift"] else 0


def alert_github(report: dict[str, Any], markdown: str, config: dict[str, Any], default_branch: str) -> Any:
    """Issue lifecycle in Actions; without a token only a warning, so the drift verdict still stands."""
    from mlops_gitops.github.client import GitHubContext

    ctx = GitHubContext.from_env()
    if not ctx.token:
        click.echo(
            "::warning title=mlops-gitops monitor::GITHUB_TOKEN is not set: the drift issue is not updated",
            err=True,
        )
        return None
    from mlops_gitops.data.alerting import sync_issue

    logs = report["logs"]
    span = f" ({logs['rows']} rows" + (f", {logs['start']} to {logs['end']})" if logs.get("start") else ")")
    outcome = sync_issue(
        ctx, report["project"], report["drift"], markdown, config.get("on_drift"), default_branch, span
    )
    return outcome.to_json()


def ensure_present(path: Path, shown: str) -> Path:
    """``path``, pulled from the DVC remote first when it is missing but tracked by DVC."""
    if path.exists():
        return path
    root = dvc_root(path)
    if root is None or not is_dvc_tracked(path, root):
        raise UsageError(f"{shown}: no such file or directory")
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    # Absolute: DVC resolves targets against the working directory, not the repository root.
    target = str(path.resolve())
    if Path(f"{target}.dvc").is_file():
        target += ".dvc"  # a bare path is looked up only among dvc.yaml outs, not .dvc files
    try:
        with Repo(str(root)) as repo:
            repo.pull(targets=[target])
    except DvcException as exc:
        first = " ".join(str(exc).split())[:300]
        raise UsageError(f"{shown}: missing and `dvc pull` failed: {first}") from None
    if not path.exists():
        raise UsageError(f"{shown}: still missing after `dvc pull`")
    return path


def dvc_root(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / ".dvc").is_dir():
            return parent
    return None


def is_dvc_tracked(path: Path, root: Path) -> bool:
    """A ``.dvc`` file next to it, or an out of some stage in dvc.lock."""
    resolved = path.resolve()
    if Path(f"{resolved}.dvc").is_file():
        return True
    lock = root / "dvc.lock"
    if lock.is_file():
        rel = os.path.relpath(resolved, root)
        text = lock.read_text(encoding="utf-8", errors="replace")
        return f"path: {rel}\n" in text or f"path: {rel}/\n" in text
    return False


def write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the report: {exc.strerror}") from None


# --- Markdown ------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value != 0 and abs(value) < 10**-digits:
        return f"{value:.2e}"
    return f"{value:.{digits}f}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _feature_table(group: dict[str, Any]) -> list[str]:
    lines = [
        "| Feature | Kind | PSI | KS statistic | KS p-value | χ² | χ² p-value | Drift |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for f in group["features"]:
        flag = "🔴 " + "; ".join(f["reasons"]) if f["drift"] else "✅"
        if f["kind"] == "numeric":
            row = [
                f["feature"],
                "numeric",
                _num(f["psi"]),
                _num(f["ks_statistic"]),
                _num(f["ks_pvalue"]),
                "",
                "",
            ]
        else:
            row = [f["feature"], "categorical", "", "", "", _num(f["chi2"], 2), _num(f["chi2_pvalue"])]
        lines.append("| " + " | ".join(_cell(c) for c in [*row, flag]) + " |")
    return lines


def _prediction_table(group: dict[str, Any]) -> list[str]:
    preds = group["predictions"]
    lines = [
        f"| Predicted `{_cell(preds['column'])}` | Baseline share | Window share | Difference | Drift |",
        "|---|---:|---:|---:|---|",
    ]
    for c in preds["classes"][:50]:
        lines.append(
            f"| {_cell(c['class'])} | {c['baseline_share']:.3f} | {c['window_share']:.3f} | "
            f"{c['difference']:+.3f} | {'🔴' if c['drift'] else '✅'} |"
        )
    return lines


def render_markdown(report: dict[str, Any], first_line: str) -> str:
    """The issue / job-summary report; its first line is the hidden marker that finds the issue."""
    th = report["thresholds"]
    logs, base = report["logs"], report["baseline"]
    groups = report["groups"]
    overall, segments = groups[0], groups[1:]
    title = "🔴 Drift detected" if report["drift"] else "✅ No drift"
    span = ""
    if logs.get("rows_limit"):
        span = f"last {logs['rows_limit']} rows"
    elif logs.get("days"):
        span = f"last {logs['days']:g} days"
    else:
        span = "all rows"
    times = f", {logs['start']} to {logs['end']}" if logs.get("start") else ""
    out = [
        first_line,
        f"## {title}: {_cell(report['project'])}",
        "",
        f"Window: {span} of `{_cell(logs['path'])}` ({logs['rows']} of {logs['total_rows']} rows{times}); "
        f"baseline `{_cell(base['path'])}` ({base['rows']} rows).",
        f"Thresholds: PSI > {th['psi']:g}, KS p-value < {th['ks_pvalue']:g}, "
        f"χ² p-value < {th['chi2_pvalue']:g}, prediction share moves > {th['prediction_share']:g}.",
        "",
        f"### Overall ({overall['rows']} rows)",
        "",
    ]
    if overall["features"]:
        out += [*_feature_table(overall), ""]
    if overall["predictions"]:
        out += [*_prediction_table(overall), ""]
    if segments:
        out += [
            "### Segments",
            "",
            "| Segment | Rows | Baseline rows | Drifted | Details |",
            "|---|---:|---:|---|---|",
        ]
        for g in sorted(
            segments, key=lambda g: (not g["drift"], g["segment"]["column"], str(g["segment"]["value"]))
        ):
            seg = f"{g['segment']['column']} = {g['segment']['value']}"
            if g["skipped"]:
                detail, flag = f"not tested: {g['skipped']}", "–"
            else:
                bits = [f"{f['feature']} ({'; '.join(f['reasons'])})" for f in g["features"] if f["drift"]]
                if g["predictions"] and g["predictions"]["drift"]:
                    moved = [
                        f"{c['class']} {c['difference']:+.3f}"
                        for c in g["predictions"]["classes"]
                        if c["drift"]
                    ]
                    bits.append("prediction share: " + ", ".join(moved))
                detail, flag = "; ".join(bits), "🔴" if g["drift"] else "✅"
            out.append(f"| {_cell(seg)} | {g['rows']} | {g['baseline_rows']} | {flag} | {_cell(detail)} |")
        out.append("")
    text = "\n".join(out)
    if len(text) > REPORT_LIMIT:
        note = "\n… (truncated: the full report is in the JSON output)\n"
        text = text[: REPORT_LIMIT - len(note)] + note
    return text
