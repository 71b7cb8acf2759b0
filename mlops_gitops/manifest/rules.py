"""The rules of mlops.yaml the JSON Schema cannot express: references between sections, order,
templates, pinned images and actions, and no GitHub expression where a workflow would evaluate it.

They run on data the schema has already accepted (so its shapes hold, but it is still the user's
plain YAML), one small function per rule or section, in the order of :data:`RULES`; each reports
through :class:`Findings`, which locates every problem at ``file:line:col``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from mlops_gitops.errors import Problem
from mlops_gitops.manifest.source import Path_, SourceMap, dotted, schema
from mlops_gitops.names import VALIDATION_STAGE

# What `init --yes` writes when nothing says how the project installs its requirements: a command
# that fails loudly if it ever runs, and a value the loader refuses until a person replaces it.
INSTALL_PLACEHOLDER = "false  # mlops-gitops init: set the command that installs this project's requirements"
VALUE_PLACEHOLDERS = frozenset({"model_hash", "short_hash", "commit", "short_commit", "model", "env"})
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")

# A third-party action pinned to a full commit SHA, a local action, or a Docker image by digest.
_PINNED_USES = re.compile(
    r"^(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@[0-9a-f]{40}|\./\S+|docker://\S+@sha256:[0-9a-f]{64})$"
)
# The only expressions a user's step may hold, in `with:` and `env:`: values no attacker controls.
_SAFE_EXPRESSION = re.compile(r"\$\{\{\s*(?:secrets|vars)\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}")
_PINNED_IMAGE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")

# The manifest as the schema accepted it: plain YAML data (mappings, lists, scalars), not yet typed.
Data = Mapping[str, Any]


class Add(Protocol):
    """Reports one problem at ``path``: where its value was written, or (``at_key``) its key."""

    def __call__(self, path: Path_, message: str, at_key: bool = False) -> None: ...


class Findings:
    """The problems found so far, each located in the manifest's text."""

    def __init__(self, source: SourceMap, filename: str) -> None:
        self.source = source
        self.filename = filename
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str, at_key: bool = False) -> None:
        line, col = (self.source.key(path) if at_key else self.source.value(path)) or (None, None)
        self.problems.append(Problem(self.filename, line, col, dotted(path), message))

    def no_expressions(self, node: object, path: Path_) -> None:
        """Every string under ``node`` that holds ``${{``: GitHub would evaluate it in the workflow."""
        if isinstance(node, str) and "${{" in node:
            self.add(
                path,
                "'${{' is not allowed: this value is written into a generated workflow, where GitHub would evaluate it as an expression",
            )
        elif isinstance(node, dict):
            for key, value in node.items():
                self.no_expressions(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self.no_expressions(value, (*path, index))


def semantic_problems(data: Data, source: SourceMap, filename: str) -> list[Problem]:
    """Rules the schema cannot express: references between sections, order, templates."""
    found = Findings(source, filename)
    for rule in RULES:
        rule(data, found)
    return found.problems


# --- values written into workflows ---------------------------------------------------------------


def expressions_in_sections(data: Data, found: Findings) -> None:
    """No ``${{`` in the sections written into workflows (runners are checked job by job below)."""
    for section, value in data.items():
        if section not in ("stages", "dvc", "metrics", "runners"):  # not written into workflows
            found.no_expressions(value, (section,))


def stage_runners(data: Data, found: Findings) -> None:
    """``runners.stages``: no expressions, and a container image pinned by digest."""
    for pattern, spec in ((data.get("runners") or {}).get("stages") or {}).items():
        for key, value in (spec or {}).items():
            found.no_expressions(value, ("runners", "stages", pattern, key))
        container_problem(
            (spec or {}).get("container"), ("runners", "stages", pattern, "container"), found.add
        )


def fanout_bounds(data: Data, found: Findings) -> None:
    """``fanout.min_jobs`` no greater than ``max_jobs``, either one possibly the schema's default."""
    if "fanout" not in data:
        return
    keys = schema()["properties"]["fanout"]["properties"]
    fanout = {**{k: v["default"] for k, v in keys.items()}, **(data["fanout"] or {})}
    if fanout["min_jobs"] > fanout["max_jobs"]:
        where = ("fanout", "min_jobs" if "min_jobs" in (data["fanout"] or {}) else "max_jobs")
        found.add(where, f"min_jobs ({fanout['min_jobs']}) is greater than max_jobs ({fanout['max_jobs']})")


def job_runners(data: Data, found: Findings) -> None:
    """``runners.<job>``: no expressions (steps have their own rule), pinned steps and images."""
    for job, runner in (data.get("runners") or {}).items():
        if job == "stages":  # patterns -> stage runners, checked in stage_runners
            continue
        for key, value in (runner or {}).items():
            if key != "steps":
                found.no_expressions(value, ("runners", job, key))
        for where, steps in ((runner or {}).get("steps") or {}).items():
            for i, step in enumerate(steps or []):
                step_problems(step, ("runners", job, "steps", where, i), found.add)
        container_problem((runner or {}).get("container"), ("runners", job, "container"), found.add)
        for name, service in ((runner or {}).get("services") or {}).items():
            if isinstance(service, dict):
                image_problem(service.get("image"), ("runners", job, "services", name, "image"), found.add)


def container_problem(container: object, path: Path_, add: Add) -> None:
    """A container given as an image name or as a mapping with ``image``: that image pinned."""
    if container is None:
        return
    if isinstance(container, dict):
        image_problem(container.get("image"), (*path, "image"), add)
    else:
        image_problem(container, path, add)


def image_problem(image: object, path: Path_, add: Add) -> None:
    """A job's container or service image must be pinned by digest: a tag can be moved to another
    image by whoever controls the registry, and the job runs it with the job's credentials."""
    if isinstance(image, str) and not _PINNED_IMAGE.match(image):
        add(
            path,
            f"'{image}' is not pinned: add its digest (IMAGE:TAG@sha256:<64 hex>, from "
            "`docker buildx imagetools inspect IMAGE:TAG`); a tag can be moved by whoever controls it",
        )


def step_problems(step: Mapping[str, object], path: Path_, add: Add) -> None:
    """A user's extra step: actions pinned by SHA; expressions only to pass secrets or variables."""
    uses = step.get("uses")
    if isinstance(uses, str) and not _PINNED_USES.match(uses):
        add(
            (*path, "uses"),
            f"'{uses}' is not pinned: use a full commit SHA (owner/action@<40 hex>  # v1.2.3), a local "
            "action (./path), or a Docker image by digest; a tag can be moved by whoever controls it",
        )
    for key, value in step.items():
        if key in ("with", "env") and isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, str) and "${{" in _SAFE_EXPRESSION.sub("", item):
                    add(
                        (*path, key, name),
                        "only ${{ secrets.NAME }} and ${{ vars.NAME }} may be used here; other expressions "
                        "can carry text an attacker controls",
                    )
        elif isinstance(value, str) and "${{" in value:
            add(
                (*path, key),
                "'${{' is not allowed here: pass secrets with runners.<job>.secrets, or through the "
                "step's env: (${{ secrets.NAME }})",
            )


# --- what the project is and how it installs -----------------------------------------------------


def pipelines_or_stages(data: Data, found: Findings) -> None:
    """Exactly one of ``pipelines:`` (the user's dvc.yaml files) and ``stages:`` (ours to write)."""
    if ("stages" in data) == ("pipelines" in data):
        found.add(
            (),
            "give either `pipelines:` (your own dvc.yaml files, which mlops-gitops never writes) or "
            "`stages:` (a new project whose dvc.yaml mlops-gitops writes), not both"
            if "stages" in data
            else "missing `pipelines:` (your dvc.yaml files, e.g. [dvc.yaml] or [pipelines/*/dvc.yaml]) "
            "or `stages:` (for a new project, written into dvc.yaml)",
            at_key=True,
        )


def token_login(data: Data, found: Findings) -> None:
    """A deploy token names the login it acts as: only that login's pull requests are edited."""
    deploy = data.get("deploy") or {}
    if deploy.get("token_secret") and not deploy.get("token_login"):
        found.add(
            ("deploy", "token_secret"),
            "set deploy.token_login too: the login this token acts as (a GitHub App: 'NAME[bot]'; a "
            "fine-grained token: its user), so mlops-gitops only edits the pull requests it opened",
        )


def install_placeholder(data: Data, found: Findings) -> None:
    """What ``init --yes`` wrote when it could not tell how the project installs: a person sets it."""
    if (data.get("python") or {}).get("install") == INSTALL_PLACEHOLDER:
        found.add(
            ("python", "install"),
            "init could not tell how this project installs its requirements: set the command "
            "(for example `pip install -r requirements.txt`)",
        )


def reserved_stage(data: Data, found: Findings) -> None:
    if VALIDATION_STAGE in (data.get("stages") or {}):
        found.add(
            ("stages", VALIDATION_STAGE),
            "this stage name is reserved for the data-validation stage mlops-gitops generates",
            at_key=True,
        )


# --- deployment environments ---------------------------------------------------------------------


def _environments(data: Data) -> list[Any]:
    return list((data.get("deploy") or {}).get("environments") or [])


def environment_values(data: Data, found: Findings) -> None:
    """Each environment named once; its value template uses only the known placeholders."""
    names: set[str] = set()
    for i, env in enumerate(_environments(data)):
        if env["name"] in names:
            found.add(("deploy", "environments", i, "name"), f"environment '{env['name']}' is defined twice")
        names.add(env["name"])
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(env["value"]) if f is not None}
        except ValueError as exc:
            found.add(("deploy", "environments", i, "value"), f"bad template: {exc}")
            fields = set()
        for unknown in sorted(fields - VALUE_PLACEHOLDERS):
            found.add(
                ("deploy", "environments", i, "value"),
                f"unknown placeholder {{{unknown}}}; use one of {', '.join('{' + p + '}' for p in sorted(VALUE_PLACEHOLDERS))}",
            )


def environment_order(data: Data, found: Findings) -> None:
    """``after:`` names other, existing environments, and the order has no cycle."""
    envs = _environments(data)
    names = list(dict.fromkeys(env["name"] for env in envs))  # first definitions, in order
    for i, env in enumerate(envs):
        for j, dep in enumerate(env.get("after") or []):
            if dep not in names:
                import difflib  # only for a name that is not there

                near = difflib.get_close_matches(dep, names, n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                found.add(("deploy", "environments", i, "after", j), f"unknown environment '{dep}'{hint}")
            elif dep == env["name"]:
                found.add(
                    ("deploy", "environments", i, "after", j), "an environment cannot come after itself"
                )
    cycle = find_cycle({e["name"]: list(e.get("after") or []) for e in envs})
    if cycle:
        found.add(
            ("deploy", "environments"), f"environment order has a cycle: {' -> '.join(cycle)}", at_key=True
        )


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph or nxt == node:
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


# --- the other sections --------------------------------------------------------------------------


def gates(data: Data, found: Findings) -> None:
    """A gate checks something, and its bounds leave room for a value."""
    # Whether the model path and gate files exist in the pipelines is checked against what DVC
    # resolves (mlops_gitops.pipeline.project.facts_problems): the loader reads mlops.yaml alone.
    for i, gate in enumerate((data.get("metrics") or {}).get("gates") or []):
        if "min" in gate and "max" in gate and gate["min"] > gate["max"]:
            found.add(
                ("metrics", "gates", i, "min"), f"min ({gate['min']}) is greater than max ({gate['max']})"
            )
        if not any(k in gate for k in ("min", "max", "regression")):
            found.add(
                ("metrics", "gates", i), "a gate needs at least one of min, max or regression", at_key=True
            )


def schedules(data: Data, found: Findings) -> None:
    for where in (("triggers", "schedule"), ("monitoring", "schedule")):
        cron = (data.get(where[0]) or {}).get(where[1])
        if cron and not all(_CRON_FIELD.match(f) for f in cron.split()):
            found.add(where, f"'{cron}' is not a valid cron expression")


def cloud_settings(data: Data, found: Findings) -> None:
    """Settings only for the provider in use (another's would be ignored without a word)."""
    cloud = data.get("cloud") or {}
    for other in ("aws", "gcp", "azure"):
        if other in cloud and cloud.get("provider") != other:
            found.add(
                ("cloud", other),
                f"settings for '{other}' but provider is '{cloud.get('provider')}'",
                at_key=True,
            )


def registry_needs_deploy(data: Data, found: Findings) -> None:
    if (data.get("record") or {}).get("registry") and not data.get("deploy"):
        found.add(("record", "registry"), "the registry records deploy.model: add a deploy section")


def monitoring_window(data: Data, found: Findings) -> None:
    monitoring = data.get("monitoring") or {}
    window = monitoring.get("window") or {}
    if "rows" in window and "days" in window:
        found.add(("monitoring", "window"), "give either rows or days, not both", at_key=True)
    if "days" in window and not monitoring.get("timestamp"):
        found.add(("monitoring", "window", "days"), "a window in days needs monitoring.timestamp")


def data_checks(data: Data, found: Findings) -> None:
    """Row and value bounds that leave room for data, and patterns Python can compile."""
    for i, check in enumerate((data.get("data") or {}).get("checks") or []):
        if "min_rows" in check and "max_rows" in check and check["min_rows"] > check["max_rows"]:
            found.add(("data", "checks", i, "min_rows"), "min_rows is greater than max_rows")
        for col, spec in (check.get("columns") or {}).items():
            if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
                found.add(("data", "checks", i, "columns", col, "min"), "min is greater than max")
            if "pattern" in spec:
                try:
                    re.compile(spec["pattern"])
                except re.error as exc:
                    found.add(
                        ("data", "checks", i, "columns", col, "pattern"), f"invalid regular expression: {exc}"
                    )


# Every rule, in the order it reports (problems are sorted by position afterwards; this order
# breaks ties between problems at the same place).
RULES: tuple[Callable[[Data, Findings], None], ...] = (
    expressions_in_sections,
    stage_runners,
    fanout_bounds,
    job_runners,
    pipelines_or_stages,
    token_login,
    install_placeholder,
    reserved_stage,
    environment_values,
    environment_order,
    gates,
    schedules,
    cloud_settings,
    registry_needs_deploy,
    monitoring_window,
    data_checks,
)
