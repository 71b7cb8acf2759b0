"""Render dvc.yaml from the manifest, merged into the existing file with a ruamel.yaml round trip.

Stages and top-level sections that come from mlops.yaml are *managed*: the header records their names
and a hash of their content. Everything else in dvc.yaml (stages written by hand, their comments, other
top-level keys) is left as it is. A managed part whose content no longer matches the recorded hash was
edited by hand, and ``generate`` refuses to overwrite it without ``--force``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mlops_gitops import __version__
from mlops_gitops.adapters.files import Header, Rendered, digest, header, parse_header
from mlops_gitops.errors import ManifestError, Problem
from mlops_gitops.manifest.loader import parse_yaml, to_plain
from mlops_gitops.manifest.model import Manifest
from mlops_gitops.names import DVC_FILE, GENERATED_PREFIX, VALIDATION_REPORT, VALIDATION_STAGE

if TYPE_CHECKING:  # pragma: no cover
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

TOP_LEVEL_ORDER = ("vars", "params", "stages", "metrics", "plots", "artifacts", "datasets")


def managed_stages(manifest: Manifest) -> dict[str, Mapping[str, object]]:
    """The stages mlops-gitops writes: the manifest's, preceded by data validation when configured."""
    stages: dict[str, Mapping[str, object]] = {}
    checked = [c.path for c in manifest.data_checks]
    if checked:
        # The loader refuses a manifest stage of this name, with its line and column.
        stages[VALIDATION_STAGE] = {
            "desc": "Validate input data against mlops.yaml data.checks before anything trains on it.",
            "cmd": f"mlops-gitops validate-data --format json --output {VALIDATION_REPORT}",
            "deps": [*dict.fromkeys(checked)],
            # Declared as a metric, not a plain out: DVC keeps no run record for a stage with an
            # uncached plain out, and the record is what lets another machine skip validation.
            "metrics": [{VALIDATION_REPORT: {"cache": False}}],
        }
    for name, stage in manifest.stages.items():
        stages[name] = with_validation_dep(dict(stage.definition), checked) if checked else stage.definition
    return stages


def with_validation_dep(stage: dict[str, object], checked: list[str]) -> dict[str, object]:
    """A stage that reads checked data also depends on the validation report, so DVC runs validation
    first and never trains on data that failed it."""
    body_key = "do" if "foreach" in stage else None
    body = stage[body_key] if body_key else stage
    if not isinstance(body, Mapping):  # the schema makes `do` a mapping
        return stage
    written = body.get("deps")
    # `do` is not checked by the schema: its deps are taken as written, as DVC will read them.
    deps = list(written) if written and isinstance(written, Iterable) else []
    if not any(d in checked for d in deps) or VALIDATION_REPORT in deps:
        return stage
    new_body = {**body, "deps": [*deps, VALIDATION_REPORT]}
    return {**stage, body_key: new_body} if body_key else new_body


def managed_top(manifest: Manifest) -> dict[str, object]:
    return {k: v for k, v in manifest.dvc.items() if v not in (None, [], {})}


def canonical(stages: Mapping[str, object], top: Mapping[str, object]) -> str:
    return json.dumps({"stages": stages, "top": top}, sort_keys=True, default=str, ensure_ascii=False)


def encode_managed(stages: list[str], top: list[str]) -> str:
    return f"stages:{','.join(stages)};top:{','.join(top)}"


def decode_managed(value: str | None) -> tuple[list[str], list[str]]:
    stages: list[str] = []
    top: list[str] = []
    for part in (value or "").split(";"):
        key, _, names = part.partition(":")
        items = [n for n in names.split(",") if n]
        if key == "stages":
            stages = items
        elif key == "top":
            top = items
    return stages, top


def to_node(value: object) -> object:
    """Plain data -> ruamel commented nodes, block style; multi-line strings as literal blocks."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(value, dict):
        node = CommentedMap()
        for k, v in value.items():
            node[k] = to_node(v)
        return node
    if isinstance(value, list):
        seq = CommentedSeq()
        seq.extend(to_node(v) for v in value)
        return seq
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value if value.endswith("\n") else value + "\n")
    return value


def take_trailing_comment(node: object) -> list[str]:
    """Full-line comments after the last scalar of ``node`` (without their ``#``)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    container: CommentedMap | CommentedSeq | None = None
    key: object = None
    current = node
    while isinstance(current, (CommentedMap, CommentedSeq)) and len(current):
        container = current
        key = next(reversed(current)) if isinstance(current, CommentedMap) else len(current) - 1
        current = current[key]
    if container is None:
        return []
    entry = container.ca.items.get(key)
    slot = 2 if isinstance(container, CommentedMap) else 0
    token = entry[slot] if entry and len(entry) > slot else None
    if token is None or not hasattr(token, "value"):
        return []
    _, _, rest = token.value.partition("\n")
    return [line.strip()[1:].strip() for line in rest.splitlines() if line.strip().startswith("#")]


def split_header(text: str) -> tuple[Header | None, str]:
    parsed = parse_header(text)
    return (parsed, parsed.body) if parsed else (None, text)


def load_existing(text: str) -> CommentedMap:
    from ruamel.yaml.comments import CommentedMap

    doc, _ = parse_yaml(text, DVC_FILE)
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ManifestError([Problem(DVC_FILE, 1, 1, "", "dvc.yaml must be a mapping at the top level")])
    stages = doc.get("stages")
    if stages is not None and not isinstance(stages, CommentedMap):
        raise ManifestError(
            [Problem(DVC_FILE, None, None, "stages", "must be a mapping of stage names to stages")]
        )
    return doc


def current_managed(
    doc: CommentedMap, stage_names: list[str], top_names: list[str]
) -> tuple[dict[str, object], dict[str, object]]:
    stages_node = doc.get("stages") or {}
    stages = {n: to_plain(stages_node[n]) for n in stage_names if n in stages_node}
    top = {k: to_plain(doc[k]) for k in top_names if k in doc}
    return stages, top


def edited(text: str, manifest: Manifest) -> bool:
    """Would regenerating lose a hand edit? With our header: the managed part no longer matches its hash.
    Without it (a dvc.yaml written by hand, e.g. before ``init``): a stage or section the manifest now
    manages differs from what the manifest says."""
    parsed, body = split_header(text)
    return edited_doc(parsed, load_existing(body), manifest)


def edited_doc(parsed: Header | None, doc: CommentedMap, manifest: Manifest) -> bool:
    if parsed is not None:
        stage_names, top_names = decode_managed(parsed.managed)
        stages, top = current_managed(doc, stage_names, top_names)
        return digest(canonical(stages, top)) != parsed.digest
    # Compare with the manifest's own stages, not with what we add to them (the data-validation dep).
    new_stages = {name: stage.definition for name, stage in manifest.stages.items()}
    new_top = managed_top(manifest)
    stages, top = current_managed(doc, list(new_stages), list(new_top))
    return any(stages[n] != new_stages[n] for n in stages) or any(top[k] != new_top[k] for k in top)


def render(manifest: Manifest, existing: str | None) -> Rendered:
    """dvc.yaml for ``manifest``, merged into ``existing`` (the current file's text, or None)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    stages = managed_stages(manifest)
    top = managed_top(manifest)
    parsed, body = split_header(existing) if existing is not None else (None, "")
    doc = load_existing(body) if existing is not None else CommentedMap()
    previous_stages, previous_top = decode_managed(parsed.managed) if parsed else ([], [])
    was_edited = existing is not None and edited_doc(parsed, doc, manifest)  # before the merge changes doc

    stages_node = doc.get("stages")
    if stages_node is None:
        stages_node = CommentedMap()
    for name in previous_stages:
        if name not in stages and name in stages_node:
            del stages_node[name]
    keys = list(stages_node)
    for name, stage in stages.items():
        if name in stages_node and to_plain(stages_node[name]) == stage:
            continue  # unchanged: keep the node, and with it any comment written inside the stage
        if name in stages_node:
            # Comment lines written above the stage that follows belong to that stage, but the parser
            # hangs them on the end of this one: move them before replacing this one.
            following = keys[keys.index(name) + 1] if keys.index(name) + 1 < len(keys) else None
            lines = take_trailing_comment(stages_node[name])
            if lines and following is not None and following not in stages:
                stages_node.yaml_set_comment_before_after_key(following, before="\n".join(lines), indent=2)
        # New stages go last: inserting between existing ones would detach the comments that the
        # parser hung on the end of the stage before.
        stages_node[name] = to_node(stage)
    for key in previous_top:
        if key not in top and key in doc:
            del doc[key]

    merged = CommentedMap()
    ordered = [k for k in TOP_LEVEL_ORDER] + [k for k in doc if k not in TOP_LEVEL_ORDER]
    for key in ordered:
        if key == "stages":
            merged["stages"] = stages_node
        elif key in top and not (key in doc and to_plain(doc[key]) == top[key]):
            merged[key] = to_node(top[key])
        elif key in doc:
            merged[key] = doc[key]
    if getattr(doc, "ca", None) is not None and doc.ca.comment:
        merged.ca.comment = doc.ca.comment  # comments above the first key, written by the user
    for key in merged:
        if key in doc and key in doc.ca.items:
            merged.ca.items[key] = doc.ca.items[key]

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(merged, out)
    names = list(stages)
    intro = [
        f"{GENERATED_PREFIX} {__version__} from mlops.yaml: the stages {', '.join(names)}"
        + (f" and the top-level {', '.join(top)}" if top else "")
        + " come from mlops.yaml;",
        "# change them there and run `mlops-gitops generate`. Stages you add by hand are kept as they are.",
    ]
    text = (
        header(digest(canonical(stages, top)), managed=encode_managed(names, list(top)), intro=intro)
        + out.getvalue()
    )
    return Rendered(
        DVC_FILE, text, edited=lambda old: was_edited if old == existing else edited(old, manifest)
    )
