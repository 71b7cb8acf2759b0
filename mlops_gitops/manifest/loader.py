"""Load mlops.yaml: parse with positions, validate against the schema, build the typed model.

Every problem becomes a :class:`~mlops_gitops.errors.Problem` with ``file:line:col``; all problems
are collected before raising, so a user fixes the manifest in one pass.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import string
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_gitops.errors import ManifestError, Problem
from mlops_gitops.manifest.defaults import apply_defaults, builtin
from mlops_gitops.manifest.model import (
    Cloud,
    Deploy,
    Environment,
    Fanout,
    Gate,
    Manifest,
    Model,
    Record,
    Runner,
    Stage,
    StageRunner,
)
from mlops_gitops.names import MANIFEST_FILE, VALIDATION_STAGE

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.manifest.sections import DataCheck, Monitoring

# What `init --yes` writes when nothing says how the project installs its requirements: a command
# that fails loudly if it ever runs, and a value the loader refuses until a person replaces it.
INSTALL_PLACEHOLDER = "false  # mlops-gitops init: set the command that installs this project's requirements"
VALUE_PLACEHOLDERS = frozenset({"model_hash", "short_hash", "commit", "short_commit", "model", "env"})
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?LW#]+$")

Path_ = tuple[str | int, ...]


@cache
def schema() -> dict[str, Any]:
    """The manifest JSON Schema shipped in the package."""
    # Beside this module in a wheel and in a checkout alike; plain file access is cheaper than importlib.resources.
    text = (Path(__file__).resolve().parent / "schema.json").read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


class SourceMap:
    """1-based (line, col) of every key and value in a ruamel.yaml round-trip document."""

    def __init__(self) -> None:
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.values: dict[Path_, tuple[int, int]] = {}

    def record(self, node: Any, path: Path_ = ()) -> None:
        lc = getattr(node, "lc", None)
        if lc is None:
            return
        if not path and lc.line is not None:
            self.values[()] = (lc.line + 1, lc.col + 1)
        if isinstance(node, dict):
            for key, child in node.items():
                sub = (*path, str(key))
                try:
                    kl, kc = lc.key(key)
                    vl, vc = lc.value(key)
                except (KeyError, TypeError):
                    continue
                self.keys[sub] = (kl + 1, kc + 1)
                self.values[sub] = (vl + 1, vc + 1)
                self.record(child, sub)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                sub = (*path, index)
                try:
                    il, ic = lc.item(index)
                except (KeyError, TypeError, IndexError):
                    continue
                self.keys[sub] = self.values[sub] = (il + 1, ic + 1)
                self.record(child, sub)

    def key(self, path: Path_) -> tuple[int, int] | None:
        """Where the key at ``path`` was written, or the nearest enclosing one."""
        for cut in range(len(path), -1, -1):
            pos = self.keys.get(path[:cut]) or self.values.get(path[:cut])
            if pos:
                return pos
        return None

    def value(self, path: Path_) -> tuple[int, int] | None:
        return self.values.get(path) or self.key(path)


def dotted(path: Path_) -> str:
    """``('stages', 'train', 'deps', 0)`` -> ``stages.train.deps[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(root)"


def to_plain(node: Any) -> Any:
    """ruamel's commented containers -> plain dicts and lists (ordered), scalars unchanged."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if hasattr(node, "value") and hasattr(node, "tag"):
        return to_plain(node.value)  # a custom-tagged scalar (!foo bar): the tag means nothing here
    return node


def parse_yaml(text: str, filename: str) -> tuple[Any, SourceMap]:
    """Round-trip parse (keeps positions). YAML errors become one located Problem."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from mlops_gitops.adapters.yamlsafe import load_roundtrip

    try:
        doc = load_roundtrip(text, filename)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        if "found duplicate key" in (exc.problem or ""):
            problem = exc.problem.split(" with value")[0]
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ManifestError([Problem(filename, line, col, "", f"YAML syntax error: {problem}")]) from None
    except YAMLError as exc:
        raise ManifestError([Problem(filename, None, None, "", f"YAML error: {exc}")]) from None
    source = SourceMap()
    source.record(doc)
    return doc, source


def load_manifest(path: str | Path = MANIFEST_FILE) -> Manifest:
    """Read, validate and type ``path``; raises ManifestError with every problem found."""
    file = Path(path)
    # Errors name the file as the user would type it: relative to where they stand when that is shorter.
    name = (
        os.path.relpath(file)
        if file.is_absolute() and not os.path.relpath(file).startswith("..")
        else str(path)
    )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(
            [Problem(name, None, None, "", "not found; run `mlops-gitops init` to create it")]
        ) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([Problem(name, None, None, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ManifestError([Problem(name, None, None, "", f"cannot read: {exc.strerror}")]) from None
    memo = ValidationMemo.beside(file)
    data = memo.recall(text) if memo is not None else None
    if data is not None:
        return build(data)
    manifest = load_manifest_text(text, name)
    if memo is not None:
        memo.remember(text, manifest.raw)
    return manifest


class ValidationMemo:
    """Manifests that passed validation, as plain data keyed by a hash, kept in the repository's
    ``.git`` (never committed).

    Every command loads the manifest, and in CI several run one after another on the same text:
    validating (and even parsing) it once is enough. A key covers the text, the tool version and the
    schema and loader files, so a changed manifest or tool is validated again."""

    NAME = "mlops-gitops-valid.json"
    KEEP = 16

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, manifest: Path) -> ValidationMemo | None:
        git = manifest.resolve().parent / ".git"
        return cls(git / cls.NAME) if git.is_dir() else None

    @staticmethod
    def key(text: str) -> str:
        import hashlib

        from mlops_gitops.adapters.resources import tool_signature

        return hashlib.sha256(f"{tool_signature()}\0{text}".encode()).hexdigest()

    def _entries(self) -> dict[str, Any]:
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def recall(self, text: str) -> dict[str, Any] | None:
        data = self._entries().get(self.key(text))
        return data if isinstance(data, dict) else None

    def remember(self, text: str, data: Mapping[str, Any]) -> None:
        try:
            if json.loads(json.dumps(data)) != data:
                return  # a value JSON cannot carry (a YAML timestamp): validate every time instead
        except (TypeError, ValueError):
            return
        key = self.key(text)
        entries = {k: v for k, v in self._entries().items() if k != key}
        kept = dict(list(entries.items())[-(self.KEEP - 1) :])
        kept[key] = data
        with contextlib.suppress(OSError):  # a read-only .git only costs speed
            self.path.write_text(json.dumps(kept), encoding="utf-8")


def load_manifest_text(text: str, filename: str = MANIFEST_FILE) -> Manifest:
    data = quick_parse(text, filename)
    if isinstance(data, dict):
        data = to_plain(data)  # keys as strings, as the round-trip path gives them
        # The happy path: the plain parser is much faster than the round trip, and positions are
        # only needed to report problems.
        problems = find_problems(data, SourceMap(), filename)
        if not problems:
            return build(data)
    doc, source = parse_yaml(text, filename)
    if doc is None:
        raise ManifestError(
            [
                Problem(
                    filename, 1, 1, "", "the manifest is empty; it needs at least version, project and stages"
                )
            ]
        )
    data = to_plain(doc)
    problems = find_problems(data, source, filename)
    if problems:
        raise ManifestError(problems)
    return build(data)


def quick_parse(text: str, filename: str) -> Any:
    """Plain data from ruamel's safe loader, or None when the text needs the careful path (a syntax
    error, a custom tag, an empty document). An alias bomb is refused here, in one line."""
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe

    try:
        return load_safe(text, filename)
    except YAMLError:
        return None


def find_problems(data: Any, source: SourceMap, filename: str) -> list[Problem]:
    problems = schema_problems(data, source, filename)
    if not problems:
        problems = semantic_problems(data, source, filename)
        problems.sort(key=lambda p: (p.line or 0, p.col or 0, p.path))
    return problems


def schema_problems(data: Any, source: SourceMap, filename: str) -> list[Problem]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    problems: list[Problem] = []
    seen: set[str] = set()
    for error in validator.iter_errors(data):
        for problem in describe(error, source, filename):
            if str(problem) not in seen:
                seen.add(str(problem))
                problems.append(problem)
    problems.sort(key=lambda p: (p.line or 0, p.col or 0, p.path))
    return problems


def describe(error: Any, source: SourceMap, filename: str) -> list[Problem]:
    """Turn one jsonschema error into located, human-worded problems."""
    path: Path_ = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        out = []
        for key in error.instance:
            if key in allowed or not isinstance(error.schema.get("additionalProperties"), bool):
                continue
            near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = (
                f"; did you mean '{near[0]}'?"
                if near
                else (f"; valid keys: {', '.join(allowed)}" if allowed else "")
            )
            line, col = source.key((*path, key)) or (None, None)
            out.append(Problem(filename, line, col, dotted((*path, key)), f"unknown key{hint}"))
        return out
    if kind in ("anyOf", "oneOf") and error.context:
        # Prefer the branch that got furthest: its message names the real problem.
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), -len(str(e.message))))
        if len(deepest.absolute_path) > len(path):
            return describe(deepest, source, filename)
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        line, col = source.key(path) or (1, 1)
        return [
            Problem(filename, line, col, dotted(path), f"missing required key '{m}'") for m in missing
        ] or [Problem(filename, line, col, dotted(path), error.message)]
    line, col = source.value(path) or (None, None)
    return [Problem(filename, line, col, dotted(path), wording(error))]


def wording(error: Any) -> str:
    kind = error.validator
    inst = error.instance
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"expected {expected}, got {type_name(inst)}"
    if kind == "enum":
        return f"{inst!r} is not one of: {', '.join(map(str, error.validator_value))}"
    if kind == "const":
        return f"must be {error.validator_value!r}, got {inst!r}"
    if kind == "pattern":
        return f"{inst!r} does not match the expected format ({error.validator_value})"
    if kind == "minProperties":
        return "must not be empty"
    if kind == "minItems":
        return f"needs at least {error.validator_value} item(s)"
    if kind in ("minimum", "maximum", "exclusiveMinimum"):
        return error.message
    if kind == "not":
        return "a foreach stage takes its cmd inside 'do', and cannot also have cmd or matrix"
    if kind == "dependentRequired":
        return error.message
    return str(error.message)


def type_name(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def semantic_problems(data: dict[str, Any], source: SourceMap, filename: str) -> list[Problem]:
    """Rules the schema cannot express: references between sections, order, templates."""
    problems: list[Problem] = []

    def add(path: Path_, message: str, at_key: bool = False) -> None:
        line, col = (source.key(path) if at_key else source.value(path)) or (None, None)
        problems.append(Problem(filename, line, col, dotted(path), message))

    def no_expressions(node: Any, path: Path_) -> None:
        if isinstance(node, str) and "${{" in node:
            add(
                path,
                "'${{' is not allowed: this value is written into a generated workflow, where GitHub would evaluate it as an expression",
            )
        elif isinstance(node, dict):
            for key, value in node.items():
                no_expressions(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                no_expressions(value, (*path, index))

    for section, value in data.items():
        if section not in ("stages", "dvc", "metrics", "runners"):  # not written into workflows
            no_expressions(value, (section,))
    runners_data = data.get("runners") or {}
    for pattern, spec in (runners_data.get("stages") or {}).items():
        for key, value in (spec or {}).items():
            no_expressions(value, ("runners", "stages", pattern, key))
        container = (spec or {}).get("container")
        if container is not None:
            image_path = ("runners", "stages", pattern, "container") + (
                ("image",) if isinstance(container, dict) else ()
            )
            image_problem(
                container.get("image") if isinstance(container, dict) else container, image_path, add
            )
    if "fanout" in data:
        keys = schema()["properties"]["fanout"]["properties"]
        fanout = {**{k: v["default"] for k, v in keys.items()}, **(data["fanout"] or {})}
        if fanout["min_jobs"] > fanout["max_jobs"]:
            where = ("fanout", "min_jobs" if "min_jobs" in (data["fanout"] or {}) else "max_jobs")
            add(where, f"min_jobs ({fanout['min_jobs']}) is greater than max_jobs ({fanout['max_jobs']})")
    for job, runner in runners_data.items():
        if job == "stages":  # patterns -> stage runners, checked above
            continue
        for key, value in (runner or {}).items():
            if key != "steps":
                no_expressions(value, ("runners", job, key))
        for where, steps in ((runner or {}).get("steps") or {}).items():
            for i, step in enumerate(steps or []):
                step_problems(step, ("runners", job, "steps", where, i), add)
        container = (runner or {}).get("container")
        if container is not None:
            image_path = ("runners", job, "container") + (("image",) if isinstance(container, dict) else ())
            image_problem(
                container.get("image") if isinstance(container, dict) else container, image_path, add
            )
        for name, service in ((runner or {}).get("services") or {}).items():
            if isinstance(service, dict):
                image_problem(service.get("image"), ("runners", job, "services", name, "image"), add)

    if ("stages" in data) == ("pipelines" in data):
        add(
            (),
            "give either `pipelines:` (your own dvc.yaml files, which mlops-gitops never writes) or "
            "`stages:` (a new project whose dvc.yaml mlops-gitops writes), not both"
            if "stages" in data
            else "missing `pipelines:` (your dvc.yaml files, e.g. [dvc.yaml] or [pipelines/*/dvc.yaml]) "
            "or `stages:` (for a new project, written into dvc.yaml)",
            at_key=True,
        )
    deploy = data.get("deploy") or {}
    if deploy.get("token_secret") and not deploy.get("token_login"):
        add(
            ("deploy", "token_secret"),
            "set deploy.token_login too: the login this token acts as (a GitHub App: 'NAME[bot]'; a "
            "fine-grained token: its user), so mlops-gitops only edits the pull requests it opened",
        )
    if (data.get("python") or {}).get("install") == INSTALL_PLACEHOLDER:
        add(
            ("python", "install"),
            "init could not tell how this project installs its requirements: set the command "
            "(for example `pip install -r requirements.txt`)",
        )
    if VALIDATION_STAGE in (data.get("stages") or {}):
        add(
            ("stages", VALIDATION_STAGE),
            "this stage name is reserved for the data-validation stage mlops-gitops generates",
            at_key=True,
        )

    deploy = data.get("deploy") or {}
    envs = deploy.get("environments") or []
    names: dict[str, int] = {}
    for i, env in enumerate(envs):
        if env["name"] in names:
            add(("deploy", "environments", i, "name"), f"environment '{env['name']}' is defined twice")
        names.setdefault(env["name"], i)
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(env["value"]) if f is not None}
        except ValueError as exc:
            add(("deploy", "environments", i, "value"), f"bad template: {exc}")
            fields = set()
        for unknown in sorted(fields - VALUE_PLACEHOLDERS):
            add(
                ("deploy", "environments", i, "value"),
                f"unknown placeholder {{{unknown}}}; use one of {', '.join('{' + p + '}' for p in sorted(VALUE_PLACEHOLDERS))}",
            )
    for i, env in enumerate(envs):
        for j, dep in enumerate(env.get("after") or []):
            if dep not in names:
                near = difflib.get_close_matches(dep, list(names), n=1)
                hint = f"; did you mean '{near[0]}'?" if near else ""
                add(("deploy", "environments", i, "after", j), f"unknown environment '{dep}'{hint}")
            elif dep == env["name"]:
                add(("deploy", "environments", i, "after", j), "an environment cannot come after itself")
    cycle = find_cycle({e["name"]: list(e.get("after") or []) for e in envs})
    if cycle:
        add(("deploy", "environments"), f"environment order has a cycle: {' -> '.join(cycle)}", at_key=True)

    # Whether the model path and gate files exist in the pipelines is checked against what DVC
    # resolves (mlops_gitops.pipeline.project.facts_problems): the loader reads mlops.yaml alone.
    metrics = data.get("metrics") or {}
    for i, gate in enumerate(metrics.get("gates") or []):
        if "min" in gate and "max" in gate and gate["min"] > gate["max"]:
            add(("metrics", "gates", i, "min"), f"min ({gate['min']}) is greater than max ({gate['max']})")
        if not any(k in gate for k in ("min", "max", "regression")):
            add(("metrics", "gates", i), "a gate needs at least one of min, max or regression", at_key=True)

    for where in (("triggers", "schedule"), ("monitoring", "schedule")):
        cron = (data.get(where[0]) or {}).get(where[1])
        if cron and not all(_CRON_FIELD.match(f) for f in cron.split()):
            add(where, f"'{cron}' is not a valid cron expression")

    cloud = data.get("cloud") or {}
    for other in ("aws", "gcp", "azure"):
        if other in cloud and cloud.get("provider") != other:
            add(
                ("cloud", other),
                f"settings for '{other}' but provider is '{cloud.get('provider')}'",
                at_key=True,
            )

    if (data.get("record") or {}).get("registry") and not data.get("deploy"):
        add(("record", "registry"), "the registry records deploy.model: add a deploy section")

    window = (data.get("monitoring") or {}).get("window") or {}
    if "rows" in window and "days" in window:
        add(("monitoring", "window"), "give either rows or days, not both", at_key=True)
    if "days" in window and not (data.get("monitoring") or {}).get("timestamp"):
        add(("monitoring", "window", "days"), "a window in days needs monitoring.timestamp")

    for i, check in enumerate((data.get("data") or {}).get("checks") or []):
        if "min_rows" in check and "max_rows" in check and check["min_rows"] > check["max_rows"]:
            add(("data", "checks", i, "min_rows"), "min_rows is greater than max_rows")
        for col, spec in (check.get("columns") or {}).items():
            if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
                add(("data", "checks", i, "columns", col, "min"), "min is greater than max")
            if "pattern" in spec:
                try:
                    re.compile(spec["pattern"])
                except re.error as exc:
                    add(
                        ("data", "checks", i, "columns", col, "pattern"), f"invalid regular expression: {exc}"
                    )
    return problems


# A third-party action pinned to a full commit SHA, a local action, or a Docker image by digest.
_PINNED_USES = re.compile(
    r"^(?:[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@[0-9a-f]{40}|\./\S+|docker://\S+@sha256:[0-9a-f]{64})$"
)
# The only expressions a user's step may hold, in `with:` and `env:`: values no attacker controls.
_SAFE_EXPRESSION = re.compile(r"\$\{\{\s*(?:secrets|vars)\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}")


_PINNED_IMAGE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def image_problem(image: Any, path: Path_, add: Any) -> None:
    """A job's container or service image must be pinned by digest: a tag can be moved to another
    image by whoever controls the registry, and the job runs it with the job's credentials."""
    if isinstance(image, str) and not _PINNED_IMAGE.match(image):
        add(
            path,
            f"'{image}' is not pinned: add its digest (IMAGE:TAG@sha256:<64 hex>, from "
            "`docker buildx imagetools inspect IMAGE:TAG`); a tag can be moved by whoever controls it",
        )


def step_problems(step: dict[str, Any], path: Path_, add: Any) -> None:
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


def dvcfile_of(where: str) -> str:
    """A pipeline named by its dvc.yaml path or the folder holding it, as a dvc.yaml path."""
    where = where.strip().rstrip("/").removeprefix("./") or "."
    if where.endswith("dvc.yaml"):
        return where
    return "dvc.yaml" if where == "." else f"{where}/dvc.yaml"


def build(raw: dict[str, Any]) -> Manifest:
    """The typed manifest from validated data; every default comes from the schema, applied here once."""
    data = apply_defaults(raw, schema())
    raw_python = raw.get("python") or {}
    project, python, metrics, section = data["project"], data["python"], data["metrics"], data["data"]
    requirements = tuple(python["requirements"])
    runners_raw = data["runners"]
    runners: dict[str, Runner] = {}
    for job in ("default", "train", "deploy", "monitor"):
        own, fallback = runners_raw.get(job) or {}, runners_raw.get("default") or {}
        spec = {
            **builtin(schema(), "runners", "default"),
            **builtin(schema(), "runners", job),
            **fallback,
            **own,
        }
        runs_on = spec["runs_on"]
        runners[job] = Runner(
            runs_on=tuple(runs_on) if isinstance(runs_on, list) else runs_on,
            timeout_minutes=spec["timeout_minutes"],
            # Variables and secrets add up (the job's win); the rest is the job's own, else default's.
            env={**(fallback.get("env") or {}), **(own.get("env") or {})},
            secrets={**(fallback.get("secrets") or {}), **(own.get("secrets") or {})},
            container=spec.get("container"),
            services=dict(spec.get("services") or {}),
            steps={where: tuple(steps) for where, steps in (spec.get("steps") or {}).items()},
        )
    deploy = None
    if data.get("deploy"):
        d = data["deploy"]
        deploy = Deploy(
            model=Model(
                name=d["model"]["name"],
                path=d["model"]["path"],
                pipeline=dvcfile_of(d["model"]["pipeline"]) if d["model"].get("pipeline") else None,
            ),
            token_secret=d.get("token_secret"),
            token_login=d.get("token_login"),
            labels=tuple(d["labels"]),
            environments=tuple(environment(e) for e in d["environments"]),
        )
    cloud = data["cloud"]
    triggers = data["triggers"]
    stages = {name: Stage(name, body) for name, body in (data.get("stages") or {}).items()}
    owned = "stages" in data
    return Manifest(
        name=project["name"],
        pipelines=("dvc.yaml",) if owned else tuple(data["pipelines"]),
        owns_dvc_yaml=owned,
        default_branch=project["default_branch"],
        python_version=python["version"],
        # A conda environment installs the project itself; the default pip command is only for others.
        install=python["install"] if ("install" in raw_python or "conda" not in python) else "",
        conda=python.get("conda"),
        requirements=requirements,
        tool=python.get("tool"),
        stages=stages,
        dvc=data["dvc"],
        metrics_files=tuple(metrics.get("files") or ()),
        gates=tuple(gate(g) for g in metrics["gates"]),
        history=metrics["history"],
        data_remote=section.get("remote"),
        data_secrets=dict(section["secrets"]),
        data_pr_secrets=dict(section["pull_request_secrets"]),
        data_checks=tuple(data_check(c) for c in section["checks"]),
        cloud=cloud_of(cloud),
        trigger_paths=tuple(triggers.get("paths") or ()),
        schedule=triggers.get("schedule"),
        runners=runners,
        deploy=deploy,
        monitoring=monitoring(data["monitoring"]) if data.get("monitoring") else None,
        record=Record(**data["record"]),
        fanout=Fanout(**data["fanout"]),
        stage_runners=tuple(
            StageRunner(
                pattern=pattern,
                runs_on=tuple(spec["runs_on"])
                if isinstance(spec.get("runs_on"), list)
                else spec.get("runs_on"),
                timeout_minutes=spec.get("timeout_minutes"),
                container=spec.get("container"),
            )
            for pattern, spec in runners_raw["stages"].items()
        ),
        raw=raw,
    )


def cloud_of(cloud: dict[str, Any]) -> Cloud:
    """The two identities: default-branch jobs' (``settings``) and pull requests' (merged over it)."""
    settings = dict(cloud.get(cloud["provider"]) or {})
    pull_requests = settings.pop("pull_requests", None)
    return Cloud(
        provider=cloud["provider"],
        settings=settings,
        pull_requests={**settings, **pull_requests} if pull_requests else None,
    )


def gate(g: dict[str, Any]) -> Gate:
    return Gate(
        metric=g["metric"],
        file=g.get("file"),
        pipeline=dvcfile_of(g["pipeline"]) if g.get("pipeline") else None,
        direction=g["direction"],
        min=g.get("min"),
        max=g.get("max"),
        regression_absolute=(g.get("regression") or {}).get("absolute"),
        regression_relative=(g.get("regression") or {}).get("relative"),
        required=g["required"],
    )


def environment(e: dict[str, Any]) -> Environment:
    return Environment(
        name=e["name"],
        file=e["file"],
        field=e["field"],
        value=e["value"],
        repo=e.get("repo"),
        branch=e.get("branch"),
        document=e["document"],
        after=tuple(e["after"]),
        github_environment=e.get("github_environment"),
        # Not a schema default: it depends on `after` (the first environments go automatically).
        auto=e.get("auto", not e["after"]),
    )


def gate_of(raw: dict[str, Any]) -> Gate:
    """A typed gate from one (valid) ``metrics.gates`` entry, its defaults applied."""
    return gate(apply_defaults(raw, schema(), "gate"))


def environment_of(raw: dict[str, Any]) -> Environment:
    """A typed environment from one (valid) ``deploy.environments`` entry, its defaults applied."""
    return environment(apply_defaults(raw, schema(), "environment"))


def data_check_of(raw: dict[str, Any]) -> DataCheck:
    """A typed data check from one (valid) ``data.checks`` entry, its defaults applied."""
    return data_check(apply_defaults(raw, schema(), "data_check"))


def monitoring_of(raw: dict[str, Any]) -> Monitoring:
    """The typed monitoring section from (valid) raw data, its defaults applied."""
    return monitoring(apply_defaults(raw, schema(), "monitoring"))


def data_check(c: dict[str, Any]) -> DataCheck:
    from mlops_gitops.manifest.sections import ColumnCheck, DataCheck

    return DataCheck(
        path=c["path"],
        format=c.get("format"),
        min_rows=c.get("min_rows"),
        max_rows=c.get("max_rows"),
        segments=tuple(c["segments"]),
        unique=tuple(c["unique"]),
        columns={
            name: ColumnCheck(
                type=col.get("type"),
                required=col["required"],
                not_null=col["not_null"],
                not_empty=col["not_empty"],
                unique=col["unique"],
                min=col.get("min"),
                max=col.get("max"),
                allowed=tuple(col["allowed"]) if "allowed" in col else None,
                pattern=col.get("pattern"),
            )
            for name, col in c["columns"].items()
        },
    )


def monitoring(m: dict[str, Any]) -> Monitoring:
    from mlops_gitops.manifest.sections import Monitoring, OnDrift, Thresholds, Window

    th, on_drift = m["thresholds"], m["on_drift"]
    return Monitoring(
        logs=m["logs"],
        baseline=m["baseline"],
        format=m.get("format"),
        prediction=m.get("prediction"),
        features=tuple(m["features"]) if m.get("features") else None,
        categorical=tuple(m["categorical"]),
        segments=tuple(m["segments"]),
        timestamp=m.get("timestamp"),
        window=Window(rows=m["window"].get("rows"), days=m["window"].get("days")),
        thresholds=Thresholds(
            psi=float(th["psi"]),
            ks_pvalue=float(th["ks_pvalue"]),
            chi2_pvalue=float(th["chi2_pvalue"]),
            prediction_share=float(th["prediction_share"]),
        ),
        schedule=m["schedule"],
        on_drift=OnDrift(
            issue=on_drift["issue"], retrain=on_drift["retrain"], labels=tuple(on_drift["labels"])
        ),
    )
