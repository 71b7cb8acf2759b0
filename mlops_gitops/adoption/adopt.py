"""Adoption: turn what :mod:`mlops_gitops.adoption.detect` found (and the user's answers) into mlops.yaml,
validate it, write it and generate. Either all of that happens or the directory is left as it was.
The ``init`` command only puts the questions (:mod:`mlops_gitops.adoption.answers`) to the terminal;
this module does the work.

A repository that already has dvc.yaml files keeps them: the manifest names them under
``pipelines:`` (hand-owned) and nothing ever writes a byte of them. Only a project without any
dvc.yaml (or a bundled example) gets ``stages:``, which ``generate`` writes into a new dvc.yaml.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_gitops import __version__
from mlops_gitops.adapters.atomic import write_atomic
from mlops_gitops.adoption.answers import Answers, Echo, Terminal, check_answers, defaults, interview
from mlops_gitops.adoption.detect import Detection, detect, remote_warning
from mlops_gitops.errors import EXIT_BAD_INPUT, ManifestError, UsageError
from mlops_gitops.generation import generate as generator
from mlops_gitops.manifest.loader import INSTALL_PLACEHOLDER
from mlops_gitops.names import MANIFEST_FILE

if TYPE_CHECKING:  # pragma: no cover
    from mlops_gitops.adoption.codeowners import Advice

SCHEMA_URL = f"https://raw.githubusercontent.com/mlops-gitops/mlops-gitops/v{__version__}/mlops_gitops/manifest/schema.json"
_TRAIN_SCRIPTS = ("train.py", "src/train.py", "scripts/train.py")


def placeholder_stage(found: Detection) -> dict[str, Any]:
    """A first stage for a project without dvc.yaml, so the manifest is valid from the start."""
    script = next((s for s in _TRAIN_SCRIPTS if (found.root / s).is_file()), None)
    if script is None:
        return {"train": {"cmd": "echo 'describe your pipeline under stages: in mlops.yaml'"}}
    stage: dict[str, Any] = {"cmd": f"python {script}", "deps": [script]}
    if (found.root / "params.yaml").is_file():
        stage["params"] = [{"params.yaml": None}]
    return {"train": stage}


@dataclass(frozen=True)
class Offer:
    """What the pipelines suggest for the hints: a metric to gate on, a model to deploy."""

    metric: str | None = None
    model: tuple[str, str] | None = None  # (name, path): a DVC artifact of type model, or an output


def manifest_text(
    found: Detection, answers: Answers, template_text: str | None = None, offer: Offer = Offer()
) -> str:
    """The mlops.yaml text: the template (when given) or a fresh document, with the answers filled in.
    Comments from the template are kept."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    from mlops_gitops.manifest.loader import to_plain

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    doc = yaml.load(template_text) if template_text else None
    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
    doc["version"] = 1
    project = _section(doc, "project", after="version")
    project["name"] = answers.name
    project["default_branch"] = answers.default_branch
    python = _section(doc, "python", after="project")
    python["version"] = answers.python_version
    if answers.conda:
        # The environment file installs the project; python.install only runs what it cannot.
        python["conda"] = answers.conda
        if answers.install:
            python["install"] = answers.install
        else:
            python.pop("install", None)
    else:
        python.pop("conda", None)
        python["install"] = answers.install or INSTALL_PLACEHOLDER
    python["requirements"] = (
        list(answers.requirements or found.requirements) or python.get("requirements") or ["requirements.txt"]
    )

    if "stages" in doc:
        doc.pop("pipelines", None)  # the template owns dvc.yaml (a bundled example, a re-run of init)
    elif found.dvcfiles:
        # The repository's own pipelines: named, never imported, never written.
        _put(doc, "pipelines", list(found.dvcfiles), after="python")
        doc.pop("dvc", None)
    elif "pipelines" not in doc:
        _put(doc, "stages", placeholder_stage(found), after="python")
    if answers.remote:
        where = "pipelines" if "pipelines" in doc else "dvc" if "dvc" in doc else "stages"
        _section(doc, "data", after=where)["remote"] = answers.remote

    out = io.StringIO()
    yaml.dump(doc, out)
    body = "\n".join(
        line for line in out.getvalue().splitlines() if not line.startswith("# yaml-language-server:")
    )
    owner = (
        "# dvc.yaml is generated from stages: below."
        if "stages" in doc
        else "# The dvc.yaml files under pipelines: stay yours: mlops-gitops never writes them."
    )
    head = [
        f"# yaml-language-server: $schema={SCHEMA_URL}",
        "# mlops-gitops manifest: `mlops-gitops generate` writes .github/workflows/mlops-* from it.",
        owner,
        "# Offline editors: `mlops-gitops schema > mlops.schema.json`, and point the first line at it.",
    ]
    return "\n".join(head) + "\n" + body.lstrip("\n") + "\n" + hints(to_plain(doc), offer)


def hints(data: dict[str, Any], offer: Offer) -> str:
    """Commented examples of the sections nothing was detected for, filled with what was found."""
    blocks: list[str] = []
    if not (data.get("metrics") or {}).get("gates"):
        metric = offer.metric or "accuracy"
        blocks.append(
            f"""metrics:
  gates:                      # a pull request fails when a gate fails
    - metric: {metric}   # a key of your metrics files (per_class.*.f1 checks every segment)
      direction: higher       # or lower, for a loss or an error
      min: 0.8
      regression: {{absolute: 0.02}}"""
        )
    if not (data.get("data") or {}).get("remote"):
        remote = (
            "remote: storage             # a remote of .dvc/config (`dvc remote add -d storage s3://...`)"
        )
        # Under an existing data: section the hint must not read as a second data: key.
        blocks.append(f"data.{remote}" if "data" in data else f"data:\n  {remote}")
    if "cloud" not in data:
        blocks.append(
            """cloud:                        # credentials by OIDC for the DVC remote, no stored keys
  provider: aws
  aws: {role_to_assume: arn:aws:iam::123456789012:role/dvc, region: eu-west-1}"""
        )
    if "triggers" not in data:
        blocks.append(
            """triggers:
  schedule: "0 3 * * 1"       # also retrain every Monday, 03:00 UTC"""
        )
    if "deploy" not in data:
        name, path = offer.model or ("my-model", "models/model.pkl")
        found = "   # found in your pipelines" if offer.model else "   # a stage output"
        blocks.append(
            f"""deploy:                       # promotion by pull requests that edit a deployment manifest
  model: {{name: {name}, path: {path}}}{found}
  environments:
    - name: staging
      file: deploy/staging/inference.yaml
      field: spec.predictor.model.storageUri
      value: s3://my-bucket/models/{{model_hash}}
    - name: production
      file: deploy/production/inference.yaml
      field: spec.predictor.model.storageUri
      value: s3://my-bucket/models/{{model_hash}}
      after: [staging]
      github_environment: production"""
        )
    if not blocks:
        return ""
    lines = ["", "# Not detected; uncomment and adapt what you need (`mlops-gitops schema` lists every key):"]
    for block in blocks:
        lines.extend("# " + line for line in block.splitlines())
    return "\n".join(lines) + "\n"


def offer_from(root: Path, dvcfiles: list[str]) -> Offer:
    """A metric and a model to suggest, from what DVC resolves the pipelines to (its artifacts of
    type model first). Resolving also proves DVC reads the pipelines before anything is written."""
    import json

    from mlops_gitops.pipeline.dvcindex import read_facts

    facts = read_facts(root, dvcfiles)
    model: tuple[str, str] | None = None
    for pipeline in facts.pipelines:
        for artifact in pipeline.artifacts:
            if artifact.type == "model" and model is None:
                model = (artifact.name, artifact.path)
    metric = None
    for file in (m for p in facts.pipelines for m in p.all_metrics()):
        try:
            data = json.loads((root / file).read_text(encoding="utf-8")) if file.endswith(".json") else None
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            metric = next((str(k) for k, v in data.items() if isinstance(v, (int, float))), None)
        if metric:
            break
    return Offer(metric, model)


def _section(doc: Any, key: str, *, after: str) -> Any:
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(doc.get(key), CommentedMap):
        _put(doc, key, CommentedMap(), after=after)
    return doc[key]


def _put(doc: Any, key: str, value: Any, *, after: str) -> None:
    """Set ``doc[key]``, placing a new key after ``after`` so the manifest reads in a natural order."""
    if key in doc or after not in doc:
        doc[key] = value
        return
    doc.insert(list(doc).index(after) + 1, key, value)


def validate(text: str) -> list[str]:
    """The manifest must load before anything is written. Returns the placeholder problems (a
    manifest whose only problem is the install placeholder is written, then refused with them)."""
    from mlops_gitops.manifest.loader import load_manifest_text

    try:
        load_manifest_text(text, MANIFEST_FILE)
    except ManifestError as exc:
        placeholders = [p for p in exc.problems if p.path == "python.install"]
        if len(placeholders) == len(exc.problems) and INSTALL_PLACEHOLDER in text:
            return [str(p) for p in placeholders]
        raise UsageError(
            "the detected manifest is not valid, nothing was written: "
            + "; ".join(str(p) for p in exc.problems)
        ) from None
    return []


def external_input_lines(root: Path) -> list[str]:
    """What the pipelines read from outside the repository (``dvc import``, ``import-url``, URL deps),
    from the record generate just wrote: no trigger path watches them, so the user should know."""
    from mlops_gitops.pipeline.record import RECORD_FILE, parse

    path = root / RECORD_FILE
    record = parse(path.read_text(encoding="utf-8")) if path.is_file() else None
    if record is None:
        return []
    found = list(
        dict.fromkeys(e for p in record.facts.pipelines for e in record.facts.external_inputs(p.dvcfile))
    )
    return [
        f"external input {source}: not watched by CI; `dvc update` of its pointer is the commit that retrains"
        for source in found
    ]


def run_generate(root: Path, force: bool, echo: Echo, warn: Echo) -> int:
    from mlops_gitops.generation.generate import generate

    result = generate(root, force=force)
    for line in result.lines():
        echo(line)
    for line in result.warnings:
        warn(line)
    return result.exit_code


def init(
    root: Path,
    terminal: Terminal,
    *,
    yes: bool = False,
    force: bool = False,
    example: str | None = None,
    branch: str | None = None,
    remote: str | None = None,
    codeowners: Sequence[str] = (),
) -> int:
    """Adopt ``root`` (or scaffold ``example`` into it), saying what happens on ``terminal``, which
    also asks the user to confirm the detected answers (unless ``yes``: take them as they are).
    Returns the exit code; on any failure the directory is restored. Exit 2 whenever nothing was
    written. ``codeowners``: owners to write into a new ``.github/CODEOWNERS`` for the manifest,
    ``.mlops/`` and ``.github/`` (:mod:`mlops_gitops.adoption.codeowners`; without them the entry is
    printed to complete)."""
    from mlops_gitops.adoption import codeowners as owners_

    if bad_owners := owners_.owner_problems(codeowners):
        raise UsageError("; ".join(bad_owners))
    root = root.resolve()
    manifest = root / MANIFEST_FILE
    template = _checked_first(root, terminal, yes, force, example)
    made_root = not root.exists()
    before = set() if made_root else set(root.iterdir())
    previous = manifest.read_text(encoding="utf-8") if manifest.is_file() else None
    try:
        if example is not None:
            template = _scaffold(root, example, terminal.echo)
        found = _detected(root, example, terminal)
        answers = _answers(found, template, terminal, yes, branch, remote)
        text, placeholders = _manifest(root, found, answers, template)
        _write(root, found, text, terminal.echo)
        if placeholders:
            for line in [*placeholders, PLACEHOLDER_WRITTEN]:
                terminal.warn(line)
            return EXIT_BAD_INPUT
        code = run_generate(root, force, terminal.echo, terminal.warn)
        if code != 0:
            raise _GenerateRefused(code)
        # Last, so a failure above leaves no CODEOWNERS behind; an existing one is never changed.
        advice = _codeowners(root, codeowners, answers.default_branch)
    except _GenerateRefused:
        _undo(root, made_root, before, manifest, previous)
        terminal.echo(
            f"nothing was written: generate did not complete (see above); {MANIFEST_FILE} was not kept"
        )
        return EXIT_BAD_INPUT
    except BaseException:  # our errors, an aborted prompt, Ctrl-C: leave nothing half-done
        _undo(root, made_root, before, manifest, previous)
        raise
    for line in advice.lines:
        terminal.echo(line)
    if advice.warning:
        terminal.warn(advice.warning)
    _closing(root, found, template, terminal.echo)
    return 0


PLACEHOLDER_WRITTEN = (
    f"{MANIFEST_FILE} was written with a placeholder: set python.install to the command that "
    "installs this project's requirements, then run `mlops-gitops generate`"
)


def _checked_first(root: Path, terminal: Terminal, yes: bool, force: bool, example: str | None) -> str | None:
    """What is refused before anything is touched (an unknown example or a non-empty target, no
    directory, below the Git root, an existing manifest without ``force``), ``git init`` where the
    user agrees, and the template a re-run keeps (the manifest there, or an example's)."""
    from mlops_gitops.adapters import git
    from mlops_gitops.adoption import scaffold

    if example is not None:
        scaffold.example_dir(example)  # unknown name: fail before touching anything
        if not scaffold.is_empty(root) and not force:
            raise UsageError(
                f"{root} is not empty; scaffold the example into an empty directory, or use --force"
            )
        return None
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    generator.refuse_below_git_root(root)
    if git.toplevel(root) is None:
        consent = f"{root} is not a Git repository. Initialise one here (git init)?"
        if yes or not terminal.confirm(consent):
            raise UsageError(
                f"{root} is not a Git repository: run `git init` there first (mlops-gitops adopts a "
                "Git repository, and DVC needs one)"
            )
        scaffold.git_init(root)
        terminal.echo("initialised a Git repository (git init)")
    manifest = root / MANIFEST_FILE
    if manifest.exists() and not force:
        raise UsageError(f"{MANIFEST_FILE} already exists; use --force to overwrite it")
    if manifest.is_file() and _is_mapping(manifest.read_text(encoding="utf-8")):
        # Re-running init refreshes what it detects and keeps what a person wrote (gates, deploy...).
        return manifest.read_text(encoding="utf-8")
    if (root / scaffold.EXAMPLE_MANIFEST).is_file():
        return (root / scaffold.EXAMPLE_MANIFEST).read_text(encoding="utf-8")
    return None


def _scaffold(root: Path, example: str, echo: Echo) -> str:
    """Copy the bundled ``example`` into ``root`` (a Git repository, made if needed); its manifest."""
    from mlops_gitops.adapters import git
    from mlops_gitops.adoption import scaffold

    root.mkdir(parents=True, exist_ok=True)
    template = scaffold.copy_example(example, root)
    echo(f"copied the {example} example into {root}")
    if git.toplevel(root) is None:
        scaffold.git_init(root)
        echo("initialised a Git repository (git init)")
    return template


def _detected(root: Path, example: str | None, terminal: Terminal) -> Detection:
    """What :func:`~mlops_gitops.adoption.detect.detect` finds, refused when it is only ``dvc init
    --subdir`` projects, and told: each finding, and the warnings about sub-projects and CI."""
    found = detect(root)
    if found.subprojects and example is None:
        if not found.dvcfiles:
            raise UsageError(subprojects_refusal(found.subprojects))
        terminal.warn(f"warning: {subprojects_warning(found.subprojects)}")
    return found


def _answers(
    found: Detection,
    template: str | None,
    terminal: Terminal,
    yes: bool,
    branch: str | None,
    remote: str | None,
) -> Answers:
    """The detected answers with the options given, confirmed by the user (unless ``yes``), checked."""
    answers = defaults(found, _load_template(template))
    answers.default_branch = branch or answers.default_branch
    answers.remote = remote or answers.remote
    for line in describe(found):
        terminal.echo(line)
    for ci in found.existing_ci:
        terminal.warn(
            f"warning: {ci.path} {' and '.join(ci.does)}: with mlops-gitops every pull request would "
            "train twice and get two reports; remove it, or keep it for other events only "
            "(docs/adopting.md)"
        )
    if not yes:
        answers = interview(answers, found, terminal)
    problems = check_answers(answers, found)
    if problems:
        raise UsageError("; ".join(problems.values()))
    if answers.remote and (warning := remote_warning(answers.remote, found.remotes)):
        terminal.warn(f"warning: {warning}")
    return answers


def _manifest(root: Path, found: Detection, answers: Answers, template: str | None) -> tuple[str, list[str]]:
    """The manifest's text, validated, and its placeholder problems (see :func:`validate`)."""
    offer = Offer()
    if found.dvcfiles and "stages:" not in (template or ""):
        offer = offer_from(root, list(found.dvcfiles))
    text = manifest_text(found, answers, template, offer)
    return text, validate(text)


def _write(root: Path, found: Detection, text: str, echo: Echo) -> None:
    """``dvc init`` where pipelines or pointers need it (their data added to the new cache), then
    the manifest."""
    from mlops_gitops.adoption import scaffold

    if (found.has_dvc_yaml or found.pointers) and not found.is_dvc:
        scaffold.dvc_init(root)
        echo("initialised DVC (dvc init)")
        # A fresh DVC cache is empty: add the data the pointers describe, so `dvc push` has it.
        scaffold.track_data(root, found.pointers, echo)
    write_atomic(root / MANIFEST_FILE, text, MANIFEST_FILE)
    echo(f"wrote {MANIFEST_FILE}")


def _codeowners(root: Path, owners: Sequence[str], default_branch: str) -> Advice:
    """The CODEOWNERS advice for the repository holding ``root``; a new file written when asked."""
    from mlops_gitops.adapters import git
    from mlops_gitops.adoption import codeowners as owners_

    top = (git.toplevel(root) or root).resolve()
    prefix = root.relative_to(top).as_posix() if root.is_relative_to(top) else ""
    advice = owners_.advise(owners_.find(top), owners, default_branch, "" if prefix == "." else prefix)
    if advice.write:
        write_atomic(top / advice.write[0], advice.write[1], advice.write[0])
    return advice


def _closing(root: Path, found: Detection, template: str | None, echo: Echo) -> None:
    """What stays the user's, the inputs CI does not watch, and what to do next."""
    if found.dvcfiles and "stages:" not in (template or ""):
        echo(f"your pipelines stay yours: {', '.join(found.dvcfiles)} (never written by mlops-gitops)")
    for line in external_input_lines(root):
        echo(line)
    echo(
        "next: `dvc repro`, then commit mlops.yaml, .mlops/pipelines.yaml, .github/ and what dvc repro "
        "wrote (dvc.lock, the .dvc pointers)"
    )


def _is_mapping(text: str) -> bool:
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe

    try:
        return isinstance(load_safe(text, MANIFEST_FILE), dict)
    except YAMLError:
        return False


class _GenerateRefused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _load_template(text: str | None) -> Any:
    if not text:
        return None
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.adapters.yamlsafe import load_safe

    try:
        return load_safe(text, "mlops.example.yaml")
    except YAMLError as exc:
        raise UsageError(f"mlops.example.yaml: cannot parse: {exc}") from None


def subprojects_refusal(subprojects: list[str]) -> str:
    """One line: a repository of ``dvc init --subdir`` projects with no pipeline at its root."""
    return (
        f"no dvc.yaml at the root of this repository, but {len(subprojects)} DVC project(s) made with "
        f"`dvc init --subdir`: {', '.join(f'{s}/' for s in subprojects)}; {generator.SUBPROJECTS_HOW}"
    )


def subprojects_warning(subprojects: list[str]) -> str:
    return (
        f"{', '.join(f'{s}/' for s in subprojects)}: DVC project(s) of their own (`dvc init --subdir`), "
        f"left out: CI reproduces the root's pipelines only; {generator.SUBPROJECTS_HOW}"
    )


def describe(found: Detection) -> list[str]:
    """What init prints about what it found, one line per finding (tests assert them)."""
    from mlops_gitops.locks import REMOTE_PLUGINS, remote_plugin

    parts = []
    if found.dvcfiles:
        parts.append(f"{len(found.dvcfiles)} pipeline(s): {', '.join(found.dvcfiles)}")
    else:
        parts.append("no dvc.yaml (a first stage is written into mlops.yaml)")
    parts.append(f"branch {found.default_branch}")
    parts.append(f"remote {found.remote} ({found.remote_source})" if found.remote else "no DVC remote")
    lines = ["detected: " + "; ".join(parts), python_line(found)]
    lines.append(install_line(found))
    for name, url in found.remotes.items():
        plugin = remote_plugin(url)
        if plugin:
            lines.append(f"remote '{name}' is {url}: CI installs {REMOTE_PLUGINS[plugin]} with mlops-gitops")
    for pin in found.dvc_pins:
        line = (
            f"{pin.where} pins {pin.spec}: CI reproduces with mlops-gitops's own locked DVC in its own "
            "environment; the pin stays in the project's Python for code that imports dvc.api"
        )
        if pin.major2:
            line += "; DVC 3 reads 2.x pipelines and rewrites dvc.lock hashes the first time it reproduces"
        lines.append(line)
    return lines


def python_line(found: Detection) -> str:
    line = f"Python {found.python_version} from {found.python_source}"
    others: dict[str, str] = {}
    for signal in found.python_signals:
        if signal.version != found.python_version and signal.version not in others:
            others[signal.version] = signal.source
    if others:
        line += "; also named: " + "; ".join(f"{v} by {where}" for v, where in others.items())
    return line


def install_line(found: Detection) -> str:
    if found.conda:
        line = (
            f"conda environment {found.conda}: CI creates it with the runner's conda as the project's Python "
            "(its pip: section included)"
        )
        return line + (f", then runs `{found.install}`" if found.install else "; no separate install step")
    if not found.install:
        return (
            "install: nothing says how this project installs (no requirements file, pyproject.toml, "
            "setup.py, Pipfile, lock file, conda environment or Dockerfile requirements)"
        )
    line = f"install: `{found.install}` from {found.install_source}"
    if len(found.install_options) > 1:
        others = ", ".join(found.install_options[1:])
        line += f" (chosen of {len(found.install_options)} requirement files; also found: {others})"
    return line


def _undo(root: Path, made_root: bool, before: set[Path], manifest: Path, previous: str | None) -> None:
    """Put the directory back as it was: remove what init added at the top level, restore mlops.yaml."""
    if made_root:
        shutil.rmtree(root, ignore_errors=True)
        return
    if not root.is_dir():
        return
    for path in set(root.iterdir()) - before:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if previous is not None:
        write_atomic(manifest, previous, MANIFEST_FILE)
