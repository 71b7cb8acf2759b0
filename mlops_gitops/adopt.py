"""Adoption: turn what :mod:`mlops_gitops.detect` found (and the user's answers) into mlops.yaml,
validate it, write it and generate. Either all of that happens or the directory is left as it was.
The ``init`` command asks the questions and prints; this module does the work."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_gitops import __version__
from mlops_gitops.atomic import write_atomic
from mlops_gitops.detect import Detection, detect
from mlops_gitops.errors import ManifestError, UsageError
from mlops_gitops.names import MANIFEST_FILE

Echo = Callable[[str], None]
SCHEMA_URL = f"https://raw.githubusercontent.com/mlops-gitops/mlops-gitops/v{__version__}/mlops_gitops/manifest/schema.json"
_TRAIN_SCRIPTS = ("train.py", "src/train.py", "scripts/train.py")


@dataclass
class Answers:
    """What goes into the manifest's project, python and data sections."""

    name: str
    default_branch: str
    python_version: str
    install: str
    remote: str | None


def defaults(found: Detection, template: Any) -> Answers:
    """Detected values; a template (an example's curated manifest) supplies the project name."""
    name = found.name
    if template is not None:
        name = str((template.get("project") or {}).get("name") or name)
    return Answers(name, found.default_branch, found.python_version, found.install, found.remote)


def placeholder_stage(found: Detection) -> dict[str, Any]:
    """A first stage for a project without dvc.yaml, so the manifest is valid from the start."""
    script = next((s for s in _TRAIN_SCRIPTS if (found.root / s).is_file()), None)
    if script is None:
        return {"train": {"cmd": "echo 'describe your pipeline under stages: in mlops.yaml'"}}
    stage: dict[str, Any] = {"cmd": f"python {script}", "deps": [script]}
    if found.params_files:
        stage["params"] = [{p: None} for p in found.params_files]
    return {"train": stage}


def manifest_text(found: Detection, answers: Answers, template_text: str | None = None) -> str:
    """The mlops.yaml text: the template (when given) or a fresh document, with the answers filled in
    and dvc.yaml imported whole. Comments from the template and from dvc.yaml are kept."""
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
    python["install"] = answers.install
    python["requirements"] = list(found.requirements) or python.get("requirements") or ["requirements.txt"]

    if found.has_dvc_yaml:
        # dvc.yaml is the truth: generate rewrites it from these sections, so they must hold all of it.
        if found.stages and to_plain(found.stages) != to_plain(doc.get("stages")):
            _put(doc, "stages", found.stages, after="python")
        if found.dvc:
            if to_plain(found.dvc) != to_plain(doc.get("dvc")):
                dvc = CommentedMap()
                for key, value in found.dvc.items():
                    dvc[key] = value
                _put(doc, "dvc", dvc, after="stages")
        elif "dvc" in doc:
            del doc["dvc"]
    if not doc.get("stages"):
        _put(doc, "stages", placeholder_stage(found), after="python")
    if answers.remote:
        _section(doc, "data", after="dvc" if "dvc" in doc else "stages")["remote"] = answers.remote

    out = io.StringIO()
    yaml.dump(doc, out)
    body = "\n".join(
        line for line in out.getvalue().splitlines() if not line.startswith("# yaml-language-server:")
    )
    head = [
        f"# yaml-language-server: $schema={SCHEMA_URL}",
        "# mlops-gitops manifest: dvc.yaml and .github/workflows/* are generated from it by",
        "# `mlops-gitops generate`. Offline editors: `mlops-gitops schema > mlops.schema.json` and point",
        "# the line above at that file.",
    ]
    return "\n".join(head) + "\n" + body.lstrip("\n") + "\n" + hints(to_plain(doc), found)


def hints(data: dict[str, Any], found: Detection) -> str:
    """Commented examples of the sections nothing was detected for."""
    blocks: list[str] = []
    if not (data.get("metrics") or {}).get("gates"):
        blocks.append(
            """metrics:
  gates:                      # a pull request fails when a gate fails
    - metric: accuracy        # a key of your metrics file; per_class.*.f1 checks every segment
      min: 0.8
      regression: {absolute: 0.02}
    - metric: loss
      direction: lower
      regression: {relative: 0.05}"""
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
        blocks.append(
            """deploy:                       # promotion by pull requests that edit a deployment manifest
  model: {name: my-model, path: models/model.pkl}   # a stage output
  environments:
    - name: staging
      file: deploy/staging/inference.yaml
      field: spec.predictor.model.storageUri
      value: s3://my-bucket/models/{model_hash}
    - name: production
      file: deploy/production/inference.yaml
      field: spec.predictor.model.storageUri
      value: s3://my-bucket/models/{model_hash}
      after: [staging]
      github_environment: production"""
        )
    if not blocks:
        return ""
    lines = ["", "# Not detected; uncomment and adapt what you need (`mlops-gitops schema` lists every key):"]
    for block in blocks:
        lines.extend("# " + line for line in block.splitlines())
    return "\n".join(lines) + "\n"


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


def validate(text: str) -> None:
    """The manifest must load before anything is written; a problem means dvc.yaml did not fit."""
    from mlops_gitops.manifest.loader import load_manifest_text

    try:
        load_manifest_text(text, MANIFEST_FILE)
    except ManifestError as exc:
        raise UsageError(
            "the detected manifest is not valid, nothing was written: "
            + "; ".join(str(p) for p in exc.problems)
        ) from None


def run_generate(root: Path, force: bool, echo: Echo) -> int:
    from mlops_gitops.generator import generate

    # A hand-written dvc.yaml imported whole into mlops.yaml is not a conflict: generate compares it
    # with the manifest's own stages, so only a real difference is refused.
    result = generate(root, force=force)
    for line in result.lines():
        echo(line)
    return result.exit_code


def init(
    root: Path,
    *,
    ask: Callable[[Answers], Answers] | None = None,
    force: bool = False,
    example: str | None = None,
    echo: Echo = print,
) -> int:
    """Adopt ``root`` (or scaffold ``example`` into it); ``ask`` confirms the detected answers (None:
    take them as they are). Returns the exit code; on any failure the directory is restored."""
    from mlops_gitops import git, scaffold

    root = root.resolve()
    manifest = root / MANIFEST_FILE
    template: str | None = None
    if example is not None:
        scaffold.example_dir(example)  # unknown name: fail before touching anything
        if not scaffold.is_empty(root) and not force:
            raise UsageError(
                f"{root} is not empty; scaffold the example into an empty directory, or use --force"
            )
    else:
        if not root.is_dir():
            raise UsageError(f"{root}: no such directory")
        if manifest.exists() and not force:
            raise UsageError(f"{MANIFEST_FILE} already exists; use --force to overwrite it")
        if manifest.is_file() and _is_mapping(manifest.read_text(encoding="utf-8")):
            # Re-running init refreshes what it detects and keeps what a person wrote (gates, deploy...).
            template = manifest.read_text(encoding="utf-8")
        elif (root / scaffold.EXAMPLE_MANIFEST).is_file():
            template = (root / scaffold.EXAMPLE_MANIFEST).read_text(encoding="utf-8")
    made_root = not root.exists()
    before = set() if made_root else set(root.iterdir())
    previous = manifest.read_text(encoding="utf-8") if manifest.is_file() else None

    try:
        if example is not None:
            root.mkdir(parents=True, exist_ok=True)
            template = scaffold.copy_example(example, root)
            echo(f"copied the {example} example into {root}")
            if git.toplevel(root) is None:
                scaffold.git_init(root)
                echo("initialised a Git repository (git init)")
        found = detect(root)
        answers = defaults(found, _load_template(template))
        _describe(found, echo)
        if ask is not None:
            answers = ask(answers)
        text = manifest_text(found, answers, template)
        validate(text)

        if (found.has_dvc_yaml or found.pointers) and not found.is_dvc:
            if not found.is_git:
                raise UsageError(f"{root} is not a Git repository, which DVC needs: run `git init` first")
            scaffold.dvc_init(root)
            echo("initialised DVC (dvc init)")
            # A fresh DVC cache is empty: add the data the pointers describe, so `dvc push` has it.
            scaffold.track_data(root, found.pointers, echo)
        write_atomic(manifest, text, MANIFEST_FILE)
        echo(f"wrote {MANIFEST_FILE}")
        code = run_generate(root, force, echo)
        if code != 0:
            raise _GenerateRefused(code)
    except _GenerateRefused as refused:
        _undo(root, made_root, before, manifest, previous)
        echo(f"{MANIFEST_FILE} was not kept: generate did not complete (see above)")
        return refused.code
    except BaseException:  # our errors, an aborted prompt, Ctrl-C: leave nothing half-done
        _undo(root, made_root, before, manifest, previous)
        raise
    echo("next: `dvc repro`, then commit mlops.yaml, dvc.yaml, dvc.lock, the .dvc pointers and .github/")
    return 0


def _is_mapping(text: str) -> bool:
    from ruamel.yaml.error import YAMLError

    from mlops_gitops.yamlsafe import load_safe

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

    from mlops_gitops.yamlsafe import load_safe

    try:
        return load_safe(text, "mlops.example.yaml")
    except YAMLError as exc:
        raise UsageError(f"mlops.example.yaml: cannot parse: {exc}") from None


def _describe(found: Detection, echo: Echo) -> None:
    parts = []
    if found.has_dvc_yaml:
        parts.append(f"dvc.yaml with {len(found.stages or {})} stage(s)")
        if found.dvc:
            parts.append(f"top-level {', '.join(found.dvc)}")
    else:
        parts.append("no dvc.yaml (a placeholder stage is written)")
    parts.append(f"install `{found.install}`")
    parts.append(f"Python {found.python_version} ({found.python_source})")
    parts.append(f"branch {found.default_branch}")
    parts.append(f"remote {found.remote} ({found.remote_source})" if found.remote else "no DVC remote")
    echo("detected: " + "; ".join(parts))


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
